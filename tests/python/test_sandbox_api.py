"""The sandbox control API: `wasmcffi.sandbox(lib)`, `Sandbox.set_limits`,
`usage`, `reset`, `poisoned`, and `wasmcffi.instantiate(wasm_module, ...)`.

Behaviour that exists on both targets runs on both; what a native module lacks (a
sandbox) must be refused clearly there.
"""

import gc
import io
import os
import resource
import subprocess
import sys
import weakref

import pytest

import wasmcffi
from conftest import load_module

SOURCE = r"""
#include <stdio.h>
int counter = 10;
int bump(void) { return ++counter; }
int add(int a, int b) { return a + b; }
void do_trap(void) { __builtin_trap(); }
void spin(void) { for (volatile int i = 0;; i++) {} }
void say(const char *s) { printf("%s\n", s); fflush(stdout); }
"""
CDEF = """
    extern int counter;
    int bump(void);
    int add(int, int);
    void do_trap(void);
    void spin(void);
    void say(const char *);
"""


@pytest.fixture(scope="module", params=["wasm", "native"])
def module(request, tmp_path_factory):
    ffibuilder = wasmcffi.FFI()
    ffibuilder.cdef(CDEF)
    name = f"_sbapi_{request.param}"
    ffibuilder.set_source(name, SOURCE, target=request.param)
    mod = load_module(ffibuilder.compile(tmpdir=str(tmp_path_factory.mktemp(request.param))))
    mod.target = request.param
    return mod


@pytest.fixture(scope="module")
def wasm_module(tmp_path_factory):
    """The sandboxed build alone, for what only sandboxed modules have (on the
    native build, `test_sandbox_of_lib_or_module` checks it is refused)."""
    ffibuilder = wasmcffi.FFI()
    ffibuilder.cdef(CDEF)
    ffibuilder.set_source("_sbapi_only_wasm", SOURCE)
    return load_module(ffibuilder.compile(tmpdir=str(tmp_path_factory.mktemp("wasm_only"))))


@pytest.fixture
def fresh(wasm_module):
    """A fresh `(ffi, lib)` of the sandboxed module."""
    return wasmcffi.instantiate(wasm_module)


def test_sandbox_of_lib_or_module(module):
    if module.target == "native":
        for obj in (module, module.lib):
            with pytest.raises(TypeError, match="native modules"):
                wasmcffi.sandbox(obj)
        with pytest.raises(TypeError, match="native modules"):
            wasmcffi.instantiate(module)
        return
    sb = wasmcffi.sandbox(module.lib)
    assert isinstance(sb, wasmcffi.Sandbox)
    assert wasmcffi.sandbox(module) is sb
    assert "generation" in repr(sb)


def test_sandbox_of_other_objects_is_a_type_error():
    for obj in (None, 42, wasmcffi.FFI()):
        with pytest.raises(TypeError):
            wasmcffi.sandbox(obj)


def test_default_limits_and_set_limits(fresh):
    sb = wasmcffi.sandbox(fresh[1])
    assert sb.limits == {"memory": 1 << 30, "timeout": None, "fuel": None}
    sb.set_limits(timeout=0.25)
    assert sb.limits == {"memory": 1 << 30, "timeout": 0.25, "fuel": None}
    sb.set_limits(memory=None)
    assert sb.limits["memory"] == 1 << 32 and sb.limits["timeout"] == 0.25
    sb.set_limits(memory=8 << 20, timeout=None)
    assert sb.limits == {"memory": 8 << 20, "timeout": None, "fuel": None}


@pytest.mark.parametrize("kwargs, error", [
    ({"timeout": 0}, ValueError),
    ({"timeout": -1.0}, ValueError),
    ({"timeout": float("nan")}, ValueError),
    ({"memory": -1}, ValueError),
    ({"memory": "big"}, TypeError),
    ({"fuel": 100}, ValueError),   # not a metered instance
    ({"cpu": 1}, TypeError),
])
def test_bad_limits_are_refused(fresh, kwargs, error):
    sb = wasmcffi.sandbox(fresh[1])
    before = sb.limits
    with pytest.raises(error):
        sb.set_limits(**kwargs)
    assert sb.limits == before


