"""Callbacks across the sandbox boundary: extern "Python" + @ffi.def_extern(),
ffi.callback(), function pointers both ways, handles through C, errors in
callbacks, re-entrancy and faults.

Every case runs on a module built for the wasm sandbox and natively (the
`module` fixture) and, where CFFI has the behaviour, against a real cffi
API-mode extension built from the same C (tests/c/callbacks.c).
"""

import gc
import os
import sys

import pytest

import wasmcffi
from conftest import build_cffi_reference, load_module, outcome

HERE = os.path.dirname(os.path.abspath(__file__))
C_DIR = os.path.join(HERE, "..", "c")

CDEF = """
    typedef struct { int x, y; } point_t;
    typedef struct { int v; } one_t;
    typedef struct { int a : 3; } bits_t;
    typedef struct { union { int i; float f; } u; } with_union_t;
    extern "Python" int py_add(int, int);
    extern "Python" double py_scale(double x, float factor);
    extern "Python" long long py_wide(long long, unsigned char, signed char);
    extern "Python" void py_note(const char *);
    extern "Python" int py_point(point_t *);
    extern "Python" point_t py_make(int, int);
    extern "Python" int py_sum_point(point_t);
    extern "Python" void *py_handle(void *);
    extern "Python" int py_unattached(int);
    extern "Python" {
        int py_reenter(int);
    }
    extern "Python+C" int py_plus_c(int);
    int call_add(int, int);
    double call_scale(double, float);
    long long call_wide(long long, unsigned char, signed char);
    void call_note(const char *);
    int call_point(int, int);
    int call_make(int, int);
    int call_sum_point(int, int);
    void *call_handle(void *);
    int call_unattached(int);
    int call_reenter(int);
    int call_plus_c(int);
    int twice(int);
    int sum_loop(int);
    int sub(int, int);
    int apply(int (*)(int, int), int, int);
    int (*get_sub(void))(int, int);
    double apply_d(double (*)(double, long long), double, long long);
    void sort_ints(int *, int, int (*)(const void *, const void *));
    point_t apply_pt(point_t (*)(point_t, int), point_t, int);
    point_t (*get_shift(void))(point_t, int);
    int apply_one(one_t (*)(one_t), int);
    one_t (*get_one_inc(void))(one_t);
    long double apply_ld(long double (*)(long double, int), long double);
    long double (*get_ld_half(void))(long double, int);
    void crash(void);
"""
SOURCE = '#include "callbacks.c"'


def build(tmp_path, target, name):
    ffibuilder = wasmcffi.FFI()
    ffibuilder.cdef(CDEF)
    ffibuilder.set_source(name, SOURCE, target=target, include_dirs=[C_DIR])
    return ffibuilder.compile(tmpdir=str(tmp_path))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The loader path of the module for each target, compiled once."""
    return {t: build(tmp_path_factory.mktemp(t), t, f"_callbacks_{t}") for t in ("wasm", "native")}


@pytest.fixture(scope="module", params=["wasm", "native"])
def module(request, built):
    mod = load_module(built[request.param], f"_callbacks_{request.param}")
    mod.target = request.param
    return mod


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same C as a real cffi API-mode extension."""
    return build_cffi_reference(tmp_path_factory.mktemp("cffi"), "_callbacks_cffi", CDEF, SOURCE, [C_DIR])


