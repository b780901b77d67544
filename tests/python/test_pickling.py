"""Pickling by reference: a compiled module's lib, functions, ffi and types
travel as references to the module; instances as fresh instances; primitive
cdata as values; pointers refuse. Both targets where it applies."""

import pickle

import pytest

import wasmcffi
from conftest import FANOUT_CDEF, FANOUT_SOURCE, fanout_module, load_module


@pytest.fixture(scope="module", params=["wasm", "native"])
def mod(request, tmp_path_factory):
    return fanout_module(tmp_path_factory, request.param)


def target_of(mod):
    return "wasm" if mod.__name__.endswith("_wasm") else "native"


def round_trip(obj):
    return pickle.loads(pickle.dumps(obj))


def test_module_objects_pickle_as_references(mod):
    ffi, lib = mod.ffi, mod.lib
    for obj in (lib, lib.add, ffi, ffi.typeof("int"), ffi.typeof("struct pt"),
                ffi.typeof("struct pt *"), ffi.typeof("enum color"), ffi.typeof(lib.add)):
        assert round_trip(obj) is obj, obj
    assert round_trip(lib.add)(2, 3) == 5
    # Several protocols, and one pickle holding them all.
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps((ffi, lib, lib.norm), protocol)) == (ffi, lib, lib.norm)


def test_primitive_cdata_pickle_as_their_value(mod):
    ffi = mod.ffi
    cases = [("int", -7), ("unsigned long long", 2**64 - 1), ("char", b"\xe9"), ("double", 2.5),
             ("float", 0.5), ("_Bool", True), ("enum color", 5), ("signed char", -128)]
    for cname, value in cases:
        cdata = ffi.cast(cname, value)
        back = round_trip(cdata)
        assert ffi.typeof(back) is ffi.typeof(cdata), cname
        assert repr(back) == repr(cdata), cname


def test_pointers_arrays_and_structs_refuse_to_pickle(mod):
    ffi, lib = mod.ffi, mod.lib
    for cdata, kind in [(ffi.new("int *", 3), "pointer"), (ffi.new("int[4]"), "array"),
                        (ffi.new("struct pt *")[0], "struct"), (lib.greeting(), "pointer"),
                        (ffi.cast("void *", 0), "pointer")]:
        with pytest.raises(TypeError, match=f"cannot pickle cdata .*a {kind} refers to memory"):
            pickle.dumps(cdata)


def test_what_has_no_name_refuses_to_pickle(mod, tmp_path):
    plain = wasmcffi.FFI()
    plain.cdef("struct own { int a; };")
    with pytest.raises(TypeError, match="an FFI made by FFI"):
        pickle.dumps(plain)
    with pytest.raises(TypeError, match="ctype 'struct own'.*not a compiled module's"):
        pickle.dumps(plain.typeof("struct own"))
    # A type every FFI of the target shares needs no module.
    assert round_trip(plain.typeof("char **")) is plain.typeof("char **")
    # A module loaded from a file path, not by name, cannot be imported again.
    builder = wasmcffi.FFI()
    builder.cdef(FANOUT_CDEF)
    builder.set_source("_fanout_by_path", FANOUT_SOURCE, target=target_of(mod))
    by_path = load_module(builder.compile(tmpdir=str(tmp_path)), "_fanout_by_path")
    for obj in (by_path.lib, by_path.lib.add, by_path.ffi):
        with pytest.raises(TypeError, match="was not imported by name"):
            pickle.dumps(obj)


def test_an_instance_pickles_as_a_fresh_instance_with_its_options(tmp_path_factory):
    mod = fanout_module(tmp_path_factory, "wasm")
    ffi, lib = wasmcffi.instantiate(mod, memory=32 << 20, stdout=None)
    wasmcffi.sandbox(lib).set_limits(timeout=7)
    lib.fill(100)
    ffi2, lib2, add2 = round_trip((ffi, lib, lib.add))
    assert lib2 is not lib and lib2 is not mod.lib
    assert add2 is lib2.add
    # One instance for both: the ffi's memory is the lib's.
    assert lib2.norm(ffi2.new("struct pt *", [3, -4])) == 7
    assert wasmcffi.sandbox(lib2).limits == {"memory": 32 << 20, "timeout": 7.0, "fuel": None}
    # Fresh: the state of the pickled instance did not travel (a snapshot carries it).
    assert lib2.lookup(1) == -1 and lib.lookup(1) == 10
    # A function outlives the unpickled lib it came from, and pickles again.
    add3 = round_trip(lib.add)
    assert round_trip(add3)(1, 2) == add3(1, 2) == 3
    # An instance of an instance is an instance of the module.
    _, lib3 = wasmcffi.instantiate(lib2)
    assert round_trip(lib3).lookup(0) == -1
