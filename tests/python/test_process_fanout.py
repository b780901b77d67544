"""Fanning a sandboxed function out to other processes: process pools (spawn
and fork) and a Dask cluster, on functions pickled by reference. A trapping
input fails only its own task, with `wasmcffi.Trap`, and the worker goes on."""

import concurrent.futures
import multiprocessing
import os

import pytest

import wasmcffi
from conftest import fanout_module

INPUTS = list(range(40))


@pytest.fixture(scope="module", params=["wasm", "native"])
def mod(request, tmp_path_factory):
    return fanout_module(tmp_path_factory, request.param)


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_a_process_pool_maps_a_module_function(mod, method):
    context = multiprocessing.get_context(method)
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        assert list(pool.map(mod.lib.add, INPUTS, INPUTS)) == [2 * x for x in INPUTS]
        assert list(pool.map(mod.lib.checked_double, INPUTS, chunksize=8)) == [2 * x for x in INPUTS]


def _timeout_in_child(module_name):
    import importlib

    import wasmcffi

    _, lib = wasmcffi.instantiate(importlib.import_module(module_name), timeout=0.2)
    try:
        lib.spin(2**31 - 1)
    except wasmcffi.Timeout:
        return "timeout"
    return "ran to the end"


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_a_trapping_input_fails_only_its_task(tmp_path_factory, method):
    mod = fanout_module(tmp_path_factory, "wasm")
    # The fan-out pattern for untrusted inputs: an instance that resets itself
    # after a fault. Its functions pickle as "a fresh instance with auto_reset".
    _, lib = wasmcffi.instantiate(mod, auto_reset=True, timeout=5)
    context = multiprocessing.get_context(method)
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        futures = [pool.submit(lib.checked_double, x) for x in (1, -1, 2, -5, 3)]
        outcomes = [f.exception() or f.result() for f in futures]
        assert [o if isinstance(o, int) else type(o) for o in outcomes] == [2, wasmcffi.Trap, 4, wasmcffi.Trap, 6]
        # The worker's time limits still work, forked or spawned (its own ticker).
        assert pool.submit(_timeout_in_child, mod.__name__).result() == "timeout"


def test_a_dask_cluster_maps_a_sandboxed_function(tmp_path_factory, tmp_path):
    import distributed  # the test extra installs it
    mod = fanout_module(tmp_path_factory, "wasm", prefix="_dask")
    # The module goes to the workers as two files, the loader and the .wasm:
    # nothing is compiled on a worker.
    folder = os.path.dirname(mod.__file__)
    files = [os.path.join(folder, f"{mod.__name__}.wasm"), mod.__file__]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, local_directory=str(tmp_path)) as cluster, \
            distributed.Client(cluster) as client:
        for path in files:
            client.upload_file(path)
        _, lib = wasmcffi.instantiate(mod, auto_reset=True, timeout=5)
        futures = client.map(lib.checked_double, [1, 2, -3, 4, 5, 6, 7, 8], pure=False)
        distributed.wait(futures, timeout=120)
        errors = {f.key: f.exception() for f in futures if f.status == "error"}
        assert len(errors) == 1 and isinstance(next(iter(errors.values())), wasmcffi.Trap)
        assert [f.result() for f in futures if f.status == "finished"] == [2, 4, 8, 10, 12, 14, 16]
        # The workers go on after the trap.
        assert client.gather(client.map(lib.checked_double, range(10))) == [2 * x for x in range(10)]
        assert client.gather(client.map(mod.lib.add, range(10), range(10))) == [2 * x for x in range(10)]
        # Dask tokenizes a sandboxed function deterministically (by reference).
        from dask.base import tokenize
        assert tokenize(mod.lib.add) == tokenize(mod.lib.add)


def test_the_dask_example_runs():
    import subprocess
    import sys

    example = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "examples", "fanout_dask.py")
    done = subprocess.run([sys.executable, example], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "'the quick brown fox': longest word has 5 letters",
        "'sandboxes contain faults': longest word has 9 letters",
        "'an extraordinarily incomprehensible sentence': failed with Trap",
        "'dask ships the module': longest word has 6 letters",
    ]