@pytest.fixture
def unraisable(monkeypatch):
    """What callbacks report through `sys.unraisablehook`, as cffi does."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen


def same(module, reference, fn):
    """Runs `fn(ffi, lib)` on the module and on cffi; asserts equal outcomes."""
    mine = outcome(lambda _: fn(module.ffi, module.lib), None)
    ref = outcome(lambda _: fn(reference.ffi, reference.lib), None)
    assert mine == ref, f"{module.target}: {mine} vs cffi {ref}"
    return mine


# ---- extern "Python" ----

def attach_all(ffi):
    """Attaches a Python implementation to every extern "Python" function of `ffi`."""

    @ffi.def_extern()
    def py_add(a, b):
        return a + b

    @ffi.def_extern()
    def py_scale(x, y):
        return x * y

    @ffi.def_extern()
    def py_wide(a, b, c):
        return a + b * 1000 + c

    @ffi.def_extern()
    def py_point(p):
        p.x = 100
        return p.y

    @ffi.def_extern()
    def py_make(a, b):
        return {"x": a, "y": b}

    @ffi.def_extern()
    def py_sum_point(p):
        return p.x * 10 + p.y

    @ffi.def_extern()
    def py_plus_c(n):
        return -n


EXTERN_CASES = {
    "int": lambda ffi, lib: lib.call_add(40, 2),
    "int_negative": lambda ffi, lib: lib.call_add(-7, -8),
    "double_float": lambda ffi, lib: lib.call_scale(1.5, 0.25),
    "wide": lambda ffi, lib: lib.call_wide(-(2**40), 255, -128),
    "pointer_to_struct": lambda ffi, lib: lib.call_point(3, 4),
    "struct_result": lambda ffi, lib: lib.call_make(5, 6),
    "struct_argument": lambda ffi, lib: lib.call_sum_point(7, 8),
    "python_plus_c": lambda ffi, lib: lib.call_plus_c(9),
    "lib_name_is_function_pointer": lambda ffi, lib: (ffi.typeof(lib.py_add).cname, lib.py_add(20, 3)),
    "lib_name_passed_to_c": lambda ffi, lib: lib.apply(lib.py_add, 1, 2),
    "in_a_loop": lambda ffi, lib: lib.sum_loop(50),
}


@pytest.mark.parametrize("case", sorted(EXTERN_CASES))
def test_extern_python_same_as_cffi(module, reference, case):
    attach_all(module.ffi)
    attach_all(reference.ffi)
    same(module, reference, EXTERN_CASES[case])


def test_extern_python_char_pointer_argument(module, reference):
    def run(ffi, lib):
        seen = []
        ffi.def_extern(name="py_note")(lambda s: seen.append(ffi.string(s)))
        lib.call_note(b"hello from C")
        return seen

    assert same(module, reference, run) == ("ok", [b"hello from C"])


def test_bytes_arguments_of_nested_calls_stay_apart(module, reference):
    # The outer call's `char *` copy must survive a call made from inside its
    # callback with bytes of its own (wasmcffi reuses one block of sandbox memory
    # for such copies, one call at a time).
    def run(ffi, lib):
        seen = []

        def note(s):
            seen.append(ffi.string(s))
            if len(seen) == 1:
                lib.call_note(b"the inner call's longer text")
                seen.append(ffi.string(s))

        ffi.def_extern(name="py_note")(note)
        lib.call_note(b"outer")
        lib.call_note(b"again")
        return seen

    assert same(module, reference, run) == (
        "ok", [b"outer", b"the inner call's longer text", b"outer", b"again"])


def test_extern_python_pointer_is_stable_when_reattached(module):
    ffi, lib = module.ffi, module.lib
    before = lib.py_add
    ffi.def_extern(name="py_add")(lambda a, b: a * b)
    assert lib.call_add(6, 7) == 42
    ffi.def_extern(name="py_add")(lambda a, b: a - b)
    assert lib.call_add(6, 7) == -1  # the new function replaces the old one
    assert lib.py_add == before and ffi.addressof(lib, "py_add") == before


def test_extern_python_unattached_returns_zero(module, reference, capfd):
    assert same(module, reference, lambda ffi, lib: lib.call_unattached(5)) == ("ok", 0)
    err = capfd.readouterr().err
    for name in (module.__name__, reference.__name__):
        assert (f"extern \"Python\": function {name}.py_unattached() called, but no code was attached "
                "to it yet with @ffi.def_extern().  Returning 0.") in err


def test_def_extern_unknown_name(module, reference):
    mine, ref = (outcome(lambda _: m.ffi.def_extern(name="nope")(lambda: 0), None) for m in (module, reference))
    assert mine == ref and "ffi.def_extern('nope'): no 'extern \"Python\"' function" in mine[2]
    mine, ref = (outcome(lambda _: m.ffi.def_extern()(m.lib.twice), None) for m in (module, reference))
    assert mine[:2] == ref[:2] == ("raise", "error")


def test_def_extern_needs_a_compiled_module():
    import cffi

    results = [outcome(lambda _: f.def_extern()(lambda: 0), None) for f in (wasmcffi.FFI(), cffi.FFI())]
    assert results[0] == results[1] and results[0][1] == "ValueError"


def test_def_extern_checks_its_arguments(module, reference):
    def run(ffi, lib):
        return ffi.def_extern(name="py_add", onerror=42)(lambda a, b: 0)

    mine = same(module, reference, run)
    assert mine[:2] == ("raise", "TypeError")


def test_extern_python_exception_gives_error_value(module, reference, unraisable):
    def run(ffi, lib):
        ffi.def_extern(name="py_add", error=-99)(lambda a, b: 1 // 0)
        first = lib.call_add(1, 2)
        ffi.def_extern(name="py_add")(lambda a, b: "not an int")
        return first, lib.call_add(1, 2)

    assert same(module, reference, run) == ("ok", (-99, 0))
    assert [type(u.exc_value) for u in unraisable] == [ZeroDivisionError, TypeError] * 2
    assert all("callback" in u.err_msg for u in unraisable)


def test_extern_python_onerror(module, reference, unraisable):
    def run(ffi, lib):
        seen = []

        def onerror(exc, value, tb):
            seen.append((exc.__name__, tb is not None and tb.tb_frame.f_locals.get("a")))
            return 77

        ffi.def_extern(name="py_add", error=-1, onerror=onerror)(lambda a, b: 1 // 0)
        handled = lib.call_add(5, 6)
        ffi.def_extern(name="py_add", error=-1, onerror=lambda *exc: None)(lambda a, b: 1 // 0)
        return handled, seen, lib.call_add(5, 6)

    assert same(module, reference, run) == ("ok", (77, [("ZeroDivisionError", 5)], -1))
    assert unraisable == []  # onerror handled both (None: the error value is used)


# ---- ffi.callback() ----

def test_callback_through_c(module, reference):
    def run(ffi, lib):
        product = ffi.callback("int(int, int)", lambda a, b: a * b)
        halves = ffi.callback("double(*)(double, long long)", lambda x, n: x / 2 + n)
        return lib.apply(product, 6, 7), lib.apply_d(halves, 3.0, 2**40)

    assert same(module, reference, run) == ("ok", (42, 1.5 + 2**40))


def test_callback_with_qsort(module, reference):
    def run(ffi, lib):
        @ffi.callback("int(*)(const void *, const void *)")
        def compare(a, b):
            x, y = ffi.cast("int *", a)[0], ffi.cast("int *", b)[0]
            return (x > y) - (x < y)

        items = ffi.new("int[]", [5, -3, 9, 1, 0, 7])
        lib.sort_ints(items, len(items), compare)
        return list(items)

    assert same(module, reference, run) == ("ok", [-3, 0, 1, 5, 7, 9])


def test_callback_exception_and_error_value(module, reference, unraisable):
    def run(ffi, lib):
        return (lib.apply(ffi.callback("int(int, int)", lambda a, b: 1 // 0, error=-5), 1, 2),
                lib.apply(ffi.callback("int(int, int)", lambda a, b: None), 1, 2),
                lib.apply(ffi.callback("int(int, int)", lambda a, b: 1 // 0, onerror=lambda *e: 3), 1, 2))

    assert same(module, reference, run) == ("ok", (-5, 0, 3))
    assert len(unraisable) == 4


PRIMITIVES = ["char", "signed char", "unsigned char", "short", "unsigned short", "int", "unsigned int",
              "long", "unsigned long", "long long", "unsigned long long", "float", "double", "_Bool",
              "int8_t", "uint16_t", "int32_t", "uint64_t", "size_t", "intptr_t", "wchar_t"]


def extremes(ffi, ctype):
    """Boundary values of `ctype` on `ffi`'s target (from ffi.sizeof, never literals)."""
    if ctype == "char":
        return [b"\x00", b"A", b"\xff"]
    if ctype == "wchar_t":
        return ["a", "\u20ac"]
    if ctype == "_Bool":
        return [False, True]
    if ctype in ("float", "double"):
        return [0.0, -2.5, 1e30 if ctype == "double" else 1.5]
    bits = 8 * ffi.sizeof(ctype)
    if int(ffi.cast(ctype, -1)) < 0:
        return [-(2 ** (bits - 1)), -1, 0, 2 ** (bits - 1) - 1]
    return [0, 1, 2**bits - 1]


