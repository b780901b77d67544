"""API mode: set_source() + compile() + import, on both targets.

Every behaviour test runs with the module built for the wasm sandbox and
natively (the `module` fixture), and where CFFI has the same API, against a real
cffi extension built from the same C as the reference.
"""

import array
import os
import subprocess
import sys

import pytest

import wasmcffi
from conftest import build_cffi_reference, load_module

HERE = os.path.dirname(os.path.abspath(__file__))
C_FILE = os.path.join(HERE, "..", "c", "api_module.c")

CDEF = """
    typedef struct { int x, y; } point_t;
    struct particle { double mass; double velocity; ...; };
    typedef int... small_id_t;
    typedef float... real_t;
    enum color { RED, GREEN, BLUE, ... };
    #define MAGIC ...
    #define NEG_MAGIC ...
    extern int counter;
    extern double table[4];
    extern point_t origin;
    int add(int, int);
    double scale(double, real_t);
    long long widen(int);
    int sum_array(const int *, int);
    size_t length(const char *);
    const char *greeting(void);
    void fill(int *, int);
    int norm1(point_t *);
    point_t make_point(int, int);
    int point_sum(point_t);
    double particle_energy(struct particle *);
    small_id_t next_id(small_id_t);
    int bump(void);
    void say(const char *);
    int divide(int, int);
    void crash(void);
    void leave(int);
    int recurse(int);
    signed char negate_schar(signed char);
    unsigned char flip_uchar(unsigned char);
    short twice_short(short);
    unsigned short ushort_max(void);
    float halve(float);
    _Bool is_even(long);
    char upper(char);
    unsigned long long mix(int, long long, float, double, unsigned char);
    int *nth(int *, int);
    enum color next_color(enum color);
    int sum_ints(int, ...);
    double avg(int, ...);
    int format(char *, size_t, const char *, ...);
"""
SOURCE = '#include "api_module.c"'


def build(tmp_path, target, name, cdef=CDEF, source=SOURCE, **kwargs):
    ffibuilder = wasmcffi.FFI()
    ffibuilder.cdef(cdef)
    ffibuilder.set_source(name, source, target=target, include_dirs=[os.path.dirname(C_FILE)], **kwargs)
    return ffibuilder.compile(tmpdir=str(tmp_path))


