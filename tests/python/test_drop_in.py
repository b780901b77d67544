"""Drop-in CFFI: what lets code written for CFFI build and run unchanged.

- `set_source()` takes every setuptools `Extension` keyword (and refuses, on
  wasm, a host library the sandbox cannot have);
- the user's C sees what CFFI's generated C makes visible (stdint, stddef,
  string.h, stdlib.h, wchar_t) without an #include of its own;
- a C compile failure is a `VerificationError`;
- `ffi.verify()`, CFFI's older in-line API mode;
- out-of-line ABI mode: `set_source(name, None)`, `emit_python_code()`, and
  `ffi.integer_const()`;
- bytes for `void *` and one-byte-integer pointer parameters;
- `ffi.new_allocator()` with Python or C `alloc` / `free`.

Every behaviour runs on both targets, the module built for the wasm sandbox
and natively (the `module` fixture), and where CFFI has the same API, against
real cffi built from the same C (the `reference` fixture).
"""

import ctypes
import gc
import os
import shlex
import subprocess
import warnings

import pytest

import cffi
import wasmcffi
from conftest import Pair, build_cffi_reference, load_module, outcome
from wasmcffi import build as wasmcffi_build

TARGETS = ["wasm", "native"]

#: The warning flags of CFFI's own test suite (testing/cffi1/test_recompiler.py):
#: the generated C must compile cleanly with them.
STRICT_FLAGS = ["-Werror", "-Wall", "-Wextra", "-Wconversion", "-Wno-unused-parameter"]

# ---- the module under test: C in three parts ----

#: Uses what CFFI's generated C makes visible, with no #include of its own
#: (CFFI's C includes <Python.h>, <stddef.h> and <stdint.h> before the source).
PRELUDE_CDEF = """
    size_t my_strlen(const char *);
    int64_t fixed_sum(int8_t, uint8_t, int16_t, uint16_t, int32_t, uint32_t, int64_t, uint64_t);
    int_least16_t least_twice(int_least16_t);
    uint_fast64_t fast_next(uint_fast64_t);
    intptr_t distance(const char *, const char *);
    wchar_t wide_next(wchar_t);
    size_t wide_len(const wchar_t *);
    size_t wchar_size(void);
    char *dup_string(const char *);
    void free_string(char *);
"""
PRELUDE_SOURCE = r"""
size_t my_strlen(const char *s) { return strlen(s); }
int64_t fixed_sum(int8_t a, uint8_t b, int16_t c, uint16_t d, int32_t e, uint32_t f, int64_t g, uint64_t h)
{
    return (int64_t)a + (int64_t)b + (int64_t)c + (int64_t)d + (int64_t)e + (int64_t)f + g + (int64_t)h;
}
int_least16_t least_twice(int_least16_t x) { return (int_least16_t)(x * 2); }
uint_fast64_t fast_next(uint_fast64_t x) { return x + 1u; }
intptr_t distance(const char *a, const char *b) { return (intptr_t)(b - a); }
wchar_t wide_next(wchar_t c) { return c + 1; }
size_t wide_len(const wchar_t *s) { return wcslen(s); }
size_t wchar_size(void) { return sizeof(wchar_t); }
char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}
void free_string(char *p) { free(p); }
"""

#: Bytes arguments (every pointer type CFFI passes a bytes object to) and a
#: C allocator counting its calls.
BYTES_ALLOC_CDEF = """
    unsigned sum_void(void *, size_t);
    unsigned sum_const_void(const void *, size_t);
    int sum_char(char *, size_t);
    unsigned sum_uchar(unsigned char *, size_t);
    int sum_schar(signed char *, size_t);
    unsigned sum_uint8(uint8_t *, size_t);
    int first_int(int *);
    struct x { int a; double b; };
    void *my_alloc(size_t);
    void my_free(void *);
    int n_allocs(void);
    int n_frees(void);
"""
BYTES_ALLOC_SOURCE = r"""
struct x { int a; double b; };
unsigned sum_void(void *p, size_t n)
{
    const unsigned char *q = p; unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += q[i];
    return s;
}
unsigned sum_const_void(const void *p, size_t n)
{
    const unsigned char *q = p; unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += q[i];
    return s;
}
int sum_char(char *p, size_t n) { int s = 0; for (size_t i = 0; i < n; i++) s += p[i]; return s; }
unsigned sum_uchar(unsigned char *p, size_t n) { unsigned s = 0; for (size_t i = 0; i < n; i++) s += p[i]; return s; }
int sum_schar(signed char *p, size_t n) { int s = 0; for (size_t i = 0; i < n; i++) s += p[i]; return s; }
unsigned sum_uint8(uint8_t *p, size_t n) { unsigned s = 0; for (size_t i = 0; i < n; i++) s += p[i]; return s; }
int first_int(int *p) { return p[0]; }
static int allocs, frees;
void *my_alloc(size_t n) { allocs++; return malloc(n); }
void my_free(void *p) { frees++; free(p); }
int n_allocs(void) { return allocs; }
int n_frees(void) { return frees; }
"""

#: A function returning a pointer into its `const char *` argument.
FIND_CDEF = "const char *find(const char *, char);"
FIND_SOURCE = "const char *find(const char *s, char c) { return strchr(s, c); }\n"