@pytest.mark.parametrize("ctype", PRIMITIVES)
def test_callback_every_primitive_round_trips(module, ctype):
    """A callback of type T(T) called from Python: through the guest's table
    (wasm) or a libffi closure (native), each value converted to C and back."""
    ffi = module.ffi
    seen = []
    identity = ffi.callback(f"{ctype}({ctype})", lambda v: seen.append(v) or v)
    values = extremes(ffi, ctype)
    assert [identity(v) for v in values] == values
    assert seen == values


def test_callback_void_and_pointer_types(module, reference):
    def run(ffi, lib):
        p = ffi.new("point_t *", [1, 2])
        swap = ffi.callback("point_t *(point_t *)", lambda q: (setattr(q, "x", q.y), q)[1])
        out = swap(p)
        nothing = ffi.callback("void(int)", lambda n: None)
        return out == p, p.x, nothing(3)

    assert same(module, reference, run) == ("ok", (True, 2, None))


def test_callback_repr_and_typecheck(module, reference):
    def run(ffi, lib):
        def f(a, b):
            return 0

        r = repr(ffi.callback("int(int, int)", f))
        return r.split(" calling ")[0], "function" in r

    same(module, reference, run)
    same(module, reference, lambda ffi, lib: ffi.callback("int(int)", 42))


