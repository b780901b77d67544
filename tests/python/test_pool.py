"""`wasmcffi.Pool`: instances of one module serving calls from many threads."""

import threading

import pytest

import wasmcffi
from conftest import fanout_module


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    return fanout_module(tmp_path_factory, "wasm")


def test_eight_threads_and_one_faulting_call(mod):
    pool = wasmcffi.Pool(mod, size=3)
    results, errors = {}, []

    def worker(t):
        for i in range(200):
            x = t * 1000 + i
            try:
                results[x] = pool.lib.checked_double(-1 if (t, i) == (5, 100) else x)
            except wasmcffi.Trap as e:
                errors.append((t, i, e))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [(t, i) for t, i, _ in errors] == [(5, 100)]
    assert len(results) == 8 * 200 - 1
    assert all(value == 2 * x for x, value in results.items())
    assert pool.replaced == 1  # only the instance that faulted
    # Every instance is usable afterwards.
    with pool.instance() as (_, a), pool.instance() as (_, b), pool.instance() as (_, c):
        assert {wasmcffi.sandbox(lib).poisoned for lib in (a, b, c)} == {None}
        assert len({id(lib) for lib in (a, b, c)}) == 3


def test_work_in_steps_takes_one_instance(mod):
    pool = wasmcffi.Pool(mod, size=2, snapshot=None)
    with pool.instance() as (ffi, lib):
        lib.fill(50)
        assert lib.norm(ffi.new("struct pt *", [2, -2])) == 4
        assert lib.lookup(1) == 10


def test_a_pool_of_warm_instances_from_a_snapshot(mod):
    _, lib = wasmcffi.instantiate(mod)
    lib.fill(1000)
    pool = wasmcffi.Pool(mod, size=2, snapshot=wasmcffi.sandbox(lib).snapshot())
    assert {pool.lib.lookup(999) for _ in range(4)} == {lib.lookup(999)}
    # A replaced instance starts from the snapshot too.
    with pytest.raises(wasmcffi.Trap):
        pool.lib.checked_double(-1)
    assert [pool.lib.lookup(999) for _ in range(4)] == [lib.lookup(999)] * 4


def test_what_a_pool_lib_refuses(mod, tmp_path_factory):
    pool = wasmcffi.Pool(mod, size=1)
    with pytest.raises(TypeError, match="returns 'char \\*'.*pool.instance"):
        pool.lib.greeting
    with pytest.raises(TypeError, match="another sandbox instance|different"):
        pool.lib.norm(mod.ffi.new("struct pt *"))
    native = fanout_module(tmp_path_factory, "native")
    with pytest.raises(TypeError, match="native modules"):
        wasmcffi.Pool(native, size=1)
    with pytest.raises(ValueError, match="at least 1"):
        wasmcffi.Pool(mod, size=0)
    pool.close()
    with pytest.raises(ValueError, match="closed"):
        pool.lib.add(1, 2)
