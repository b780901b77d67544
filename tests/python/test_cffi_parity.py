"""Behaviours of CFFI that code written for it relies on, each compared with
real cffi built from the same C, on both targets:

- the source sees `_CFFI_` defined; C++ sources build (the glue is C++-clean);
- an integer constant the compiler contradicts: `ffi.error` when read from a
  `set_source()` module, `VerificationError` at once from `ffi.verify()`;
- `T x[]` globals and `T x[]` / `T x[0]` members read as `T *`, or as a `T[]`
  of known length in a struct `ffi.new` made;
- ctypes shared between FFIs (a type with no struct, union or enum is one
  object), held weakly;
- `ffi.errno` around a sandboxed or native call;
- a lib's repr, `__name__`, its functions' `__module__`, `__doc__` and arity
  messages; `verify()`'s FFI and lib keep each other alive.
"""

import gc
import importlib
import sys
import warnings
import weakref

import pytest

import cffi
import wasmcffi
from conftest import load_module, normalize

TARGETS = ["wasm", "native"]

CDEF = """
    #define MACRO_SEEN ...
    #define WRONG 123
    extern int open_global[];
    extern int open_rows[][3];
    struct flex { int len; int data[]; };
    struct zero { int len; short data[0]; };
    int errno_plus_one(void);
    int add(int, int);
    int nothing(void);
    double twice(double);
"""
SOURCE = r"""
#ifdef _CFFI_
#  define MACRO_SEEN 1
#else
#  define MACRO_SEEN 0
#endif
#define WRONG 124
int open_global[4] = { 10, 20, 30, 40 };
int open_rows[2][3] = { { 1, 2, 3 }, { 4, 5, 6 } };
struct flex { int len; int data[]; };
struct zero { int len; short data[0]; };
int errno_plus_one(void) { errno += 1; return 0; }
int add(int a, int b) { return a + b; }
int nothing(void) { return 0; }
double twice(double x) { return 2 * x; }
"""


def build(folder, make_ffi, name, target=None, **kwargs):
    builder = make_ffi()
    builder.cdef(CDEF)
    if target is not None:
        kwargs["target"] = target
    builder.set_source(name, SOURCE, **kwargs)
    return load_module(builder.compile(tmpdir=str(folder)), name)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return build(tmp_path_factory.mktemp("cffi"), cffi.FFI, "_parity_cffi")


@pytest.fixture(scope="module", params=TARGETS)
def module(request, tmp_path_factory):
    target = request.param
    return build(tmp_path_factory.mktemp(target), wasmcffi.FFI, f"_parity_{target}", target)


def outcome(fn):
    try:
        return ("ok", normalize(fn()))
    except Exception as exc:  # noqa: BLE001 - the exception is the behaviour
        # A compiled module's ffi raises `ffi.error` (FFIValueError and
        # FFITypeError are also a ValueError or TypeError for cffi.FFI users).
        name = type(exc).__name__
        name = "error" if name in ("FFIError", "FFIValueError", "FFITypeError", "FFICDefError") else name
        return ("raise", name, str(exc))