#: What the setuptools keywords bring: macros, a header from `include_dirs`, a
#: function from `sources`, one from `extra_objects`, sqrt from `libraries`.
KEYWORDS_CDEF = """
    int has_foo(void);
    int bar_value(void);
    int has_baz(void);
    #define HEADER_VALUE ...
    #define EXTRA_VALUE ...
    int from_extra_source(int);
    int from_extra_object(int);
    double root(double);
"""
KEYWORDS_SOURCE = r"""
#include "dropin_header.h"
int from_extra_source(int);
int from_extra_object(int);
int has_foo(void)
{
#ifdef FOO
    return 1;
#else
    return 0;
#endif
}
int bar_value(void) { return BAR; }
int has_baz(void)
{
#ifdef BAZ
    return 1;
#else
    return 0;
#endif
}
double root(double x) { return sqrt(x); }
"""
HEADER = "#define HEADER_VALUE 1234\n"
EXTRA_SOURCE = "int from_extra_source(int x);\nint from_extra_source(int x) { return x + 1000; }\n"
EXTRA_OBJECT_SOURCE = "int from_extra_object(int x);\nint from_extra_object(int x) { return x * 7; }\n"

CDEF = PRELUDE_CDEF + BYTES_ALLOC_CDEF + FIND_CDEF + KEYWORDS_CDEF
SOURCE = PRELUDE_SOURCE + BYTES_ALLOC_SOURCE + FIND_SOURCE + KEYWORDS_SOURCE

#: FOO is defined, then undefined by undef_macros (-U comes after -D, as in
#: setuptools); BAZ is defined with no value.
MACROS = {"define_macros": [("FOO", "1"), ("BAR", "42"), ("BAZ", None)], "undef_macros": ["FOO"]}


@pytest.fixture(scope="module")
def c_files(tmp_path_factory):
    """The header, the extra source and the extra objects (one per target,
    built by that target's compiler) the module's keywords name."""
    root = tmp_path_factory.mktemp("c_files")
    include = root / "include"
    include.mkdir()
    (include / "dropin_header.h").write_text(HEADER)
    (root / "extra.c").write_text(EXTRA_SOURCE)
    (root / "object.c").write_text(EXTRA_OBJECT_SOURCE)
    objects = {}
    for target in TARGETS:
        obj = root / f"object_{target}.o"
        flags = ["--target=wasm32-wasi"] if target == "wasm" else ["-fPIC"]
        cmd = wasmcffi_build.compiler_command(target) + flags + ["-O2", "-c", str(root / "object.c"), "-o", str(obj)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        objects[target] = str(obj)
    return {"include": str(include), "extra": str(root / "extra.c"), "objects": objects, "root": str(root)}


def every_keyword(c_files, target):
    """Every setuptools `Extension` keyword, each with a value that matters
    where the target can use it."""
    return dict(
        MACROS,
        sources=[c_files["extra"]],
        include_dirs=[c_files["include"]],
        library_dirs=[c_files["root"]],
        # On wasm the guest's libc is every one of these: nothing to link.
        libraries=["m", "c", "dl", "pthread", "rt"] if target == "wasm" else ["m"],
        runtime_library_dirs=[c_files["root"]],
        extra_objects=[c_files["objects"][target]],
        extra_compile_args=["-DEXTRA_VALUE=5"],
        extra_link_args=[],
        export_symbols=[],
        swig_opts=[],
        depends=[os.path.join(c_files["include"], "dropin_header.h")],
        language="c",
        optional=False,
        py_limited_api=False,
    )


def build(tmp_path, target, name, cdef, source, **kwargs):
    ffibuilder = wasmcffi.FFI()
    ffibuilder.cdef(cdef)
    ffibuilder.set_source(name, source, target=target, **kwargs)
    mod = load_module(ffibuilder.compile(tmpdir=str(tmp_path)))
    mod.target = target
    return mod


@pytest.fixture(scope="module")
def modules(tmp_path_factory, c_files):
    """The module built once per target, on first use: {target: module}."""
    built = {}

    def get(target):
        if target not in built:
            built[target] = build(tmp_path_factory.mktemp(target), target, f"_dropin_{target}",
                                  CDEF, SOURCE, **every_keyword(c_files, target))
        return built[target]

    return get


@pytest.fixture(scope="module", params=TARGETS)
def module(request, modules):
    return modules(request.param)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, c_files):
    """The same C as a real cffi API-mode extension, with the same keywords;
    built with CFFI's strict warning flags, so the C itself is known to be clean."""
    ffibuilder = cffi.FFI()
    ffibuilder.cdef(CDEF)
    kwargs = every_keyword(c_files, "native")
    kwargs["extra_compile_args"] = kwargs["extra_compile_args"] + STRICT_FLAGS
    ffibuilder.set_source("_dropin_cffi", SOURCE, **kwargs)
    return load_module(ffibuilder.compile(tmpdir=str(tmp_path_factory.mktemp("cffi"))))


def same_as_reference(module, reference, fn, messages=True):
    """Asserts `fn(ffi, lib)` gives the same outcome on the module and on cffi
    (the same value, or the same exception type and, if `messages`, message)."""
    mine = outcome(lambda _: fn(module.ffi, module.lib), None)
    ref = outcome(lambda _: fn(reference.ffi, reference.lib), None)
    if not messages and mine[0] == "raise":
        mine, ref = mine[:2], ref[:2]
    assert mine == ref, f"{module.target}: {mine} vs cffi {ref}"
    return mine


# ---- 1. set_source() keywords ----