def test_unknown_instantiate_option_is_a_type_error(wasm_module):
    with pytest.raises(TypeError, match="unknown sandbox option"):
        wasmcffi.instantiate(wasm_module, cpus=2)


def test_usage_counts_calls_and_traps(fresh):
    ffi, lib = fresh
    sb = wasmcffi.sandbox(lib)
    before = sb.usage
    assert lib.add(1, 2) == 3
    with pytest.raises(wasmcffi.Trap):
        lib.do_trap()
    after = sb.usage
    assert after["calls"] >= before["calls"] + 2
    assert after["traps"] == before["traps"] + 1
    assert after["memory"] > 0 and after["fuel"] == 0


def test_fuel_usage_of_a_metered_instance(wasm_module):
    ffi, lib = wasmcffi.instantiate(wasm_module, fuel=1_000_000)
    sb = wasmcffi.sandbox(lib)
    assert sb.metered and sb.limits["fuel"] == 1_000_000
    before = sb.usage["fuel"]
    lib.add(1, 2)
    assert sb.usage["fuel"] > before
    sb.set_limits(fuel=None)
    assert sb.limits["fuel"] is None and sb.metered


def test_instances_are_isolated(wasm_module):
    (f1, l1), (f2, l2) = wasmcffi.instantiate(wasm_module), wasmcffi.instantiate(wasm_module)
    assert (l1.bump(), l1.bump(), l2.bump()) == (11, 12, 11)
    assert (l1.counter, l2.counter) == (12, 11)
    assert wasmcffi.sandbox(l1) is not wasmcffi.sandbox(l2)
    p1, p2 = f1.new("int *", 5), f2.new("int *", 6)
    assert (p1[0], p2[0]) == (5, 6)
    with pytest.raises(TypeError, match="another sandbox instance"):
        l2.say(f1.new("char[]", b"one"))
    l1.say(f1.new("char[]", b"one"))


def test_instances_copy_the_module_declarations(wasm_module):
    # A new instance's ffi starts from a copy of the module's declarations
    # (not a re-parse); adding to one instance's ffi changes no other one.
    f1, l1 = wasmcffi.instantiate(wasm_module)
    f1.cdef("typedef short only_in_f1_t;")
    f2, l2 = wasmcffi.instantiate(wasm_module)
    assert f2.sizeof("long") == wasm_module.ffi.sizeof("long") == f1.sizeof("long")
    # Types with no struct, union or enum are shared by every FFI, as in CFFI.
    assert f2.typeof("int *") is f1.typeof("int *")
    assert f1.sizeof("only_in_f1_t") == f1.sizeof("short")
    with pytest.raises(wasmcffi.CDefError, match="only_in_f1_t"):
        f2.sizeof("only_in_f1_t")
    assert (l2.counter, l2.bump()) == (10, 11)


def test_a_dropped_instance_is_freed_without_the_garbage_collector(wasm_module):
    gc.collect()
    gc.disable()
    try:
        ffi, lib = wasmcffi.instantiate(wasm_module)
        gone = weakref.ref(lib)
        del ffi, lib
        assert gone() is None
    finally:
        gc.enable()


def test_a_dropped_lib_releases_its_dict(wasm_module, libc_path):
    """Each lib's `__dict__` (its cached functions, its pickling reference) goes
    with it: PyO3 before 0.30 leaked it, one per instance."""
    ffi, lib = wasmcffi.instantiate(wasm_module)
    lib.bump  # something cached in it
    host = wasmcffi.FFI()
    host.cdef("size_t strlen(const char *);")
    libc = host.dlopen(libc_path)
    libc.strlen
    dicts = [lib.__dict__, libc.__dict__]
    baseline = [sys.getrefcount(d) for d in dicts]
    del ffi, lib, host, libc
    gc.collect()
    assert [sys.getrefcount(d) for d in dicts] == [n - 1 for n in baseline]


def test_poisoned_until_reset_then_fresh(fresh):
    ffi, lib = fresh
    sb = wasmcffi.sandbox(lib)
    lib.bump()
    assert sb.poisoned is None
    with pytest.raises(wasmcffi.Trap):
        lib.do_trap()
    assert "unreachable" in sb.poisoned
    with pytest.raises(wasmcffi.Trap, match="reset"):
        lib.add(1, 1)
    generation = sb.generation
    sb.reset()
    assert sb.poisoned is None and sb.generation == generation + 1
    assert lib.counter == 10, "globals start over"
    assert lib.add(1, 1) == 2