@pytest.fixture(scope="module", params=["wasm", "native"])
def module(request, tmp_path_factory):
    target = request.param
    path = build(tmp_path_factory.mktemp(target), target, f"_apimod_{target}")
    mod = load_module(path)
    mod.target = target
    return mod


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same C as a real cffi API-mode extension."""
    return build_cffi_reference(
        tmp_path_factory.mktemp("cffi"), "_apimod_cffi", CDEF, SOURCE, [os.path.dirname(C_FILE)]
    )


CASES = {
    "add": lambda ffi, lib: lib.add(40, 2),
    "add_negative": lambda ffi, lib: lib.add(-5, -6),
    "add_overflow_arg": lambda ffi, lib: lib.add(2**31, 0),
    "add_wrong_type": lambda ffi, lib: lib.add("1", 2),
    "scale": lambda ffi, lib: lib.scale(1.5, 4),
    "widen": lambda ffi, lib: lib.widen(3),
    "sum_list": lambda ffi, lib: lib.sum_array([1, 2, 3, 4], 4),
    "sum_new": lambda ffi, lib: lib.sum_array(ffi.new("int[]", [5, 6, 7]), 3),
    "length": lambda ffi, lib: lib.length(b"sandbox"),
    "greeting": lambda ffi, lib: ffi.string(lib.greeting()),
    "fill": lambda ffi, lib: (lambda a: (lib.fill(a, 5), list(a))[1])(ffi.new("int[5]")),
    "norm1": lambda ffi, lib: lib.norm1(ffi.new("point_t *", [-3, 4])),
    "make_point": lambda ffi, lib: (lambda p: (p.x, p.y))(lib.make_point(7, 8)),
    "point_sum": lambda ffi, lib: lib.point_sum(ffi.new("point_t *", [7, 8])[0]),
    "point_sum_list": lambda ffi, lib: lib.point_sum([2, 3]),
    "particle": lambda ffi, lib: lib.particle_energy(ffi.new("struct particle *", {"mass": 2.0, "velocity": 3.0})),
    "next_id": lambda ffi, lib: lib.next_id(65535),
    "constants": lambda ffi, lib: (lib.MAGIC, lib.NEG_MAGIC, lib.RED, lib.GREEN, lib.BLUE),
    "globals": lambda ffi, lib: (lib.counter, list(lib.table), lib.origin.y),
    "arity": lambda ffi, lib: lib.add(1),
    "sizes_partial": lambda ffi, lib: ffi.offsetof("struct particle", "velocity") > ffi.offsetof("struct particle", "mass"),
    "typedef_int": lambda ffi, lib: (ffi.sizeof("small_id_t"), ffi.typeof("small_id_t").cname == "uint16_t"),
    "missing": lambda ffi, lib: lib.no_such_thing,
    "schar": lambda ffi, lib: (lib.negate_schar(5), lib.negate_schar(-128), lib.negate_schar(127)),
    "schar_overflow": lambda ffi, lib: lib.negate_schar(128),
    "uchar": lambda ffi, lib: (lib.flip_uchar(0), lib.flip_uchar(255)),
    "uchar_negative": lambda ffi, lib: lib.flip_uchar(-1),
    "short": lambda ffi, lib: (lib.twice_short(-300), lib.twice_short(20000)),
    "ushort": lambda ffi, lib: lib.ushort_max(),
    "float": lambda ffi, lib: (lib.halve(3.0), lib.halve(1e39)),
    "bool": lambda ffi, lib: (lib.is_even(4), lib.is_even(-3)),
    "char": lambda ffi, lib: (lib.upper(b"q"), lib.upper(b"Q"), lib.upper(b"\xff")),
    "char_wrong_type": lambda ffi, lib: lib.upper("q"),
    "mixed": lambda ffi, lib: lib.mix(-1, 2**40, 2.5, -3.5, 200),
    "mixed_cdata_args": lambda ffi, lib: lib.mix(ffi.cast("int", 7), ffi.cast("long long", -8), 1, 2, ffi.cast("unsigned char", 3)),
    "pointer_result": lambda ffi, lib: (lambda a: lib.nth(a, 2)[0])(ffi.new("int[]", [4, 5, 6])),
    "pointer_result_arith": lambda ffi, lib: (lambda a: lib.nth(a, 2) - a)(ffi.new("int[]", [4, 5, 6])),
    "null_pointer_arg": lambda ffi, lib: lib.nth(ffi.NULL, 0) == ffi.NULL,
    "none_pointer_arg": lambda ffi, lib: lib.nth(None, 0),
    "enum": lambda ffi, lib: (lib.next_color(lib.RED), lib.next_color(10)),
    "variadic_ints": lambda ffi, lib: lib.sum_ints(3, ffi.cast("int", 1), ffi.cast("int", 2), ffi.cast("int", -10)),
    "variadic_promoted": lambda ffi, lib: lib.sum_ints(3, ffi.cast("short", -3), ffi.cast("unsigned char", 200), ffi.cast("char", b"A")),
    "variadic_doubles": lambda ffi, lib: lib.avg(3, ffi.cast("double", 1.5), ffi.cast("double", 2.5), ffi.cast("double", -1.0)),
    "variadic_none": lambda ffi, lib: lib.sum_ints(0),
    "variadic_format": lambda ffi, lib: (lambda buf: (lib.format(buf, 64, b"%d|%s|%.2f|%lld|%c|%u", ffi.cast("int", -5), ffi.new("char[]", b"hi"), ffi.cast("double", 3.14159), ffi.cast("long long", 2**40), ffi.cast("int", 90), ffi.cast("unsigned int", 4000000000)), ffi.string(buf))[1])(ffi.new("char[64]")),
    "variadic_not_cdata": lambda ffi, lib: lib.sum_ints(1, 5),
    "variadic_too_few": lambda ffi, lib: lib.sum_ints(),
    "variadic_fixed_converted": lambda ffi, lib: lib.avg(ffi.cast("int", 1), ffi.cast("double", 4.0)),
    "from_buffer_fill": lambda ffi, lib: (lambda b: (lib.fill(ffi.from_buffer("int[]", b), 5), bytes(b))[1])(bytearray(20)),
    "from_buffer_sum": lambda ffi, lib: lib.sum_array(ffi.from_buffer("int[]", bytearray(b"\x01\0\0\0\x02\0\0\0")), 2),
    "from_buffer_bytes_arg": lambda ffi, lib: lib.length(ffi.from_buffer(b"hello\0")),
    "buffer_is_the_buffer_type": lambda ffi, lib: type(ffi.buffer(ffi.new("short *", 100))) is ffi.buffer,
    "buffer_comparisons": lambda ffi, lib: (lambda a, c: (
        ffi.buffer(a) == bytes(range(100, 110)), ffi.buffer(c, 6) < ffi.buffer(a, 3) < ffi.buffer(a, 6),
        bytearray(range(100, 110)) > ffi.buffer(a, 6), ffi.buffer(a, 3) != bytearray(range(101, 104)),
        ffi.buffer(a, 2) == "no"))(ffi.new("uint8_t[]", list(range(100, 110))),
                                   ffi.new("uint8_t[]", [99] + list(range(100, 110)))),
    "from_buffer_of_an_array_of_shorts": lambda ffi, lib: (lambda a: (
        len(ffi.from_buffer(a)), ffi.from_buffer("unsigned short[]", a)[1],
        (ffi.memmove(ffi.from_buffer(a, require_writable=True), b"\x01\x00", 2), list(a))[1]))(
        array.array("H", [10000, 20000, 30000])),
    "memmove_from_an_array_of_shorts": lambda ffi, lib: (lambda p: (
        ffi.memmove(p, array.array("H", [1, 2]), 4), list(p))[1])(ffi.new("unsigned short[]", 3)),
    "from_buffer_setitem": lambda ffi, lib: (lambda b: (ffi.from_buffer(b).__setitem__(1, b"x"), bytes(b))[1])(bytearray(b"abc")),
    "from_buffer_sees_writes": lambda ffi, lib: (lambda b, p: (b.__setitem__(0, ord("z")), p[0])[1])(*(lambda b: (b, ffi.from_buffer(b)))(bytearray(b"abc"))),
    "from_buffer_repr_len": lambda ffi, lib: (repr(ffi.from_buffer(b"xyz")), len(ffi.from_buffer("int[]", bytearray(12)))),
    "from_buffer_too_small": lambda ffi, lib: ffi.from_buffer("int[4]", bytearray(8)),
    "from_buffer_require_writable": lambda ffi, lib: ffi.from_buffer(b"ro", require_writable=True),
    # Copies between C memory and Python objects (one copy into a sandbox's memory).
    "memmove_from_memoryview": lambda ffi, lib: (lambda a: (ffi.memmove(a, memoryview(b"wxyz")[1:], 3), ffi.string(a))[1])(ffi.new("char[8]")),
    "memmove_from_strided_view": lambda ffi, lib: (lambda a: (ffi.memmove(a, memoryview(b"abcdef")[::2], 3), ffi.string(a))[1])(ffi.new("char[8]")),
    "memmove_from_bytearray": lambda ffi, lib: (lambda a: (ffi.memmove(a, bytearray(b"\x05\0\0\0"), 4), a[0])[1])(ffi.new("int[2]")),
    "memmove_into_memoryview": lambda ffi, lib: (lambda b: (ffi.memmove(memoryview(b)[2:], ffi.new("char[]", b"hi"), 2), bytes(b))[1])(bytearray(5)),
    "memmove_into_bytes": lambda ffi, lib: ffi.memmove(b"xxxx", ffi.new("char[]", b"hi"), 2),
    "memmove_between_cdata": lambda ffi, lib: (lambda a, b: (ffi.memmove(b, a, 8), list(b))[1])(ffi.new("int[2]", [7, 8]), ffi.new("int[3]")),
    "memmove_bytes_to_bytearray": lambda ffi, lib: (lambda b: (ffi.memmove(b, b"abc", 2), bytes(b))[1])(bytearray(4)),
    "buffer_set_from_bytearray": lambda ffi, lib: (lambda a: (ffi.buffer(a)[1:3].__len__(), ffi.buffer(a).__setitem__(slice(1, 3), bytearray(b"yz")), ffi.string(a))[1:])(ffi.new("char[4]", b"abc")),
    "buffer_set_from_memoryview": lambda ffi, lib: (lambda a: (ffi.buffer(a).__setitem__(slice(0, 2), memoryview(b"0123")[::2]), ffi.string(a))[1])(ffi.new("char[4]", b"abc")),
    "buffer_set_wrong_length": lambda ffi, lib: ffi.buffer(ffi.new("char[4]")).__setitem__(slice(0, 2), b"abc"),
    "buffer_set_not_bytes": lambda ffi, lib: ffi.buffer(ffi.new("char[4]")).__setitem__(slice(0, 2), [1, 2]),
    "buffer_big_roundtrip": lambda ffi, lib: (lambda a, data: (ffi.buffer(a)[:] == b"\0" * 300000, ffi.memmove(a, data, len(data)), ffi.buffer(a)[:] == data, bytes(ffi.buffer(a, 5)))[1:])(ffi.new("char[]", 300000), bytes(range(256)) * 1171 + b"abcd"),
    "char_arg_big_bytes": lambda ffi, lib: lib.length(b"x" * 200000),
    # The temporary of a bytes argument is not zeroed first: a reused block must
    # still end at the bytes' NUL.
    "char_arg_reused_block": lambda ffi, lib: (lib.length(b"y" * 5000), lib.length(b"ab"), lib.length(b"")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_api_module_same_as_cffi(module, reference, case):
    from conftest import outcome

    fn = CASES[case]
    mine = outcome(lambda _: fn(module.ffi, module.lib), None)
    ref = outcome(lambda _: fn(reference.ffi, reference.lib), None)
    assert mine[:2] == ref[:2], f"{module.target}: {mine} vs cffi {ref}"
    if mine[0] == "ok":
        assert mine == ref


def test_variadic_float_is_promoted_to_double(module):
    # C's default argument promotion; cffi passes a float cdata unpromoted, which
    # a callee reading `double` (as C requires) misreads, so no comparison here.
    ffi, lib = module.ffi, module.lib
    assert lib.avg(2, ffi.cast("float", 2.5), ffi.cast("float", -0.5)) == 1.0


def test_api_module_data_model_follows_target(module):
    ffi = module.ffi
    if module.target == "wasm":
        assert ffi.sizeof("long") == ffi.sizeof("int") == ffi.sizeof("void *")
    else:
        assert ffi.sizeof("long") == ffi.sizeof("void *")


def test_api_module_globals_write(module):
    lib = module.lib
    lib.counter = 41
    assert lib.bump() == 42
    assert lib.counter == 42


def test_api_module_stdout_reaches_python(module, capfd):
    module.lib.say(b"printed by C")
    assert "printed by C" in capfd.readouterr().out


def test_api_module_cdata_live_in_the_targets_memory(module):
    ffi = module.ffi
    p = ffi.new("point_t *", [1, 2])
    addr = int(ffi.cast("uintptr_t", p))
    if module.target == "wasm":
        assert 0 < addr < 2**32  # a guest address, never a host pointer
    assert module.lib.norm1(p) == 3


@pytest.fixture(scope="module")
def faults_module(tmp_path_factory):
    return build(tmp_path_factory.mktemp("faults"), "wasm", "_faults")


@pytest.mark.parametrize("call", ["crash()", "divide(1, 0)", "recurse(10**7)"])
def test_wasm_faults_become_exceptions(faults_module, call):
    # A fresh instance per fault: a trap leaves its instance unusable.
    mod = load_module(faults_module)
    with pytest.raises(wasmcffi.Trap):
        eval("lib." + call, {"lib": mod.lib})
    with pytest.raises(wasmcffi.SandboxError):
        mod.lib.add(1, 2)
    assert load_module(faults_module).lib.add(1, 2) == 3


def test_wasm_exit_is_guest_exit(faults_module):
    mod = load_module(faults_module)
    with pytest.raises(wasmcffi.GuestExit) as info:
        mod.lib.leave(3)
    assert info.value.code == 3


def test_host_cdata_refused_by_sandboxed_function(tmp_path):
    mod = load_module(build(tmp_path, "wasm", "_crossing"))
    host = wasmcffi.FFI()
    host.cdef("typedef struct { int x, y; } point_t;")
    with pytest.raises(TypeError, match="host"):
        mod.lib.norm1(host.new("point_t *", [1, 2]))


@pytest.mark.parametrize("target", ["wasm", "native"])
def test_wrong_exact_struct_fails_when_used(tmp_path, target):
    """As CFFI's API mode: a module whose exact struct the compiler contradicts
    loads; the struct has the compiler's size, and its fields raise `ffi.error`
    (CFFI's message) when used."""
    cdef = "typedef struct { int x; long long y; } point_t; int add(int, int);"
    path = build(tmp_path, target, f"_wrong_{target}", cdef=cdef)
    mod = load_module(path, f"_wrong_{target}")
    assert mod.lib.add(2, 3) == 5
    assert mod.ffi.sizeof("point_t") == 2 * mod.ffi.sizeof("int")  # the compiler's
    p = mod.ffi.new("point_t *")
    for use in (lambda: mod.ffi.new("point_t *", [1, 2]), lambda: p.y,
                lambda: mod.ffi.offsetof("point_t", "y")):
        with pytest.raises(mod.ffi.error, match=r"^point_t: wrong (size|offset) for field 'y' \(cdef says"):
            use()


def test_compile_error_shows_the_compiler_message(tmp_path):
    with pytest.raises(Exception, match="undeclared|unknown type|error"):
        build(tmp_path, "wasm", "_broken", cdef="int add(int, int);", source="int add(int a, int b) { return a + nope; }")


def test_host_libraries_refused_for_wasm(tmp_path):
    # libc's own names (m, dl, pthread, ...) need no linking in the sandbox.
    with pytest.raises(ValueError, match=r"libraries=\['z'\].*'wasm'.*sandbox"):
        build(tmp_path, "wasm", "_libs", libraries=["m", "z"])


def test_import_needs_no_compiler(tmp_path):
    path = build(tmp_path, "wasm", "_portable")
    env = dict(os.environ, PATH="/nonexistent", WASMCFFI_CC="/nonexistent/cc", CC="/nonexistent/cc")
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); from _portable import ffi, lib; print(lib.add(2, 3))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "5"