def test_struct_by_value_callbacks(module, reference):
    """Structs of two fields by value: on wasm32 through a pointer (arguments)
    and a hidden result pointer, both ways."""

    def run(ffi, lib):
        swap = ffi.callback("point_t(*)(point_t, int)", lambda p, k: {"x": p.y * k, "y": p.x})
        via_c = lib.apply_pt(swap, [3, 4], 10)
        direct = swap([5, 6], 2)
        guest = lib.get_shift()([1, 2], 3)
        return (via_c.x, via_c.y), (direct.x, direct.y), (guest.x, guest.y)

    assert same(module, reference, run) == ("ok", ((40, 3), (12, 5), (4, -1)))


def test_single_field_struct_by_value_callback(module, reference):
    """A one-field struct by value travels as its one scalar on wasm32 (clang's
    rule): callbacks and guest function pointers take and return it, both ways."""

    def run(ffi, lib):
        double = ffi.callback("one_t(one_t)", lambda o: {"v": o.v * 2})
        via_c = lib.apply_one(double, 21)
        direct = double([5]).v
        guest = lib.get_one_inc()([41]).v
        return via_c, direct, guest

    assert same(module, reference, run) == ("ok", (42, 10, 42))


def test_long_double_callback_and_function_pointer(module, reference):
    """`long double` through callbacks and guest function pointers (on wasm32:
    two i64 in, a hidden result pointer out), both ways."""

    def run(ffi, lib):
        triple = ffi.callback("long double(long double, int)", lambda x, k: float(x) * 3 + k)
        via_c = float(lib.apply_ld(triple, 0.5))
        direct = float(triple(2.5, 1))
        guest = float(lib.get_ld_half()(ffi.cast("long double", 9), 2))
        return via_c, direct, guest

    assert same(module, reference, run) == ("ok", (7.5, 8.5, 6.5))


def test_callback_refuses_what_libffi_cannot_pass(module, reference):
    """As CFFI: a callback (made through libffi there) refuses a struct with
    bitfields or a union by value, on both targets, with CFFI's message."""
    for cdecl in ("int(bits_t)", "with_union_t(void)"):
        result = same(module, reference, lambda ffi, lib: ffi.callback(cdecl, lambda *a: 0))
        assert result[:2] == ("raise", "NotImplementedError")
        assert "callback with unsupported argument or return type" in result[2]