def test_cdata_of_a_reset_instance(fresh):
    ffi, lib = fresh
    old = ffi.new("int[2]", [1, 2])
    value = ffi.cast("int", 7)
    wasmcffi.sandbox(lib).reset()
    with pytest.raises(wasmcffi.SandboxError, match="reset"):
        old[0]
    with pytest.raises(wasmcffi.SandboxError, match="reset"):
        lib.say(old)
    assert int(value) == 7, "a value cdata lives on the host"
    new = ffi.new("int[2]", [3, 4])
    assert list(new) == [3, 4]


def test_auto_reset(wasm_module):
    ffi, lib = wasmcffi.instantiate(wasm_module, auto_reset=True)
    sb = wasmcffi.sandbox(lib)
    assert sb.auto_reset
    lib.bump()
    with pytest.raises(wasmcffi.Trap):
        lib.do_trap()
    assert sb.poisoned is None
    assert lib.bump() == 11


def test_timeout_from_instantiate(wasm_module):
    ffi, lib = wasmcffi.instantiate(wasm_module, timeout=0.05)
    with pytest.raises(wasmcffi.Timeout):
        lib.spin()
    assert isinstance(wasmcffi.Timeout("x"), wasmcffi.SandboxError)


@pytest.mark.parametrize("target_kind", ["callable", "binary file", "text file", "none"])
def test_stdout_routing(wasm_module, target_kind, capfd):
    got = []
    sink = {
        "callable": got.append,
        "binary file": io.BytesIO(),
        "text file": io.StringIO(),
        "none": None,
    }[target_kind]
    ffi, lib = wasmcffi.instantiate(wasm_module, stdout=sink)
    lib.say(b"routed")
    if target_kind == "callable":
        assert b"".join(got) == b"routed\n"
    elif target_kind != "none":
        assert sink.getvalue() in (b"routed\n", "routed\n")
    assert "routed" not in capfd.readouterr().out


def test_bad_stdout_is_a_type_error(wasm_module):
    with pytest.raises(TypeError, match="stdout"):
        wasmcffi.instantiate(wasm_module, stdout=42)


def test_missing_granted_directory_is_an_os_error(wasm_module, tmp_path):
    with pytest.raises(OSError, match="cannot grant directory"):
        wasmcffi.instantiate(wasm_module, dirs={"/data": os.path.join(str(tmp_path), "missing")})


def test_instances_without_room_for_the_instance_pool(wasm_module):
    # The pool of instance slots reserves terabytes of address space; where a
    # limit on address space refuses that, sandboxes are made without the pool.
    here = os.path.dirname(wasm_module.__file__)
    code = (
        f"import sys; sys.path.insert(0, {here!r}); import wasmcffi; import _sbapi_only_wasm as m; "
        "pairs = [wasmcffi.instantiate(m) for _ in range(3)]; "
        "print(m.lib.add(2, 3), [lib.bump() for ffi, lib in pairs])"
    )

    def limit_address_space():
        resource.setrlimit(resource.RLIMIT_AS, (64 << 30, 64 << 30))

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          preexec_fn=limit_address_space)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["5", "[11,", "11,", "11]"]


def test_bytes_arguments_after_a_reset(wasm_module):
    # Copies of bytes arguments reuse a block of sandbox memory between calls;
    # after a reset that block belongs to the old instance and is made anew.
    got = []
    ffi, lib = wasmcffi.instantiate(wasm_module, stdout=got.append)
    kept = ffi.new("char[]", b"kept")
    lib.say(b"before")
    wasmcffi.sandbox(lib).reset()
    fresh = ffi.new("char[]", b"fresh")
    lib.say(b"after the reset")
    lib.say(b"and again")
    assert b"".join(got) == b"before\nafter the reset\nand again\n"
    assert ffi.string(fresh) == b"fresh"
    with pytest.raises(wasmcffi.SandboxError, match="reset"):
        kept[0]