@pytest.mark.parametrize("target", ["wasm", "native"])
def test_plain_import_from_sys_path(tmp_path, target):
    # `import name` must find the loader `name.py`, not take the artifact beside
    # it for an extension module.
    build(tmp_path, target, f"_plain_{target}")
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import _plain_{target} as m; print(m.lib.add(2, 3))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "5"


def test_compiled_code_is_cached_between_imports(tmp_path):
    path = build(tmp_path / "mod", "wasm", "_cached")
    cache = tmp_path / "cache"
    env = dict(os.environ, WASMCFFI_CACHE_DIR=str(cache))
    code = f"import sys; sys.path.insert(0, {os.path.dirname(path)!r}); from _cached import lib; print(lib.add(2, 3))"

    def run():
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert run() == "5"
    machine_code = list(cache.glob("*.cwasm"))
    assert len(machine_code) == 1 and list(cache.glob("*.wasm"))
    assert run() == "5"  # loaded from the cache
    machine_code[0].write_bytes(b"not machine code")
    assert run() == "5"  # a damaged entry is recompiled, never trusted


def test_memmove_never_reads_past_its_source(module):
    # CFFI copies n bytes whatever the source's size (reading past its end);
    # wasmcffi refuses.
    ffi = module.ffi
    with pytest.raises(ValueError, match="too small"):
        ffi.memmove(ffi.new("char[8]"), b"ab", 4)
    with pytest.raises(ValueError, match="too small"):
        ffi.memmove(bytearray(2), ffi.new("char[8]"), 4)