# ---- function pointers the other way ----

FPTR_CASES = {
    "lib_function_as_argument": lambda ffi, lib: lib.apply(lib.sub, 9, 4),
    "addressof_lib_function": lambda ffi, lib: (ffi.typeof(ffi.addressof(lib, "sub")).cname,
                                                lib.apply(ffi.addressof(lib, "sub"), 9, 1)),
    "returned_pointer_called": lambda ffi, lib: lib.get_sub()(10, 3),
    "addressof_missing": lambda ffi, lib: ffi.addressof(lib, "no_such_name"),
}


@pytest.mark.parametrize("case", sorted(FPTR_CASES))
def test_function_pointers_same_as_cffi(module, reference, case):
    mine = outcome(lambda _: FPTR_CASES[case](module.ffi, module.lib), None)
    ref = outcome(lambda _: FPTR_CASES[case](reference.ffi, reference.lib), None)
    assert mine[:2] == ref[:2], f"{module.target}: {mine} vs cffi {ref}"
    if mine[0] == "ok":
        assert mine == ref


def test_handles_through_c(module, reference):
    def run(ffi, lib):
        ffi.def_extern(name="py_handle")(lambda h: h)
        obj = {"payload": [1, 2, 3]}
        handle = ffi.new_handle(obj)
        back = lib.call_handle(handle)
        return ffi.from_handle(back) is obj, back == handle

    assert same(module, reference, run) == ("ok", (True, True))
    if module.target == "wasm":
        handle = module.ffi.new_handle(object())
        assert 0 < int(module.ffi.cast("uintptr_t", handle)) < 2**32


# ---- re-entrancy and faults ----

def test_callback_calls_back_into_lib(module, reference):
    def run(ffi, lib):
        ffi.def_extern(name="py_reenter")(lambda n: lib.twice(n) + lib.call_add(n, 1))
        attach_add = ffi.def_extern(name="py_add")
        attach_add(lambda a, b: a + b)
        return lib.call_reenter(20)

    assert same(module, reference, run) == ("ok", 61)


def test_nested_callbacks_and_guest_memory(module):
    ffi, lib = module.ffi, module.lib
    depth = []

    @ffi.def_extern(name="py_reenter")
    def nest(n):
        depth.append(n)
        buf = ffi.new("int[4]", [n, n, n, n])  # allocated while the guest is running
        inner = lib.call_reenter(n - 1) if n > 0 else 0
        return inner + sum(buf)

    assert lib.call_reenter(5) == 4 * sum(range(6))
    assert depth == [5, 4, 3, 2, 1, 0]


def test_trap_inside_callback_unwinds(built):
    mod = load_module(built["wasm"], "_callbacks_trap")
    ffi, lib = mod.ffi, mod.lib
    caught = []

    @ffi.def_extern(name="py_reenter")
    def crash_inside(n):
        try:
            lib.crash()
        except wasmcffi.Trap as exc:
            caught.append(exc)
        return 1  # the guest must not continue anyway

    with pytest.raises(wasmcffi.Trap):
        lib.call_reenter(1)
    assert len(caught) == 1
    with pytest.raises(wasmcffi.SandboxError):
        lib.twice(1)  # poisoned until reset


def test_bad_guest_function_pointers_are_errors(built):
    mod = load_module(built["wasm"], "_callbacks_badptr")
    ffi, lib = mod.ffi, mod.lib
    with pytest.raises(RuntimeError, match="not a function"):
        ffi.cast("int(*)(int, int)", 123456)(1, 2)
    with pytest.raises(TypeError, match="does not match"):
        ffi.cast("double(*)(double)", lib.get_sub())(1.0)
    assert lib.get_sub()(5, 2) == 3  # the sandbox is still usable