KEYWORD_CASES = {
    # undef_macros really undefines (FOO is in define_macros too).
    "define_undef_macros": lambda ffi, lib: (lib.has_foo(), lib.bar_value(), lib.has_baz()),
    "include_dirs": lambda ffi, lib: lib.HEADER_VALUE,
    "extra_compile_args": lambda ffi, lib: lib.EXTRA_VALUE,
    "sources": lambda ffi, lib: lib.from_extra_source(1),
    "extra_objects": lambda ffi, lib: lib.from_extra_object(6),
    "libraries": lambda ffi, lib: lib.root(2.0),
    # ffi.integer_const() on a compiled module: a `#define X ...` the compiler completed.
    "integer_const_completed": lambda ffi, lib: (ffi.integer_const("HEADER_VALUE"), ffi.integer_const("EXTRA_VALUE")),
}


@pytest.mark.parametrize("case", sorted(KEYWORD_CASES))
def test_extension_keywords_same_as_cffi(module, reference, case):
    fn = KEYWORD_CASES[case]
    if case == "integer_const_completed":
        # cffi's FFI has no integer_const(): its lib's values are the reference.
        mine = fn(module.ffi, module.lib)
        assert mine == (reference.lib.HEADER_VALUE, reference.lib.EXTRA_VALUE) == (1234, 5)
        return
    same_as_reference(module, reference, fn)


@pytest.mark.parametrize("target", TARGETS)
def test_set_source_unknown_keyword_is_a_type_error(target):
    # setuptools' Extension only warns about an unknown option (and CFFI passes
    # them on at compile time): wasmcffi refuses it at once.
    ffi = wasmcffi.FFI()
    with pytest.raises(TypeError, match="no_such_option"):
        ffi.set_source("_unknown", "", target=target, no_such_option=1)


@pytest.mark.parametrize("target", TARGETS)
def test_set_source_twice_same_as_cffi(target):
    # CFFI: "set_source() cannot be called several times per ffi object".
    def twice(ffi):
        kw = {"target": target} if isinstance(ffi, wasmcffi.FFI) else {}
        ffi.set_source("_once", "", **kw)
        ffi.set_source("_twice", "", **kw)

    Pair("int f(int);").same(twice)


@pytest.mark.parametrize("target", TARGETS)
def test_host_library_refused_only_on_wasm(target):
    ffi = wasmcffi.FFI()
    ffi.cdef("int f(int);")
    if target == "native":
        ffi.set_source("_zlib_native", "", target=target, libraries=["z"])  # a host library: linked
        return
    with pytest.raises(ValueError) as info:
        ffi.set_source("_zlib_wasm", "", target=target, libraries=["m", "z"])
    message = str(info.value)
    assert "libraries" in message and "'z'" in message and "'wasm'" in message


STRICT_CDEF = PRELUDE_CDEF + BYTES_ALLOC_CDEF


@pytest.mark.parametrize("target", TARGETS)
def test_compiles_with_cffis_strict_warning_flags(tmp_path, target):
    # CFFI's generated C compiles with -Werror -Wall -Wextra -Wconversion (the
    # reference fixture builds the same C so); so must wasmcffi's glue.
    mod = build(tmp_path, target, f"_strict_{target}", STRICT_CDEF, PRELUDE_SOURCE + BYTES_ALLOC_SOURCE,
                extra_compile_args=STRICT_FLAGS)
    assert mod.lib.fixed_sum(-1, 2, -3, 4, -5, 6, -7, 8) == 4
    assert mod.lib.my_strlen(b"strict") == 6


@pytest.mark.parametrize("target", TARGETS)
def test_const_pointer_result_compiles_with_strict_flags(tmp_path, target):
    # A function returning `const char *`: CFFI's glue keeps the const, so the
    # module compiles with -Werror -Wall (no "discards qualifiers" warning).
    ref = cffi.FFI()
    ref.cdef(FIND_CDEF)
    ref.set_source("_strict_find_cffi", FIND_SOURCE, extra_compile_args=STRICT_FLAGS)
    ref_mod = load_module(ref.compile(tmpdir=str(tmp_path / "cffi")))
    mod = build(tmp_path / target, target, f"_strict_find_{target}", FIND_CDEF, FIND_SOURCE,
                extra_compile_args=STRICT_FLAGS)
    for m in (mod, ref_mod):
        assert m.lib.find(b"abc", b"z") == m.ffi.NULL


# ---- 2. the prelude: what CFFI's generated C makes visible ----

PRELUDE_CASES = {
    "strlen": lambda ffi, lib: lib.my_strlen(b"sandbox"),
    "fixed_width": lambda ffi, lib: lib.fixed_sum(-128, 255, -32768, 65535, -2**31, 2**32 - 1, -2**40, 2**40),
    "fixed_width_overflow": lambda ffi, lib: lib.fixed_sum(128, 0, 0, 0, 0, 0, 0, 0),
    "least": lambda ffi, lib: lib.least_twice(-300),
    "fast": lambda ffi, lib: lib.fast_next(2**64 - 2),
    "intptr": lambda ffi, lib: (lambda a: lib.distance(a, a + 3))(ffi.new("char[]", b"abcdef")),
    "wchar": lambda ffi, lib: (lib.wide_next("a"), lib.wide_len("h\xe9llo \u20ac")),
    "wchar_size": lambda ffi, lib: lib.wchar_size() == ffi.sizeof("wchar_t"),
    "malloc": lambda ffi, lib: (lambda p: (ffi.string(p), lib.free_string(p))[0])(lib.dup_string(b"copied")),
}