def test_memmove_between_a_buffer_and_itself(reference, module):
    # One side is a cdata over the very bytearray on the other (on the host,
    # the same bytes): the copy behaves as memmove, as in CFFI.
    def out_of_it(ffi):
        data = bytearray(b"abcdefgh")
        ffi.memmove(data, ffi.from_buffer(data) + 2, 5)
        return bytes(data)

    def into_it(ffi):
        data = bytearray(b"abcdefgh")
        ffi.memmove(ffi.from_buffer(data) + 2, data, 5)
        return bytes(data)

    assert out_of_it(module.ffi) == out_of_it(reference.ffi) == b"cdefgfgh"
    # In a sandbox, `from_buffer` is a copy written back after calls only
    # (docs/migrating.md): a pointer derived from it writes to the copy.
    if module.target == "native":
        assert into_it(module.ffi) == into_it(reference.ffi) == b"ababcdeh"


def test_module_built_before_the_uninitialised_allocator(tmp_path, monkeypatch):
    # A module whose runtime has no `wasmcffi_malloc_uninit` (built by an older
    # wasmcffi) gets its call temporaries from the zeroing allocator.
    files = dict(wasmcffi._wasmcffi.GUEST_FILES)
    runtime = files["runtime.c"]
    start = runtime.index('__attribute__((export_name("wasmcffi_malloc_uninit")))')
    end = runtime.index("__attribute__", start + 1)
    files["runtime.c"] = runtime[:start] + runtime[end:]
    monkeypatch.setattr(wasmcffi._wasmcffi, "GUEST_FILES", files)
    mod = load_module(build(tmp_path, "wasm", "_apimod_old_runtime"))
    with open(tmp_path / "_apimod_old_runtime.wasm", "rb") as f:
        assert b"wasmcffi_malloc_uninit" not in f.read()
    assert (mod.lib.length(b"y" * 5000), mod.lib.length(b"ab")) == (5000, 2)