CASES = {
    "module_function_stored_as_pointer": lambda ffi, lib: (lambda a: (
        a.__setitem__(0, lib.add), a[0](2, 3))[1])(ffi.new("int(*[1])(int, int)")),
    "module_function_cast_to_void_pointer_and_back": lambda ffi, lib: ffi.cast(
        "int(*)(int, int)", ffi.cast("void *", lib.add))(4, 5),
    "cffi_macro_defined": lambda ffi, lib: lib.MACRO_SEEN,
    "contradicted_constant": lambda ffi, lib: lib.WRONG,
    "open_global_is_a_pointer": lambda ffi, lib: (
        ffi.typeof(lib.open_global).cname, lib.open_global[3]),
    "open_rows_global_is_a_pointer_to_rows": lambda ffi, lib: (
        ffi.typeof(lib.open_rows).cname, lib.open_rows[1][2]),
    "flexible_member_of_a_cast_is_a_pointer": lambda ffi, lib: (
        ffi.typeof(ffi.cast("struct flex *", ffi.new("int[5]", [3, 7, 8, 9])).data).cname,
        ffi.cast("struct flex *", ffi.new("int[5]", [3, 7, 8, 9])).data[2]),
    "flexible_member_of_new_has_a_length": lambda ffi, lib: (
        ffi.typeof(ffi.new("struct flex *", [2, [5, 6]]).data).cname,
        len(ffi.new("struct flex *", [2, [5, 6]]).data)),
    "zero_length_member_is_a_pointer": lambda ffi, lib: (
        repr(ffi.typeof(ffi.cast("struct zero *", ffi.new("int[4]")).data)),
        ffi.cast("struct zero *", ffi.new("int[4]", [0, 0x00070006])).data[1]),
    "lib_names": lambda ffi, lib: (repr(lib), lib.__name__),
    "function_doc": lambda ffi, lib: (lib.twice.__doc__.split("\n")[0], lib.add.__doc__.split("\n")[0]),
    "arity_none": lambda ffi, lib: lib.nothing(1),
    "arity_one": lambda ffi, lib: lib.twice(),
    "arity_two": lambda ffi, lib: lib.add(1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_as_cffi(module, reference, case):
    fn = CASES[case]
    # Module names differ: each is spelled "M".
    mine = repr(outcome(lambda: fn(module.ffi, module.lib))).replace(module.__name__, "M")
    ref = repr(outcome(lambda: fn(reference.ffi, reference.lib))).replace(reference.__name__, "M")
    assert mine == ref


def test_function_module_names_the_module(module):
    assert module.lib.add.__module__ == module.__name__
    assert module.lib.add.__doc__.endswith(f"CFFI C function from {module.__name__}.lib")


def test_errno_travels_to_the_call_and_back(module, reference):
    for mod in (module, reference):
        mod.ffi.errno = 15
        mod.lib.errno_plus_one()
        assert mod.ffi.errno == 16


@pytest.mark.parametrize("target", TARGETS)
def test_verify_refuses_a_contradicted_constant_at_once(tmp_path, target):
    messages = []
    for ffi, kwargs in ((wasmcffi.FFI(), {"target": target, "tmpdir": str(tmp_path)}),
                        (cffi.FFI(), {"tmpdir": str(tmp_path / "cffi")})):
        ffi.cdef("#define FOO 123")
        with pytest.raises(Exception) as e, warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # cffi's verify()
            ffi.verify("#define FOO 124", **kwargs)
        assert type(e.value).__name__ == "VerificationError"
        messages.append(str(e.value).splitlines()[-1])
    assert messages[0].endswith("FOO has the real value 124, not 123")
    assert messages[1].endswith("FOO has the real value 124, not 123")


@pytest.mark.parametrize("target", TARGETS)
def test_verify_refuses_a_contradicted_struct_at_once(tmp_path, target):
    """`verify()` checks an exact struct's layout at once, in its own words
    ("we have"), where a set_source() module raises only when it is used."""
    messages = []
    for ffi, kwargs in ((wasmcffi.FFI(), {"target": target, "tmpdir": str(tmp_path)}),
                        (cffi.FFI(), {"tmpdir": str(tmp_path / "cffi")})):
        ffi.cdef("struct foo_s { char x; int y; long *z; };")
        with pytest.raises(Exception) as e, warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # cffi's verify()
            ffi.verify("struct foo_s { int y; char x; long *z; };", **kwargs)
        assert type(e.value).__name__ == "VerificationError"
        messages.append(str(e.value))
    prefix = "struct foo_s: wrong offset for field 'x' (we have 0, but C compiler says 4)"
    assert messages[0].startswith(prefix) and messages[1].startswith(prefix)


@pytest.mark.parametrize("target", TARGETS)
def test_verify_ffi_and_lib_keep_each_other_alive(tmp_path, target):
    ffi = wasmcffi.FFI()
    ffi.cdef("int foobar(void);")
    lib = ffi.verify("int foobar(void) { return 42; }", target=target, tmpdir=str(tmp_path))
    func = lib.foobar
    ffi_ref, lib_ref = weakref.ref(ffi), weakref.ref(lib)
    del ffi
    gc.collect()
    assert ffi_ref() is not None and func() == 42
    ffi = ffi_ref()
    del lib
    gc.collect()
    assert lib_ref() is not None
    del ffi, func
    gc.collect()
    assert ffi_ref() is None and lib_ref() is None


@pytest.mark.parametrize("target", TARGETS)
def test_cpp_source_builds(tmp_path, target):
    ffi = wasmcffi.FFI()
    ffi.cdef("int add(int, int); int *first(int *);")
    ffi.set_source(f"_parity_cpp_{target}", "int add(int a, int b) { return a + b; }\n"
                   "int *first(int *p) { return p; }",
                   source_extension=".cpp", target=target)
    mod = load_module(ffi.compile(tmpdir=str(tmp_path)))
    p = mod.ffi.new("int[2]", [5, 6])
    assert mod.lib.add(2, 3) == 5 and mod.lib.first(p)[1] == 6


SHARED = ["int", "long", "int *", "long * *", "double *", "int[]", "int *[17]", "void",
          "int(*)(int, int)", "long(*)(int, ...)", "FILE *"]


@pytest.mark.parametrize("impl", [wasmcffi, cffi])
def test_ctypes_shared_between_ffis(impl):
    ffi1, ffi2 = impl.FFI(), impl.FFI()
    for name in SHARED:
        assert ffi1.typeof(name) is ffi2.typeof(name), name
    ffi1.cdef("struct foo;")
    ffi2.cdef("struct foo;")
    assert ffi1.typeof("struct foo *") is not ffi2.typeof("struct foo *")
    assert ffi1.typeof("struct foo *") is ffi1.typeof("struct foo*")


@pytest.mark.parametrize("impl", [wasmcffi, cffi])
def test_ctype_of_another_ffi_works_here(impl):
    ffi1, ffi2 = impl.FFI(), impl.FFI()
    p = ffi2.new(ffi1.typeof("unsigned short **"))
    assert ffi2.typeof(p[0]) is ffi1.typeof("unsigned short *")
    a = ffi2.new("int[3]", [1, 2, 3])
    assert ffi1.addressof(a)[0][2] == 3
    assert ffi1.typeof(ffi1.addressof(a)) is ffi2.typeof("int(*)[3]")


@pytest.mark.parametrize("impl", [wasmcffi, cffi])
def test_ctypes_are_freed(impl):
    ffi = impl.FFI()
    kept = ffi.typeof("unsigned short int *")
    dropped = weakref.ref(ffi.typeof("unsigned short int ***"))
    del ffi
    gc.collect()
    assert dropped() is None
    ffi = impl.FFI()
    assert ffi.typeof(ffi.new("unsigned short int **")[0]) is kept


# ---- what the compiler is asked about exact declarations ----

MISMATCHES = {
    # (cdef, source): each is refused by both, at build time.
    "field_size": ("struct foo_s { int8_t x; ...; };", "struct foo_s { int16_t x; };"),
    "field_int_vs_float": ("struct foo_s { int x; ...; };", "struct foo_s { float x; };"),
    "field_float_vs_int": ("struct foo_s { double x; ...; };", "struct foo_s { long long x; };"),
    "global_size": ("extern short glob;", "long glob;"),
    "global_array_length": ("extern int glob[10];", "int glob[9];"),
    "global_array_item": ("extern int glob[...];", "char glob[23];"),
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("case", sorted(MISMATCHES))
def test_contradicted_declaration_refused_as_by_cffi(tmp_path, target, case):
    # wasmcffi refuses at build time; cffi, with the -Werror of its own test
    # suite, at build time or (ffi.error) when the struct is first used.
    cdef, source = MISMATCHES[case]
    for make_ffi, kwargs in ((wasmcffi.FFI, {"target": target}),
                             (cffi.FFI, {"extra_compile_args": ["-Werror"]})):
        ffi = make_ffi()
        ffi.cdef(cdef)
        ffi.set_source(f"_mismatch_{case}_{make_ffi.__module__.split('.')[0]}_{target}", source, **kwargs)
        with pytest.raises(Exception) as e:
            mod = load_module(ffi.compile(tmpdir=str(tmp_path)))
            mod.ffi.new("struct foo_s *") if "field" in case else mod.lib.glob
        assert type(e.value).__name__ in ("VerificationError", "CompileError", "error"), (make_ffi, e.value)


@pytest.mark.parametrize("target", TARGETS)
def test_signedness_of_a_field_is_not_checked(tmp_path, target):
    ffi = wasmcffi.FFI()
    ffi.cdef("struct foo_s { int x; ...; };")
    ffi.set_source(f"_signedness_{target}", "struct foo_s { unsigned x; };", target=target)
    mod = load_module(ffi.compile(tmpdir=str(tmp_path)))
    assert mod.ffi.sizeof("struct foo_s") == mod.ffi.sizeof("int")


ENUM_CDEF = "typedef enum { AA, BB } enum1_t; enum foo_e { CC = 0xffffffff };"
ENUM_SOURCE = "typedef enum { AA, XX, BB } enum1_t; enum foo_e { CC = -1 };"


@pytest.mark.parametrize("target", TARGETS)
def test_enum_values_come_from_the_compiler_as_in_cffi(tmp_path, target):
    results = []
    for make_ffi, kwargs in ((wasmcffi.FFI, {"target": target}), (cffi.FFI, {})):
        ffi = make_ffi()
        ffi.cdef(ENUM_CDEF)
        ffi.set_source(f"_enums_{make_ffi.__module__.split('.')[0]}_{target}", ENUM_SOURCE, **kwargs)
        mod = load_module(ffi.compile(tmpdir=str(tmp_path)))
        results.append((mod.lib.AA, mod.lib.BB, mod.lib.CC,
                        mod.ffi.string(mod.ffi.cast("enum1_t", 2)),
                        mod.ffi.string(mod.ffi.cast("enum1_t", 1))))
    assert results[0] == results[1] == (0, 2, -1, "BB", "1")


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("cdef, source, message", [
    ("enum ee { EE1, EE2, EE3 };", "enum ee { EE1, EE3, EE2 };", "enum ee: EE2 has the real value 2, not 1"),
    ("enum foo_e { AA=0xffffffff };", "enum foo_e { AA=-1 };",
     "enum foo_e: AA has the real value -1, not 4294967295"),
])
def test_verify_refuses_a_contradicted_enum_as_cffi(tmp_path, target, cdef, source, message):
    for ffi, kwargs in ((wasmcffi.FFI(), {"target": target, "tmpdir": str(tmp_path)}),
                        (cffi.FFI(), {"tmpdir": str(tmp_path / "cffi")})):
        ffi.cdef(cdef)
        with pytest.raises(Exception) as e, warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # cffi's verify()
            ffi.verify(source, **kwargs)
        assert type(e.value).__name__ == "VerificationError"
        assert str(e.value) == message


# ---- declarations CFFI reads in its own way ----


def build_both(tmp_path, target, name, cdef, source):
    """`source` as a wasmcffi module for `target` and as a real cffi module."""
    mods = []
    for make_ffi, kwargs in ((wasmcffi.FFI, {"target": target}), (cffi.FFI, {})):
        ffi = make_ffi()
        ffi.cdef(cdef)
        ffi.set_source(f"{name}_{make_ffi.__module__.split('.')[0]}_{target}", source, **kwargs)
        mods.append(load_module(ffi.compile(tmpdir=str(tmp_path))))
    return mods


@pytest.mark.parametrize("target", TARGETS)
def test_global_const_through_a_typedef_is_a_constant(tmp_path, target):
    for mod in build_both(tmp_path, target, "_consttd", "typedef const int const_t; const_t aaa;",
                          "typedef const int const_t;\n#define aaa 42"):
        assert mod.lib.aaa == 42
        with pytest.raises(AttributeError):
            mod.lib.aaa = 43


@pytest.mark.parametrize("target", TARGETS)
def test_address_of_a_constant_function_pointer_is_the_function(tmp_path, target):
    cdef = "int call1(int(*cb)(int)); int (*const cb1)(int);"
    source = ("int cb1(int x) { return x * 2; }\n"
              "int call1(int(*cb)(int)) { int i, r = 0; for (i = 0; i < 10; i++) r += cb(i); return r; }")
    for mod in build_both(tmp_path, target, "_constfp", cdef, source):
        ffi, lib = mod.ffi, mod.lib
        assert lib.call1(ffi.addressof(lib, "cb1")) == 90
        assert ffi.addressof(lib, "call1")(ffi.addressof(lib, "cb1")) == 90


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("cdef", ["struct a foo(int);", "typedef ... foo_t; foo_t foo(int);"])
def test_opaque_result_type_refused_as_by_cffi(tmp_path, target, cdef):
    messages = []
    for make_ffi, kwargs in ((wasmcffi.FFI, {"target": target}), (cffi.FFI, {})):
        ffi = make_ffi()
        ffi.cdef(cdef)
        ffi.set_source(f"_opaque_{make_ffi.__module__.split('.')[0]}_{target}", "?", **kwargs)
        with pytest.raises(TypeError) as e:
            ffi.compile(tmpdir=str(tmp_path))
        messages.append(str(e.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("kwargs", [{"pack": 3}, {"packed": 2}, {"packed": True, "pack": 1},
                                    {"pack": 0}, {"packed": 1}])
def test_cdef_packing_keywords_as_cffi(kwargs):
    got = []
    for ffi in (wasmcffi.FFI(), cffi.FFI()):
        try:
            ffi.cdef("struct s { char a; int b; };", **kwargs)
            got.append(("ok", ffi.sizeof("struct s")))
        except Exception as exc:  # noqa: BLE001 - the exception is the behaviour
            got.append((type(exc).__name__, str(exc)))
    assert got[0] == got[1]


def test_emit_c_code_to_a_file_object():
    import io

    for ffi in (wasmcffi.FFI(), cffi.FFI()):
        ffi.set_source("_emitted_module", "int from_the_source;")
        out = io.StringIO()
        ffi.emit_c_code(out)
        assert "_emitted_module" in out.getvalue() and "int from_the_source;" in out.getvalue()


@pytest.mark.parametrize("impl", [wasmcffi, cffi])
def test_void_callback_returning_a_value_is_reported(impl, monkeypatch):
    import sys

    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append((type(u.exc_value), str(u.exc_value))))
    ffi = impl.FFI()
    assert ffi.callback("void(*)(void)", lambda: None)() is None
    assert seen == []
    assert ffi.callback("void(*)(void)", lambda: 42)() is None
    assert seen == [(TypeError, "callback with the return type 'void' must return None")]


@pytest.mark.parametrize("impl", [wasmcffi, cffi])
def test_string_of_a_new_char_stops_at_its_end(impl):
    ffi = impl.FFI()
    assert ffi.string(ffi.new("char *", b"x")) == b"x"
    assert ffi.string(ffi.new("char *", b"\0")) == b""


@pytest.mark.parametrize("target", TARGETS)
def test_verify_relative_to_applies_to_include_dirs(tmp_path, target):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "foo.h").write_text("static int foo(int a) { return a + 42; }\n")
    ffi = wasmcffi.FFI()
    ffi.cdef("int foo(int);")
    lib = ffi.verify('#include "foo.h"', include_dirs=["."], relative_to=str(tmp_path / "inc" / "x"),
                     target=target, tmpdir=str(tmp_path / "build"))
    assert lib.foo(100) == 142
    with pytest.raises(TypeError, match="'include_dirs' should be a list or tuple"):
        wasmcffi.FFI().verify("", include_dirs=".", relative_to=str(tmp_path / "x"),
                              target=target, tmpdir=str(tmp_path / "build"))


# ---- what a libffi call can pass by value ----

LIBFFI_CDEF = """
    struct bits { int x : 5; };
    struct part { int x; ...; };
    struct bits get_bits(void);
    struct bits get_bits_v(int, ...);
    struct part get_part(void);
    struct part get_part_v(int, ...);
    static int (*const take_part)(struct part);
"""
LIBFFI_SOURCE = """
    struct bits { int x : 5; };
    struct part { int y, x; };
    struct bits get_bits(void) { struct bits s = { 11 }; return s; }
    struct bits get_bits_v(int a, ...) { (void)a; return get_bits(); }
    struct part get_part(void) { struct part s = { 1, 200 }; return s; }
    struct part get_part_v(int a, ...) { (void)a; return get_part(); }
    static int take_part_impl(struct part p) { return p.x; }
    static int (*const take_part)(struct part) = take_part_impl;
"""


@pytest.mark.parametrize("target", TARGETS)
def test_libffi_calls_refuse_what_cffi_refuses(tmp_path, target):
    """Variadic functions and function pointers are called through libffi in
    CFFI: a struct with bitfields, or one whose layout the compiler gave (`...;`),
    is refused there by value with CFFI's message, on both targets; the same
    function called in API mode works."""
    mine, theirs = build_both(tmp_path, target, "_libffi_limits", LIBFFI_CDEF, LIBFFI_SOURCE)

    def run(lib):
        return [lib.get_bits().x, lib.get_part().x,
                outcome(lambda: lib.get_bits_v(0)), outcome(lambda: lib.get_part_v(0)),
                outcome(lambda: lib.take_part([1, 2]))]

    assert run(mine.lib) == run(theirs.lib)
    assert run(mine.lib)[2][1] == "NotImplementedError"


@pytest.mark.parametrize("target", TARGETS)
def test_packed_struct_by_value_refused_in_variadic_call(tmp_path, target):
    cdef = "struct p { char c; int i; }; struct p get_p(int, ...);"
    source = "struct p { char c; int i; } __attribute__((packed));\n" \
             "struct p get_p(int a, ...) { struct p s = { 1, a }; return s; }"
    mods = []
    for make_ffi, kwargs in ((wasmcffi.FFI, {"target": target}), (cffi.FFI, {})):
        ffi = make_ffi()
        ffi.cdef(cdef, packed=True)
        ffi.set_source(f"_packed_v_{make_ffi.__module__.split('.')[0]}_{target}", source, **kwargs)
        mods.append(load_module(ffi.compile(tmpdir=str(tmp_path))))
    assert outcome(lambda: mods[0].lib.get_p(0)) == outcome(lambda: mods[1].lib.get_p(0))


@pytest.mark.parametrize("target", TARGETS)
def test_long_double_by_value(tmp_path, target):
    """`long double` arguments and results in the target's own format (x87 on
    the host, binary128 on wasm32), and a `long double` cdata passed back keeps
    its precision."""
    cdef = "long double ld_step(long double); double to_double(long double);"
    source = "long double ld_step(long double x) { return 4*x - x*x; }\n" \
             "double to_double(long double x) { return (double)x; }"
    mine, theirs = build_both(tmp_path, target, "_long_double", cdef, source)

    def run(ffi, lib):
        x = lib.ld_step(0.5)
        kept = lib.ld_step(lib.ld_step(0.25))
        return [float(x), lib.to_double(1.23), lib.to_double(x), float(kept),
                ffi.typeof(x).cname]

    assert run(mine.ffi, mine.lib) == run(theirs.ffi, theirs.lib)
    # The precision of a long double result survives being passed back.
    x, y = mine.lib.ld_step(0.9789), 0.9789
    for _ in range(3):
        x, y = mine.lib.ld_step(x), float(mine.lib.ld_step(y))
    assert float(x) != y or mine.ffi.sizeof("long double") == mine.ffi.sizeof("double")


# ---- casts ----


class _HasInt:
    def __init__(self, value):
        self.value = value

    def __int__(self):
        return self.value


CASTS = {
    "bool_of_huge_int": lambda ffi: int(ffi.cast("_Bool", 10**200)),
    "bool_of_huge_negative": lambda ffi: int(ffi.cast("_Bool", -(10**40000))),
    "bool_of_object_with_int": lambda ffi: [int(ffi.cast("_Bool", _HasInt(v))) for v in (42, 0)],
    "int_of_object_with_int": lambda ffi: int(ffi.cast("short", _HasInt(65537))),
    "bool_of_list": lambda ffi: ffi.cast("_Bool", []),
    "wide_char_of_no_code_point": lambda ffi: int(ffi.cast("long long", ffi.cast("wchar_t", -1)))
    if ffi.sizeof("wchar_t") == 4 else "n/a",
    "int_of_wide_char": lambda ffi: int(ffi.cast("int", ffi.cast("wchar_t", "\u1234"))),
}


@pytest.mark.parametrize("case", sorted(CASTS))
def test_casts_as_cffi(case):
    theirs = outcome(lambda: CASTS[case](cffi.FFI()))
    assert outcome(lambda: CASTS[case](wasmcffi.FFI())) == theirs


@pytest.mark.parametrize("target", TARGETS)
def test_partial_enum_value_needs_a_compiler_in_abi_mode(target):
    """`enum e { A, ... }` read from a dlopen() library: VerificationMissing, as
    in CFFI; a complete enum's values are known."""
    results = []
    for impl in (wasmcffi, cffi):
        ffi = impl.FFI()
        ffi.cdef("enum foo { A, ... }; enum bar { B, C };")
        lib = ffi.dlopen(None)
        results.append((lib.C, outcome(lambda: lib.A)[:2]))
    assert results[0] == results[1]
    assert results[0][1] == ("raise", "VerificationMissing")


# ---- one FFI, both of CFFI's FFI kinds ----


def test_unknown_size_errors_satisfy_both_cffi_ffi_kinds():
    """CFFI's compiled FFI raises `ffi.error` where its `cffi.FFI` raises
    ValueError (`sizeof` of an open array) or TypeError (`new` of an opaque
    struct); a wasmcffi FFI raises an exception that is both."""
    import _cffi_backend

    def kinds(ffi, fn):
        try:
            fn(ffi)
        except Exception as exc:  # noqa: BLE001 - the class is what is compared
            error = getattr(ffi, "error", _cffi_backend.FFI.error)  # cffi.FFI has none
            return {k for k, cls in (("error", error), ("ValueError", ValueError),
                                     ("TypeError", TypeError)) if isinstance(exc, cls)}
        return set()

    def sizeof(ffi):
        return ffi.sizeof("int[]")

    def new(ffi):
        if hasattr(ffi, "cdef"):
            ffi.cdef("struct opaque;")
        return ffi.new("struct opaque *")

    assert kinds(cffi.FFI(), sizeof) == {"ValueError"}
    assert kinds(_cffi_backend.FFI(), sizeof) == {"error"}
    assert kinds(wasmcffi.FFI(), sizeof) == {"error", "ValueError"}
    assert kinds(cffi.FFI(), new) == {"TypeError"}
    assert kinds(wasmcffi.FFI(), new) == {"error", "TypeError"}
    # Type strings: a function type where a pointer is needed, a negative length.
    def cast_function(ffi):
        return ffi.cast("int(int)", 42)

    def negative_length(ffi):
        return ffi.cast("int[-5]", 0)

    assert kinds(_cffi_backend.FFI(), cast_function) == kinds(_cffi_backend.FFI(), negative_length) == {"error"}
    assert kinds(cffi.FFI(), negative_length) == {"ValueError"}
    assert kinds(wasmcffi.FFI(), negative_length) == {"error", "ValueError"}
    with pytest.raises(cffi.CDefError):
        cast_function(cffi.FFI())
    with pytest.raises(wasmcffi.CDefError) as info:
        cast_function(wasmcffi.FFI())
    assert isinstance(info.value, wasmcffi.FFI.error)


@pytest.mark.parametrize("impl", [wasmcffi, cffi])
def test_partial_struct_before_verify_is_verification_missing(impl):
    ffi = impl.FFI()
    ffi.cdef("struct foo_s { int x; ...; };")
    for fn in (lambda: ffi.sizeof("struct foo_s"), lambda: ffi.offsetof("struct foo_s", "x"),
               lambda: ffi.new("struct foo_s *")):
        with pytest.raises(impl.VerificationMissing):
            fn()


@pytest.mark.parametrize("target", TARGETS)
def test_opaque_and_struct_globals_as_cffi(tmp_path, target):
    """`typedef ... t` stays opaque after the build: a global of it has only an
    address, a constant of it has no value; a `const` struct global is a
    constant (a copy, no address)."""
    cdef = ("typedef ... opaque_t; const opaque_t CONSTANT; extern opaque_t globvar;"
            "struct ss { int a; }; const struct ss SS;")
    source = ("typedef int opaque_t; const int CONSTANT = 42; opaque_t globvar = 5;"
              "struct ss { int a; }; const struct ss SS = { 7 };")
    mine, theirs = build_both(tmp_path, target, "_opaque_globals", cdef, source)

    def run(ffi, lib):
        return [outcome(lambda: ffi.sizeof("opaque_t"))[:2], outcome(lambda: lib.CONSTANT),
                outcome(lambda: lib.globvar), outcome(lambda: setattr(lib, "globvar", [])),
                ffi.typeof(ffi.addressof(lib, "globvar")).cname, lib.SS.a,
                outcome(lambda: ffi.addressof(lib, "SS"))[:2]]

    assert run(mine.ffi, mine.lib) == run(theirs.ffi, theirs.lib)


# ---- ffi.include() of a compiled module ----


@pytest.mark.parametrize("target", TARGETS)
def test_include_of_a_compiled_module_as_cffi(tmp_path, target, monkeypatch):
    """A module whose ffi includes another compiled module's: the parent's
    functions come from the parent's lib (the same objects, no glue in the
    child), and the types both name are the same objects."""
    monkeypatch.syspath_prepend(str(tmp_path))
    results = {}
    for impl, kwargs in ((wasmcffi, {"target": target}), (cffi, {})):
        tag = f"{impl.__name__}_{target}"
        parent = impl.FFI()
        parent.cdef("struct pt { int x, y; }; typedef struct pt *pt_p; int parent_add(int, int);")
        parent.set_source(f"_inc_parent_{tag}", "struct pt { int x, y; }; typedef struct pt *pt_p;\n"
                          "int parent_add(int a, int b) { return a + b; }", **kwargs)
        parent.compile(tmpdir=str(tmp_path))
        parent_mod = importlib.import_module(f"_inc_parent_{tag}")  # as the child imports it
        child = impl.FFI()
        child.include(parent)
        child.cdef("int child_sum(pt_p);")
        child.set_source(f"_inc_child_{tag}", "struct pt { int x, y; }; typedef struct pt *pt_p;\n"
                         "int child_sum(pt_p p) { return p->x + p->y; }", **kwargs)
        child.compile(tmpdir=str(tmp_path))
        child_mod = importlib.import_module(f"_inc_child_{tag}")
        ffi, lib = child_mod.ffi, child_mod.lib
        results[impl.__name__] = [
            lib.parent_add(40, 2), lib.parent_add is parent_mod.lib.parent_add,
            ffi.typeof("struct pt") is parent_mod.ffi.typeof("struct pt"),
            ffi.typeof("pt_p") is parent_mod.ffi.typeof("pt_p"),
            lib.child_sum(ffi.new("pt_p", [3, 4])),
        ]
    assert results["wasmcffi"] == results["cffi"] == [42, True, True, True, 7]


# ---- lifetimes ----


@pytest.mark.parametrize("impl", [wasmcffi, cffi])
def test_gc_with_none_removes_a_destructor(impl):
    ffi = impl.FFI()
    p = ffi.new("int *", 123)
    with pytest.raises(TypeError):
        ffi.gc(p, None)  # not an ffi.gc() result
    seen = []
    q1 = ffi.gc(p, lambda p: seen.append(1))
    q2 = ffi.gc(q1, lambda p: seen.append(2))
    assert ffi.gc(q1, None) is None
    del q1, q2
    gc.collect()
    assert seen == [2]


@pytest.mark.parametrize("impl", [wasmcffi, cffi])
@pytest.mark.parametrize("dropped", ["ffi", "lib"])
def test_ffi_and_dlopen_lib_keep_each_other_alive(impl, dropped):
    ffi = impl.FFI()
    ffi.cdef("int abs(int);")
    lib = ffi.dlopen(None)
    refs = weakref.ref(ffi), weakref.ref(lib)
    func = lib.abs
    if dropped == "ffi":
        del ffi
    else:
        del lib
    gc.collect()
    assert refs[0]() is not None and refs[1]() is not None
    assert func(-3) == 3
    ffi = lib = func = None
    gc.collect()
    assert refs[0]() is None and refs[1]() is None  # the cycle is collected


@pytest.mark.parametrize("impl", [wasmcffi, cffi])
def test_a_ctype_keeps_its_item_type_alive(impl):
    ffi = impl.FFI()
    t1, t2 = ffi.typeof("int ***"), ffi.typeof("int **")
    w1, w2 = weakref.ref(t1), weakref.ref(t2)
    del t2, ffi
    gc.collect()
    assert w1() is t1 and w2() is t1.item
    del t1
    gc.collect()
    assert w1() is None


@pytest.mark.parametrize("target", TARGETS)
def test_import_from_lib_as_cffi(tmp_path, target, monkeypatch):
    """`from module.lib import name` and `import *` from a lib, as with CFFI's
    modules; a lib claims to be a module."""
    import types

    monkeypatch.syspath_prepend(str(tmp_path))
    results = {}
    for impl, kwargs in ((wasmcffi, {"target": target}), (cffi, {})):
        name = f"_import_lib_{impl.__name__}_{target}"
        ffi = impl.FFI()
        ffi.cdef("int myfunc(int); extern int myvar;\n#define MYFOO ...\n")
        ffi.set_source(name, "int myfunc(int x) { return x + 1; }\nint myvar = -5;\n#define MYFOO 42",
                       **kwargs)
        ffi.compile(tmpdir=str(tmp_path))
        lib = importlib.import_module(name).lib
        namespace = {}
        exec(f"from {name}.lib import myfunc, myvar, MYFOO", namespace)
        star = {}
        exec(f"from {name}.lib import *", star)
        results[impl.__name__] = (
            namespace["MYFOO"], namespace["myfunc"](43), namespace["myvar"],
            sys.modules[f"{name}.lib"] is lib, lib.__all__,
            sorted(k for k in star if not k.startswith("_")),
            isinstance(lib, types.ModuleType), lib.__name__ == f"{name}.lib",
            outcome(lambda: exec(f"from {name}.lib import bar", {}))[:2])
    assert results["wasmcffi"] == results["cffi"]


@pytest.mark.parametrize("target", TARGETS)
def test_macro_global_at_null_as_cffi(tmp_path, target):
    """A global that is a macro over a function (`#define v (*get_v())`):
    read, written and addressed through the function; at NULL, ffi.error."""
    cdef = "extern int my_value; extern int *(*get_my_value)(void);\n#define ZERO 1"
    source = "int *(*get_my_value)(void);\n#define my_value (*get_my_value())\n#define ZERO 0"
    mine, theirs = build_both(tmp_path, target, "_macro_global", cdef, source)

    def run(ffi, lib):
        values = ffi.new("int[2]", [41, 0])
        # The callbacks are kept alive while C may call them, as CFFI needs.
        good = ffi.callback("int *(*)(void)", lambda: values)
        lib.get_my_value = good
        found = [lib.my_value, ffi.addressof(lib, "my_value")[0]]
        lib.my_value = 42
        found.append(values[0])
        null = ffi.callback("int *(*)(void)", lambda: ffi.NULL)
        lib.get_my_value = null
        return found + [outcome(lambda: lib.my_value), outcome(lambda: setattr(lib, "my_value", 5)),
                        outcome(lambda: ffi.addressof(lib, "my_value")), outcome(lambda: lib.ZERO)]

    assert run(mine.ffi, mine.lib) == run(theirs.ffi, theirs.lib)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("cdef", ["struct a { struct b b; };", "struct a { struct b b[2]; };"])
def test_field_of_opaque_type_refused_as_cffi(tmp_path, target, cdef):
    results = []
    for impl, kwargs in ((wasmcffi, {"target": target}), (cffi, {})):
        ffi = impl.FFI()
        ffi.cdef(cdef)
        ffi.set_source(f"_opaque_field_{impl.__name__}", "?", **kwargs)
        results.append(outcome(lambda: ffi.compile(tmpdir=str(tmp_path))))
    assert results[0] == results[1]
    assert results[0][1] == "TypeError"


@pytest.mark.parametrize("target", TARGETS)
def test_enumerator_in_two_enums_as_cffi(tmp_path, target):
    """cdef() takes the same enumerator (same value) in two enums; a module
    cannot have it twice: VerificationError when compiled, as in CFFI."""
    results = []
    for impl, kwargs in ((wasmcffi, {"target": target}), (cffi, {})):
        ffi = impl.FFI()
        ffi.cdef("enum e1 { A1, ... }; enum e2 { A1, ... };")
        accepted = outcome(lambda: ffi.cdef("#define B1 0\nenum e3 { B1 };"))
        ffi.set_source(f"_dup_enum_{impl.__name__}", "enum e1 { A1 }; enum e2 { B1 };", **kwargs)
        results.append((accepted, outcome(lambda: ffi.compile(tmpdir=str(tmp_path)))[:2]))
    assert results[0] == results[1]
    assert results[0][1] == ("raise", "VerificationError")


@pytest.mark.parametrize("target", TARGETS)
def test_partial_enum_has_the_compilers_size(tmp_path, target):
    """`enum e { A, ... }` whose omitted enumerators need 8 bytes: the
    compiler's size and signedness, as CFFI asks it."""
    cdef = "enum e1 { B1, A1, ... }; enum e2 { B2, A2, ... };"
    source = "enum e1 { A1, B1, C1 = 0x7fffffffffffffffLL }; enum e2 { A2, B2, C2 };"
    mine, theirs = build_both(tmp_path, target, "_partial_enum_size", cdef, source)

    def run(ffi, lib):
        return [lib.A1, lib.B1, lib.A2, lib.B2, ffi.sizeof("enum e1"), ffi.sizeof("enum e2"),
                repr(ffi.cast("enum e1", 0)), int(ffi.cast("enum e1", -1)) < 0]

    assert run(mine.ffi, mine.lib) == run(theirs.ffi, theirs.lib)
    assert run(mine.ffi, mine.lib)[4:6] == [8, 4]  # also on wasm32, where long is 4


@pytest.mark.parametrize("target", TARGETS)
def test_address_of_function_has_the_cdef_signature(tmp_path, target):
    """`ffi.addressof(lib, "f")` points to a wrapper with the cdef's signature,
    as CFFI's: called through it, a function C defines with narrower types
    still gets and returns what the cdef says."""
    cdef = "long myfunc(long x);"
    source = "char myfunc(char x) { return (char)(x + 42); }"
    mine, theirs = build_both(tmp_path, target, "_addr_sig", cdef, source)

    def run(ffi, lib):
        addr = ffi.addressof(lib, "myfunc")
        return [lib.myfunc(5), lib.myfunc(0xABC05), addr(5), addr(0xABC05), ffi.typeof(addr).cname]

    assert run(mine.ffi, mine.lib) == run(theirs.ffi, theirs.lib)


@pytest.mark.parametrize("target", TARGETS)
def test_complex_by_value_in_api_mode(tmp_path, target):
    """Complex numbers by value work in API mode on both targets (natively
    through the glue: libffi cannot pass them), as in CFFI."""
    cdef = "double _Complex twice_c(double _Complex); float _Complex conj_f(float _Complex);"
    source = ("#include <complex.h>\n"
              "double _Complex twice_c(double _Complex z) { return 2 * z; }\n"
              "float _Complex conj_f(float _Complex z) { return conjf(z); }")
    mine, theirs = build_both(tmp_path, target, "_complex_api", cdef, source)

    def run(ffi, lib):
        return [lib.twice_c(1.5 + 2j), lib.conj_f(3 - 4j)]

    assert run(mine.ffi, mine.lib) == run(theirs.ffi, theirs.lib) == [3 + 4j, 3 + 4j]


@pytest.mark.parametrize("target", TARGETS)
def test_long_double_beyond_double_range(tmp_path, target):
    """A `long double` too small for a double keeps its value: its repr shows
    it, a `_Bool` cast is true, `float()` gives 0.0, as in CFFI."""
    cdef = "long double square(long double f);"
    source = "long double square(long double f) { return f*f; }"
    mine, theirs = build_both(tmp_path, target, "_ld_range", cdef, source)

    def run(ffi, lib):
        tiny, tinier, zero = lib.square(2e-250), lib.square(1e-250), lib.square(0.0)
        return [repr(tiny) != repr(tinier), float(tiny), int(ffi.cast("_Bool", tiny)),
                int(ffi.cast("_Bool", zero)), repr(lib.square(1.5))]

    assert run(mine.ffi, mine.lib) == run(theirs.ffi, theirs.lib)
    mine_repr = repr(mine.lib.square(1e-250))
    assert "E-500" in mine_repr, mine_repr
    if target == "native":  # the same format, as CFFI's (x87 on both)
        assert mine_repr == repr(theirs.lib.square(1e-250))


@pytest.mark.parametrize("impl", [wasmcffi, cffi])
def test_function_type_with_opaque_struct_by_value_refused(impl):
    ffi = impl.FFI()
    ffi.cdef("typedef ... foo_t; struct foo_s { void (*x)(foo_t); }; struct bar;")
    cases = [(ffi.new, "struct foo_s *", "ctype 'foo_t' has incomplete type"),
             (ffi.typeof, "void(*)(struct bar)", "ctype 'struct bar' has incomplete type"),
             (ffi.typeof, "struct bar(*)(int)", "result type 'struct bar' is not yet initialized")]
    for use, cdecl, message in cases:
        with pytest.raises(TypeError) as info:
            use(cdecl)
        assert str(info.value) == message
    assert ffi.typeof("void(*)(struct bar *)").cname == "void(*)(struct bar *)"


@pytest.mark.parametrize("impl", [wasmcffi, cffi])
def test_opaque_enum_is_unsigned_int_with_a_warning(impl):
    ffi = impl.FFI()
    ffi.cdef("enum foo;")
    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("always")
        n = ffi.cast("enum foo", -1)
    assert int(n) == 0xffffffff
    assert str(log[0].message) == ("'enum foo' has no values explicitly defined; "
                                   "guessing that it is equivalent to 'unsigned int'")


@pytest.mark.parametrize("target", TARGETS)
def test_float_dotdotdot_that_is_long_double_fails_when_used(tmp_path, target):
    """`typedef double... t;` that C defines as `long double`: the module
    loads; what uses `t` raises ffi.error with CFFI's message."""
    mine, theirs = build_both(tmp_path, target, "_float_ld", "typedef double... foo_t; foo_t neg(foo_t); int one(void);",
                              "typedef long double foo_t;\nfoo_t neg(foo_t x) { return -x; }\nint one(void) { return 1; }")
    for mod in (mine, theirs):
        assert mod.lib.one() == 1
    assert outcome(lambda: mine.lib.neg) == outcome(lambda: theirs.lib.neg)
    assert outcome(lambda: mine.lib.neg)[1] == "error"


@pytest.mark.parametrize("target", TARGETS)
def test_pack_n_refused_in_api_mode_as_cffi(tmp_path, target):
    """`pack=N` (N > 1) is ABI mode only, as CFFI documents: a compiled module
    refuses it (`packed=True` is taken)."""
    results = []
    for impl, kwargs in ((wasmcffi, {"target": target}), (cffi, {})):
        ffi = impl.FFI()
        ffi.cdef("struct foo { char y; int x; };", pack=2)
        ffi.set_source(f"_pack_api_{impl.__name__}", "", **kwargs)
        results.append(outcome(lambda: ffi.compile(tmpdir=str(tmp_path))))
    assert results[0] == results[1]
    assert results[0][1] == "NotImplementedError"


@pytest.mark.parametrize("target", TARGETS)
def test_include_of_an_opaque_struct_completed_later_as_cffi(tmp_path, target, monkeypatch):
    """A struct opaque in the included module's cdef but given fields by the
    including one: CFFI refuses to use it (the two would disagree)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    results = []
    for impl, kwargs in ((wasmcffi, {"target": target}), (cffi, {})):
        tag = f"{impl.__name__}_{target}"
        parent = impl.FFI()
        parent.cdef("struct foo_s;")
        parent.set_source(f"_inc8_parent_{tag}", "struct foo_s;", **kwargs)
        parent.compile(tmpdir=str(tmp_path))
        importlib.import_module(f"_inc8_parent_{tag}")
        child = impl.FFI()
        child.include(parent)
        child.cdef("struct foo_s { int x, y; };")
        child.set_source(f"_inc8_child_{tag}", "struct foo_s { int x, y; };", **kwargs)
        child.compile(tmpdir=str(tmp_path))
        ffi = importlib.import_module(f"_inc8_child_{tag}").ffi
        results.append(outcome(lambda: ffi.new("struct foo_s *")))
    assert results[0] == results[1]
    assert results[0][1] == "NotImplementedError"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("cdef", ["typedef int... t1;", "typedef double ... t1;"])
def test_verify_refuses_dotdotdot_primitives_as_cffi(tmp_path, target, cdef):
    """`typedef int... t` is settled by the compiler in set_source() modules
    only: verify() refuses it with CFFI's message."""
    results = []
    for ffi, kwargs in ((wasmcffi.FFI(), {"target": target, "tmpdir": str(tmp_path)}),
                        (cffi.FFI(), {"tmpdir": str(tmp_path / "cffi")})):
        ffi.cdef(cdef)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # cffi's verify()
            results.append(outcome(lambda: ffi.verify("", **kwargs)))
    assert results[0] == results[1]
    assert results[0][1] == "VerificationError"