@pytest.mark.parametrize("case", sorted(PRELUDE_CASES))
def test_prelude_same_as_cffi(module, reference, case):
    # Exception types only, as in test_api_mode.py: CFFI's API mode words an
    # argument's overflow with its own names of the types ('8-bit int').
    same_as_reference(module, reference, PRELUDE_CASES[case], messages=False)


# ---- 3. compile errors ----

BROKEN_CDEF = "int add(int, int);"
BROKEN_SOURCE = "int add(int a, int b) { return a + nope; }"


@pytest.mark.parametrize("target", TARGETS)
def test_compile_error_is_a_verification_error(tmp_path, target, capfd):
    # CFFI raises VerificationError when its compiler fails (the compiler's
    # output goes to stderr); wasmcffi's message holds that output.
    ref = cffi.FFI()
    ref.cdef(BROKEN_CDEF)
    ref.set_source("_broken_cffi", BROKEN_SOURCE)
    with pytest.raises(cffi.VerificationError):
        ref.compile(tmpdir=str(tmp_path / "cffi"))
    ffi = wasmcffi.FFI()
    ffi.cdef(BROKEN_CDEF)
    ffi.set_source(f"_broken_{target}", BROKEN_SOURCE, target=target)
    with pytest.raises(wasmcffi.VerificationError, match="nope"):
        ffi.compile(tmpdir=str(tmp_path / target))
    with pytest.raises(wasmcffi.VerificationError, match="nope"):
        wasmcffi.FFI().verify(BROKEN_SOURCE, target=target, tmpdir=str(tmp_path / "verify"))
    capfd.readouterr()


# ---- 4. ffi.verify() ----

VERIFY_CDEF = """
    struct s { int a; ...; };
    #define ANSWER ...
    int bump(void);
    int get_a(struct s *);
    size_t size_of_s(void);
    size_t offset_of_a(void);
    size_t pointer_size(void);
    double root(double);
"""
VERIFY_SOURCE = r"""
struct s { char pad[12]; int a; long tail; };
#define ANSWER 42
static int count;
int bump(void) { count += STEP; return count; }
int get_a(struct s *p) { return p->a; }
size_t size_of_s(void) { return sizeof(struct s); }
size_t offset_of_a(void) { return offsetof(struct s, a); }
size_t pointer_size(void) { return sizeof(void *); }
double root(double x) { return sqrt(x); }
"""
VERIFY_KWARGS = {"define_macros": [("STEP", "1")], "libraries": ["m"]}


def verified(ffi, lib):
    """What a verified ffi and lib give: the ffi's layout is the compiled one's."""
    return (
        ffi.sizeof("struct s") == lib.size_of_s(),
        ffi.offsetof("struct s", "a") == lib.offset_of_a(),
        ffi.sizeof("void *") == lib.pointer_size(),
        ffi.sizeof(ffi.cast("long", 0)) == ffi.sizeof("long"),
        lib.get_a(ffi.new("struct s *", {"a": 7})),
        lib.ANSWER,
        lib.root(9.0),
        ffi.string(ffi.cast("char *", ffi.new("char[]", b"ok"))),
        ffi.NULL == ffi.cast("void *", 0),
    )


@pytest.fixture(scope="module")
def cffi_verified(tmp_path_factory):
    """cffi's own `verify()` of the same cdef and source (run once: a second
    cffi verify of the same source in one process warns about reimporting)."""
    pytest.importorskip("setuptools")
    ffi = cffi.FFI()
    ffi.cdef(VERIFY_CDEF)
    before = outcome(lambda f: f.sizeof("struct s"), ffi)
    with warnings.catch_warnings():
        # cffi's verifier imports the deprecated `imp` module.
        warnings.simplefilter("ignore", DeprecationWarning)
        lib = ffi.verify(VERIFY_SOURCE, tmpdir=str(tmp_path_factory.mktemp("cffi_verify")), **VERIFY_KWARGS)
    return before, outcome(lambda f: verified(f, lib), ffi)


@pytest.mark.parametrize("target", TARGETS)
def test_verify_binds_the_ffi_to_the_compiled_module(tmp_path, target, cffi_verified):
    ffi = wasmcffi.FFI()
    ffi.cdef(VERIFY_CDEF)
    # Before verify(), a struct with `...` has no size (as in CFFI).
    before = outcome(lambda f: f.sizeof("struct s"), ffi)
    lib = ffi.verify(VERIFY_SOURCE, target=target, tmpdir=str(tmp_path), **VERIFY_KWARGS)
    after = outcome(lambda f: verified(f, lib), ffi)
    assert after == ("ok", (True,) * 4 + (7, 42, 3.0, b"ok", True))
    ref_before, ref_after = cffi_verified
    assert before[0] == ref_before[0] == "raise"
    assert after == ref_after
    if target == "wasm":
        # The ffi now has the sandbox's data model.
        assert ffi.sizeof("long") == ffi.sizeof("int") == ffi.sizeof("void *")