def test_freed_callback_slot(built):
    mod = load_module(built["wasm"], "_callbacks_freed")
    ffi, lib = mod.ffi, mod.lib
    cb = ffi.callback("int(int, int)", lambda a, b: a + b)
    address = int(ffi.cast("uintptr_t", cb))
    assert lib.apply(cb, 1, 2) == 3
    del cb
    gc.collect()
    stale = ffi.cast("int(*)(int, int)", address)
    with pytest.raises(RuntimeError):
        stale(1, 2)  # an empty slot: an error, never a call into freed state
    with pytest.raises(wasmcffi.Trap):
        lib.apply(stale, 1, 2)
    mod = load_module(built["wasm"], "_callbacks_reuse")
    ffi, lib = mod.ffi, mod.lib
    addresses = set()
    for i in range(50):
        cb = ffi.callback("int(int, int)", lambda a, b, i=i: a + b + i)
        assert lib.apply(cb, 1, 1) == 2 + i
        addresses.add(int(ffi.cast("uintptr_t", cb)))
        del cb
    assert len(addresses) <= 2  # freed slots are reused


THREADS_SCRIPT = """
import importlib.util, sys, threading
spec = importlib.util.spec_from_file_location(sys.argv[2], sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
ffi, lib = mod.ffi, mod.lib
ffi.def_extern(name="py_add")(lambda a, b: a + b)
done = False

def other_thread():
    while not done:  # guest memory and guest calls while the main thread's C calls Python
        items = ffi.new("int[4]", [1, 2, 3, 4])
        assert lib.twice(items[3]) == 8

worker = threading.Thread(target=other_thread)
worker.start()
for _ in range(20):
    assert lib.sum_loop(1000) == sum(range(1000)) + 1000
done = True
worker.join()
print("ok")
"""


@pytest.mark.parametrize("target", ["wasm", "native"])
def test_callbacks_while_another_thread_uses_the_module(built, target):
    """A callback needs the GIL while its sandbox is busy: a thread waiting for
    the sandbox must not hold the GIL meanwhile (no deadlock)."""
    import subprocess

    done = subprocess.run([sys.executable, "-c", THREADS_SCRIPT, built[target], f"_callbacks_threads_{target}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_callback_on_a_types_only_wasm_ffi_is_refused():
    ffi = wasmcffi.FFI(_target="wasm32")
    with pytest.raises(RuntimeError, match="sandbox"):
        ffi.callback("int(int)", lambda x: x)
    with pytest.raises(RuntimeError, match="sandbox"):
        ffi.cast("int(*)(int)", 5)(1)


_GROWING_CDEF = """
    typedef struct { unsigned char *data; size_t size; } growbuf;
    int fill(int (*each)(growbuf *, const growbuf *), int times);
    void append(growbuf *b, const unsigned char *data, size_t size);
"""
_GROWING_SOURCE = r"""
    typedef struct { unsigned char *data; size_t size; } growbuf;
    void append(growbuf *b, const unsigned char *data, size_t size) {
        b->data = realloc(b->data, b->size + size);
        memcpy(b->data + b->size, data, size);
        b->size += size;
    }
    int fill(int (*each)(growbuf *, const growbuf *), int times) {
        growbuf out = {0, 0};
        for (int i = 0; i < times; i++) { growbuf word = {(unsigned char *)"hello", 5}; each(&out, &word); }
        int size = (int)out.size;
        free(out.data);
        return size;
    }
"""


@pytest.mark.parametrize("target", ["wasm", "native"])
def test_long_call_whose_callback_calls_back_in_with_bytes(tmp_path, target):
    """A long guest call (its GIL handed back to other threads) runs a Python
    callback that calls into the module with bytes arguments (copied into the
    sandbox by an allocation, itself a guest call): the GIL stays with the
    callback until it returns."""
    ffi = wasmcffi.FFI()
    ffi.cdef(_GROWING_CDEF)
    ffi.set_source(f"_growing_{target}", _GROWING_SOURCE, target=target)
    mod = load_module(ffi.compile(tmpdir=str(tmp_path)))

    def each(out, word):
        mod.lib.append(out, word.data, word.size)
        mod.lib.append(out, b"x" * 100_000, 100_000)
        return 0

    callback = mod.ffi.callback("int(growbuf *, const growbuf *)", each)
    assert mod.lib.fill(callback, 500) == 500 * 100_005