def test_compile_error_names_the_target_and_headers_the_sandbox_lacks(tmp_path):
    """A header the host has but wasi-libc does not: the error says so."""
    header = "linux/if_tun.h"
    if not os.path.exists(os.path.join("/usr/include", header)):
        pytest.skip(f"<{header}> is not installed here")
    ffi = wasmcffi.FFI()
    ffi.cdef("int f(void);")
    ffi.set_source("_lacks_header", f"#include <{header}>\nint f(void) {{ return 0; }}")
    with pytest.raises(wasmcffi.VerificationError) as info:
        ffi.compile(tmpdir=str(tmp_path))
    message = str(info.value)
    assert "for target 'wasm'" in message
    assert f"{header}' file not found" in message  # the compiler's own file:line: error
    assert f"<{header}> exists on this machine for native builds, but not in the sandbox" in message


@pytest.mark.parametrize("target", ["wasm", "native"])
def test_function_pointer_field_with_const_parameters(tmp_path, target):
    # The field check spells the field's type from the model, which keeps no
    # qualifiers: `int (*)(const char *)` is checked as `int (*)(char *)`.
    source = """
        #include <string.h>
        struct ops { int (*measure)(const char *text, const int *extra); };
        static int measure(const char *text, const int *extra) { return (int)strlen(text) + *extra; }
        struct ops *get_ops(void) { static struct ops ops = { measure }; return &ops; }
    """
    cdef = "struct ops { int (*measure)(const char *, const int *); ...; }; struct ops *get_ops(void);"
    mod = load_module(build(tmp_path, target, f"_fnptr_const_{target}", cdef=cdef, source=source))
    assert mod.lib.get_ops().measure(b"abc", mod.ffi.new("int *", 4)) == 7


def test_compile_without_a_wasm_compiler_names_the_extra(tmp_path, monkeypatch):
    # Plain `pip install wasmcffi` runs built modules but brings no compiler.
    monkeypatch.delenv("WASMCFFI_CC", raising=False)
    monkeypatch.setitem(sys.modules, "ziglang", None)  # as if not installed
    ffi = wasmcffi.FFI()
    ffi.cdef("int f(void);")
    ffi.set_source("_no_compiler", "int f(void) { return 1; }")
    with pytest.raises(wasmcffi.VerificationError, match=r"pip install 'wasmcffi\[build\]'"):
        ffi.compile(tmpdir=str(tmp_path))