def snapshot(folder):
    return {p.name: p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.mark.parametrize("target", TARGETS)
def test_verify_reuses_the_build_and_gives_a_fresh_instance(tmp_path, target):
    first = wasmcffi.FFI()
    first.cdef(VERIFY_CDEF)
    lib1 = first.verify(VERIFY_SOURCE, target=target, tmpdir=str(tmp_path), **VERIFY_KWARGS)
    assert (lib1.bump(), lib1.bump()) == (1, 2)
    files = snapshot(tmp_path)
    assert any(name.endswith(".c") for name in files)
    second = wasmcffi.FFI()
    second.cdef(VERIFY_CDEF)
    lib2 = second.verify(VERIFY_SOURCE, target=target, tmpdir=str(tmp_path), **VERIFY_KWARGS)
    assert snapshot(tmp_path) == files  # nothing rebuilt, nothing rewritten
    assert verified(second, lib2)[:4] == (True,) * 4
    if target == "wasm":
        # Each verify() loads its own instance: the C's globals start afresh.
        # (CFFI, natively, returns the library already loaded in the process.)
        assert lib2.bump() == 1
        assert lib1.bump() == 3


@pytest.mark.parametrize("target", TARGETS)
def test_verify_other_inputs_rebuild(tmp_path, target):
    # A different source is a different module in the same tmpdir.
    ffi = wasmcffi.FFI()
    ffi.cdef("int f(void);")
    assert ffi.verify("int f(void) { return 1; }", target=target, tmpdir=str(tmp_path)).f() == 1
    other = wasmcffi.FFI()
    other.cdef("int f(void);")
    assert other.verify("int f(void) { return 2; }", target=target, tmpdir=str(tmp_path)).f() == 2
    assert len([p for p in tmp_path.iterdir() if p.suffix == ".py"]) == 2


@pytest.mark.parametrize("target", TARGETS)
def test_verify_builds_in_cffi_tmpdir(tmp_path, target, monkeypatch):
    # As CFFI: with no tmpdir=, $CFFI_TMPDIR.
    monkeypatch.setenv("CFFI_TMPDIR", str(tmp_path))
    ffi = wasmcffi.FFI()
    ffi.cdef("int g(int);")
    assert ffi.verify("int g(int x) { return -x; }", target=target).g(5) == -5
    assert any(p.suffix == ".py" for p in tmp_path.iterdir())


# ---- 5. out-of-line ABI mode ----

ABI_CDEF = """
    int triple(int);
    int pt_sum(struct pt *);
    #define LIMIT 17
    static const int MAXV = -5;
    enum color { RED, GREEN = 10, BLUE };
    struct pt { int x, y; };
"""
ABI_LIB_SOURCE = """
struct pt { int x, y; };
const int const_answer = 4321;
const char *const const_hello = "hello";
int triple(int x) { return 3 * x; }
int pt_sum(struct pt *p) { return p->x + p->y; }
"""


@pytest.fixture(scope="module")
def abi_lib(tmp_path_factory):
    """A small host shared library (built as conftest's `build_abi_testlib`)."""
    out_dir = tmp_path_factory.mktemp("abi_lib")
    src = out_dir / "dropin_abi.c"
    src.write_text(ABI_LIB_SOURCE)
    out = str(out_dir / "libdropin_abi.so")
    cc = shlex.split(os.environ.get("CC") or "cc")
    done = subprocess.run([*cc, "-shared", "-fPIC", "-O2", str(src), "-o", out], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out


def use_abi_module(ffi, lib):
    return (lib.triple(14), lib.pt_sum(ffi.new("struct pt *", [3, 4])), lib.LIMIT, lib.MAXV, lib.GREEN,
            lib.BLUE, ffi.sizeof("struct pt") == 2 * ffi.sizeof("int"))


@pytest.mark.parametrize("target", TARGETS)
def test_out_of_line_abi_module_same_as_cffi(tmp_path, target, abi_lib, monkeypatch):
    # cffi: set_source(name, None) + compile() writes `name.py` and runs no compiler.
    results = {}
    for impl, ffi in (("wasmcffi", wasmcffi.FFI()), ("cffi", cffi.FFI())):
        ffi.cdef(ABI_CDEF)
        if impl == "wasmcffi":
            ffi.set_source("_dropin_ool", None, target=target)
            # No compiler may run: none is reachable.
            monkeypatch.setenv("CC", "/nonexistent/cc")
            monkeypatch.setenv("WASMCFFI_CC", "/nonexistent/cc")
        else:
            ffi.set_source("_dropin_ool", None)
        out = tmp_path / impl
        path = ffi.compile(tmpdir=str(out))
        monkeypatch.undo()
        assert os.path.basename(path) == "_dropin_ool.py"
        assert sorted(os.listdir(out)) == ["_dropin_ool.py"]
        mod = load_module(path)
        if impl == "wasmcffi":
            assert isinstance(mod.ffi, wasmcffi.FFI)
        results[impl] = outcome(lambda f: use_abi_module(f, f.dlopen(abi_lib)), mod.ffi)
    assert results["wasmcffi"] == results["cffi"] == ("ok", (42, 7, 17, -5, 10, 11, True))


OUT_OF_LINE_EXTRA = """
    const int const_answer;
    const char *const const_hello;
    int no_such_function(int);
"""


def test_out_of_line_lib_behaves_as_cffis_compiled_ffi(tmp_path, abi_lib, capsys):
    """The lib of an out-of-line module's ffi is CFFI's compiled kind: `const`
    globals read from the library as values (no address), a missing symbol
    and a closed library are `ffi.error`."""
    pair = Pair(ABI_CDEF + OUT_OF_LINE_EXTRA)
    results = {}
    for impl, ffi in (("wasmcffi", pair.w), ("cffi", pair.c)):
        ffi.set_source(f"_dropin_ool_{impl}", None)
        mod = load_module(ffi.compile(tmpdir=str(tmp_path / impl)))
        lib = mod.ffi.dlopen(abi_lib)

        def use(f):
            found = [lib.const_answer, f.string(lib.const_hello), outcome(lambda _: f.addressof(lib, "const_answer"), None)[:2]]
            missing = outcome(lambda _: lib.no_such_function, None)
            f.dlclose(lib)
            closed = outcome(lambda _: lib.triple, None)
            return found, missing[:2], missing[2].startswith("symbol 'no_such_function' not found in library '"), closed[:2], closed[2] == f"library '{abi_lib}' has been closed"

        results[impl] = outcome(use, mod.ffi)
    capsys.readouterr()
    assert results["wasmcffi"] == results["cffi"]
    assert results["cffi"][1][3] == ("raise", "error")


def test_in_line_dlclose_same_as_cffi(abi_lib):
    """A closed `ffi.dlopen()` lib of a plain FFI: ValueError, CFFI's message."""
    pair = Pair("int triple(int);")

    def use(ffi):
        lib = ffi.dlopen(abi_lib)
        ffi.dlclose(lib)
        ffi.dlclose(lib)  # does not raise
        return lib.triple

    mine = pair.same(use)
    assert mine[:2] == ("raise", "ValueError")
    assert mine[2].endswith("' has already been closed")


def test_emit_python_code_same_as_cffi(tmp_path, abi_lib, capsys):
    pair = Pair(ABI_CDEF)
    results = {}
    for impl, ffi in (("wasmcffi", pair.w), ("cffi", pair.c)):
        ffi.set_source("_dropin_emit", None)
        path = tmp_path / f"{impl}_emit.py"
        ffi.emit_python_code(str(path))
        mod = load_module(str(path), "_dropin_emit")
        results[impl] = outcome(lambda f: use_abi_module(f, f.dlopen(abi_lib)), mod.ffi)
    capsys.readouterr()  # cffi prints "generating ..."
    assert results["wasmcffi"] == results["cffi"] == ("ok", (42, 7, 17, -5, 10, 11, True))


def test_emit_c_code_refused_for_abi_module_same_as_cffi(tmp_path):
    # cffi: TypeError "emit_c_code() is only for C extension modules, not for
    # dlopen()-style pure Python modules".
    pair = Pair(ABI_CDEF)
    mine = pair.same(lambda ffi: (ffi.set_source("_dropin_noc", None),
                                  ffi.emit_c_code(str(tmp_path / "x.c")))[1])
    assert mine[:2] == ("raise", "TypeError")
    assert not (tmp_path / "x.c").exists()


def test_emit_python_code_refused_for_api_module_same_as_cffi(tmp_path):
    pair = Pair(ABI_CDEF)
    mine = pair.same(lambda ffi: (ffi.set_source("_dropin_nopy", "int triple(int x) { return x; }"),
                                  ffi.emit_python_code(str(tmp_path / "x.py")))[1])
    assert mine[:2] == ("raise", "TypeError")


@pytest.mark.parametrize("step", ["emit_python_code", "compile"])
def test_partial_enum_needs_a_compiler_same_as_cffi(tmp_path, step, capsys):
    # Only a C compiler can give the values of `enum e { A, B, ... }`: CFFI's
    # out-of-line ABI mode raises VerificationMissing.
    pair = Pair("enum e { A, B, ... };")

    def run(ffi):
        ffi.set_source("_dropin_partial", None)
        out = tmp_path / type(ffi).__module__
        if step == "compile":
            return ffi.compile(tmpdir=str(out))
        return ffi.emit_python_code(str(out) + ".py")

    mine, ref = pair.run(run)
    capsys.readouterr()
    assert mine[:2] == ref[:2] == ("raise", "VerificationMissing")
    ffi = wasmcffi.FFI()
    ffi.cdef("enum e { A, B, ... };")
    with pytest.raises(wasmcffi.VerificationMissing, match="A, B"):
        run(ffi)


@pytest.mark.parametrize("name", ["LIMIT", "MAXV", "GREEN", "BLUE"])
def test_integer_const_same_as_cffi(abi_lib, name):
    # A #define, a static const and enumerators; cffi 2's FFI has no
    # integer_const(), so its lib's value is the reference.
    ffi = wasmcffi.FFI()
    ffi.cdef(ABI_CDEF)
    ref = cffi.FFI()
    ref.cdef(ABI_CDEF)
    expected = getattr(ref.dlopen(abi_lib), name)
    assert ffi.integer_const(name) == expected == getattr(ffi.dlopen(abi_lib), name)


def test_integer_const_of_no_constant():
    ffi = wasmcffi.FFI()
    ffi.cdef(ABI_CDEF)
    for name in ("triple", "pt", "NOT_DECLARED"):
        with pytest.raises(AttributeError, match=name):
            ffi.integer_const(name)


# ---- 6. bytes for pointer parameters ----

DATA = b"\x01\x00\xff\x80a"

BYTES_CASES = {
    "void": lambda ffi, lib: lib.sum_void(DATA, len(DATA)),
    "const_void": lambda ffi, lib: lib.sum_const_void(DATA, len(DATA)),
    "char": lambda ffi, lib: lib.sum_char(DATA, len(DATA)),
    "unsigned_char": lambda ffi, lib: lib.sum_uchar(DATA, len(DATA)),
    "signed_char": lambda ffi, lib: lib.sum_schar(DATA, len(DATA)),
    "uint8": lambda ffi, lib: lib.sum_uint8(DATA, len(DATA)),
    "empty": lambda ffi, lib: (lib.sum_void(b"", 0), lib.sum_uint8(b"", 0)),
    "nul_terminated": lambda ffi, lib: (lib.my_strlen(b"ab\0cd"), lib.sum_uchar(b"ab", 3)),
    "big": lambda ffi, lib: lib.sum_const_void(bytes(range(256)) * 400, 256 * 400),
    # `int *` takes no bytes (CFFI: "initializer for ctype 'int *' must be a
    # cdata pointer, not bytes").
    "int_pointer": lambda ffi, lib: lib.first_int(b"abcd"),
    "str_for_void": lambda ffi, lib: lib.sum_void("text", 4),
    "bytearray_for_uint8": lambda ffi, lib: lib.sum_uint8(bytearray(b"ab"), 2),
    # The C sees the bytes during the call (the pointer it returns is only
    # compared with NULL: on wasm it points into a copy freed at return).
    "find": lambda ffi, lib: (lib.find(b"hello world", b"z") == ffi.NULL, lib.find(b"hello world", b"w") == ffi.NULL),
}


@pytest.mark.parametrize("case", sorted(BYTES_CASES))
def test_bytes_arguments_same_as_cffi(module, reference, case):
    same_as_reference(module, reference, BYTES_CASES[case])


def test_native_bytes_argument_is_not_copied(modules, reference):
    # Natively, as in CFFI, the C receives the bytes object's own buffer: a
    # pointer it returns into it stays valid while the bytes live. Not tested on
    # wasm: there the C gets a copy in the sandbox's memory, freed when the call
    # returns (guest code cannot see host memory), so the result dangles.
    native = modules("native")
    text = b"hello world"
    buffer_address = ctypes.cast(ctypes.c_char_p(text), ctypes.c_void_p).value
    for mod in (native, reference):
        ffi, lib = mod.ffi, mod.lib
        tail = lib.find(text, b"w")
        assert ffi.string(tail) == b"world"
        assert int(ffi.cast("uintptr_t", lib.find(text, b"h"))) == buffer_address
        assert int(ffi.cast("uintptr_t", tail)) == buffer_address + 6


# ---- 7. ffi.new_allocator() ----

def _python_allocator(ffi, log):
    """CFFI's documented pattern: alloc() returns `ffi.new("char[]", size)`."""
    def alloc(size):
        p = ffi.new("char[]", size)
        log.append(("alloc", size, p))
        return p

    def free(p):
        log.append(("free", p))

    return alloc, free


def alloc_release(ffi, lib):
    # free(p) once, with the object alloc() returned, at ffi.release().
    log = []
    new = ffi.new_allocator(*_python_allocator(ffi, log))
    p = new("int[10]", list(range(10)))
    values = list(p)
    in_use = len(log)
    ffi.release(p)
    ffi.release(p)  # a second release does nothing
    return (values, in_use, len(log), log[0][1] == ffi.sizeof("int[10]"), log[-1][0], log[-1][1] is log[0][2])


def alloc_death(ffi, lib):
    # ... or when the result dies.
    log = []
    new = ffi.new_allocator(*_python_allocator(ffi, log))
    p = new("struct x *", [5, 2.5])
    values = (p.a, p.b)
    del p
    gc.collect()
    return (values, len(log), log[-1][0], log[-1][1] is log[0][2])


def alloc_with_statement(ffi, lib):
    log = []
    new = ffi.new_allocator(*_python_allocator(ffi, log))
    with new("int[]", 3) as p:
        p[2] = 9
        inside = (len(log), p[2])
    return inside, len(log)


def alloc_same_types_as_new(ffi, lib):
    # The result has the type, size and contents ffi.new() would give.
    def contents(p):
        if ffi.typeof(p).kind == "pointer":
            return (p.a, p.b)  # the `struct x *`
        return list(p)

    new = ffi.new_allocator(*_python_allocator(ffi, []))
    results = []
    for cdecl, init in (("int[10]", None), ("int[]", 5), ("int[]", [1, 2, 3]), ("struct x *", [1, 2.5]),
                        ("char[]", b"abc")):
        p, q = new(cdecl, init), ffi.new(cdecl, init)
        results.append((repr(ffi.typeof(p)), ffi.typeof(p) is ffi.typeof(q), ffi.sizeof(p) == ffi.sizeof(q),
                        contents(p), contents(p) == contents(q)))
    return results


def alloc_clears(ffi, lib):
    # should_clear_after_alloc=True (the default) zeroes what alloc() returned
    # before the initializer; False leaves its bytes.
    def dirty(size):
        return ffi.new("char[]", b"\xff" * size)

    cleared = ffi.new_allocator(dirty)("int[2]", [5])
    kept = ffi.new_allocator(dirty, should_clear_after_alloc=False)("int[2]", [5])
    plain = ffi.new_allocator(should_clear_after_alloc=False)("int[3]", [1, 2, 3])
    return list(cleared), list(kept), list(plain)


def alloc_c_functions(ffi, lib):
    # A compiled module's C allocator: alloc(size) returns `void *`, free(p) gets it.
    new = ffi.new_allocator(lib.my_alloc, lib.my_free)
    start = (lib.n_allocs(), lib.n_frees())
    counts = lambda: (lib.n_allocs() - start[0], lib.n_frees() - start[1])  # noqa: E731
    p = new("int[4]", [1, 2, 3, 4])
    steps = [counts(), list(p), repr(ffi.typeof(p))]
    ffi.release(p)
    steps.append(counts())
    q = new("struct x *", {"a": 3, "b": 1.5})
    steps += [(q.a, q.b), counts()]
    del q
    gc.collect()
    steps.append(counts())
    return steps


ALLOCATOR_CASES = {
    "release": alloc_release,
    "death": alloc_death,
    "with_statement": alloc_with_statement,
    "same_types_as_new": alloc_same_types_as_new,
    "clears": alloc_clears,
    "c_functions": alloc_c_functions,
    # CFFI: TypeError "alloc() must return a cdata object (got int)".
    "returns_int": lambda ffi, lib: ffi.new_allocator(lambda n: 5)("int *"),
    # CFFI: TypeError "alloc() must return a cdata pointer, not 'int'".
    "returns_int_cdata": lambda ffi, lib: ffi.new_allocator(lambda n: ffi.cast("int", 42))("int *"),
    # CFFI: MemoryError "alloc() returned NULL".
    "returns_null": lambda ffi, lib: ffi.new_allocator(lambda n: ffi.NULL)("int[4]"),
    "returns_null_typed": lambda ffi, lib: ffi.new_allocator(lambda n: ffi.cast("char *", 0))("int *"),
    # CFFI: TypeError "cannot pass 'free' without 'alloc'".
    "free_without_alloc": lambda ffi, lib: ffi.new_allocator(free=lambda p: None),
    "alloc_raises": lambda ffi, lib: ffi.new_allocator(lambda n: 1 / 0)("int *"),
    "bad_cdecl": lambda ffi, lib: ffi.new_allocator(lambda n: ffi.new("char[]", n))("int"),
}


@pytest.mark.parametrize("case", sorted(ALLOCATOR_CASES))
def test_new_allocator_same_as_cffi(module, reference, case):
    same_as_reference(module, reference, ALLOCATOR_CASES[case])


@pytest.mark.parametrize("case", ["returns_int", "returns_int_cdata", "returns_null", "free_without_alloc"])
def test_new_allocator_errors_same_as_cffis_backend(module, case):
    # cffi's `_cffi_backend.FFI()` (the FFI class of compiled modules) words
    # these errors as `cffi.FFI()` does.
    import _cffi_backend

    fn = ALLOCATOR_CASES[case]
    mine = outcome(lambda _: fn(module.ffi, module.lib), None)
    ref = outcome(lambda _: fn(_cffi_backend.FFI(), None), None)
    assert mine[0] == "raise" and mine == ref


def test_new_allocator_refuses_memory_of_another_sandbox(modules):
    # wasm only: the C of a sandbox can only reach its own linear memory, so
    # alloc() must return memory of this ffi's sandbox (natively any memory is
    # reachable, as in CFFI).
    ffi = modules("wasm").ffi
    host = wasmcffi.FFI()
    with pytest.raises(TypeError, match="sandbox"):
        ffi.new_allocator(lambda n: host.new("char[]", n))("int[2]")
    native = modules("native").ffi
    p = native.new_allocator(lambda n: host.new("char[]", n))("int[2]", [1, 2])
    assert list(p) == [1, 2]


# ---- const globals are constants -------------------------------------------

CONST_CDEF = """
    static int (*python_callback)(int how_many, int *values);
    int (*const c_callback)(int, ...);
    int some_c_function(int (*cb)(int, ...));
    const int answer;
    extern int plain;
"""
CONST_SOURCE = """
    static int (*python_callback)(int how_many, int *values);
    static int c_callback(int how_many, ...) {
        va_list ap; int i, values[8];
        va_start(ap, how_many);
        for (i = 0; i < how_many; i++) values[i] = va_arg(ap, int);
        va_end(ap);
        return python_callback(how_many, values);
    }
    int some_c_function(int (*cb)(int, ...)) { return cb(2, 10, 20) + cb(3, 30, 40, 50); }
    #define answer 42
    int plain = 7;
"""


@pytest.mark.parametrize("target", TARGETS)
def test_const_globals_are_read_as_constants_same_as_cffi(tmp_path, target):
    # CFFI reads a `const` scalar global as a constant (its value, not its
    # address), so it may be a macro or a function; C code later calls the
    # function pointer read that way.
    mine = build(tmp_path, target, f"_dropin_const_{target}", CONST_CDEF, CONST_SOURCE)
    ref = build_cffi_reference(tmp_path / "cffi", "_dropin_const_cffi", CONST_CDEF,
                               "#include <stdarg.h>\n" + CONST_SOURCE, [])

    def run(ffi, lib):
        seen = []

        @ffi.callback("int(int, int *)")
        def collect(how_many, values):
            seen.append([values[i] for i in range(how_many)])
            return 42

        lib.python_callback = collect
        total = lib.some_c_function(lib.c_callback)
        lib.python_callback = ffi.NULL
        return total, seen, lib.answer, lib.plain, ffi.addressof(lib, "plain")[0]

    assert run(mine.ffi, mine.lib) == run(ref.ffi, ref.lib) == (84, [[10, 20], [30, 40, 50]], 42, 7, 7)
    for module in (mine, ref):
        with pytest.raises(AttributeError):
            module.ffi.addressof(module.lib, "answer")
        with pytest.raises(AttributeError):
            module.lib.answer = 1
