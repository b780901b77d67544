"""Instance snapshots: `sandbox(lib).snapshot()` and
`instantiate(module, snapshot=)`, here and in another process; snapshots of
another module and corrupted ones are refused without harm."""

import concurrent.futures
import multiprocessing
import pickle
import random
import struct

import pytest

import wasmcffi
from conftest import fanout_module, importable_module

SIZES = [1, 300, 70_000, 3 << 20]  # bytes of warm-up table: within one page, across pages


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    return fanout_module(tmp_path_factory, "wasm")


def warmed(mod, size, **options):
    ffi, lib = wasmcffi.instantiate(mod, **options)
    assert lib.fill(size) == size
    return ffi, lib


def probes(lib, size):
    return [lib.lookup(i) for i in (0, 1, size // 2, size - 1, 12_345)]


@pytest.mark.parametrize("size", SIZES)
def test_a_restored_instance_has_the_state_of_the_snapshot(mod, size):
    _, lib = warmed(mod, size)
    data = wasmcffi.sandbox(lib).snapshot()
    assert isinstance(data, bytes)
    ffi2, lib2 = wasmcffi.instantiate(mod, snapshot=data)
    assert probes(lib2, size) == probes(lib, size)
    # The two instances are independent from then on.
    lib2.fill(5)
    assert probes(lib, size) != probes(lib2, 5)
    # The restored heap is whole: it allocates and frees as before.
    assert lib2.norm(ffi2.new("struct pt *", [1, 2])) == 3
    # reset() goes back to the module's fresh state.
    wasmcffi.sandbox(lib2).reset()
    assert lib2.lookup(0) == -1


def _restore_in_child(module_name, data, size):
    import importlib

    import wasmcffi

    _, lib = wasmcffi.instantiate(importlib.import_module(module_name), snapshot=data)
    return [lib.lookup(i) for i in (0, 1, size // 2, size - 1, 12_345)]


def test_a_snapshot_restores_in_another_process(mod):
    size = 100_000
    _, lib = warmed(mod, size)
    data = wasmcffi.sandbox(lib).snapshot()
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert pool.submit(_restore_in_child, mod.__name__, data, size).result() == probes(lib, size)


def test_an_instance_made_from_a_snapshot_pickles_with_it(mod):
    _, lib = warmed(mod, 999)
    _, lib2 = wasmcffi.instantiate(mod, snapshot=wasmcffi.sandbox(lib).snapshot())
    assert probes(pickle.loads(pickle.dumps(lib2)), 999) == probes(lib, 999)


def test_a_snapshot_of_another_module_is_refused(mod, tmp_path):
    other = importable_module(tmp_path, "_snapshot_other", "int one(void);", "int one(void) { return 1; }", "wasm")
    data = wasmcffi.sandbox(other.lib).snapshot()
    with pytest.raises(wasmcffi.SnapshotError, match="another module"):
        wasmcffi.instantiate(mod, snapshot=data)


def test_bad_snapshots_are_refused(mod):
    _, lib = warmed(mod, 70_000)
    data = wasmcffi.sandbox(lib).snapshot()
    head = len(b"wasmcffi-snapshot")
    version, digest, size, pages, packing, checksum = struct.unpack_from("<H32sQIBI", data, head)
    body = data[head + struct.calcsize("<H32sQIBI"):]

    def header(**fields):
        values = dict(version=version, digest=digest, size=size, pages=pages, packing=packing, checksum=checksum)
        values.update(fields)
        return b"wasmcffi-snapshot" + struct.pack("<H32sQIBI", *values.values())

    cases = {
        "no snapshot header": b"not a snapshot",
        "format version 9": header(version=9) + body,
        "pages of a": header(pages=pages, size=size + 1) + body,
        "not the size": data[:-1],
        "unknown packing": header(packing=7) + body,
        "checksum": header(checksum=checksum ^ 1) + body,
    }
    for message, bad in cases.items():
        with pytest.raises(wasmcffi.SnapshotError, match=message):
            wasmcffi.instantiate(mod, snapshot=bad)
    # A decompression bomb stops at the size the header announces.
    import zlib
    bomb = zlib.compress(bytes(1 << 24), 9)
    with pytest.raises(wasmcffi.SnapshotError):
        wasmcffi.instantiate(mod, snapshot=header(pages=1, packing=1) + bomb)
    with pytest.raises(TypeError, match="snapshot= must be bytes"):
        wasmcffi.instantiate(mod, snapshot="text")


def test_random_corruption_never_harms_the_host(mod):
    _, lib = warmed(mod, 3000)
    data = wasmcffi.sandbox(lib).snapshot()
    rng = random.Random(19)
    outcomes = set()
    for _ in range(300):
        bad = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            bad[rng.randrange(len(bad))] = rng.randrange(256)
        try:
            _, restored = wasmcffi.instantiate(mod, snapshot=bytes(bad))
            restored.lookup(1)  # whatever state it holds, the sandbox contains it
            outcomes.add("restored")
        except (wasmcffi.SnapshotError, wasmcffi.SandboxError, MemoryError) as e:
            outcomes.add(type(e).__name__)
    assert "SnapshotError" in outcomes
    assert lib.lookup(1) == 10  # the host and the original instance are unharmed


def test_a_snapshot_larger_than_the_memory_limit_is_refused(mod):
    _, lib = warmed(mod, 8 << 20)
    data = wasmcffi.sandbox(lib).snapshot()
    with pytest.raises(MemoryError, match="beyond this instance's memory limit"):
        wasmcffi.instantiate(mod, snapshot=data, memory=4 << 20)


def test_no_snapshot_of_a_poisoned_instance_or_inside_a_call(mod):
    ffi, lib = wasmcffi.instantiate(mod)
    sandbox = wasmcffi.sandbox(lib)
    seen = []

    @ffi.callback("int(int)")
    def inside(x):
        try:
            sandbox.snapshot()
        except Exception as e:
            seen.append(e)
        return x

    assert lib.apply(inside, 4) == 4
    assert isinstance(seen[0], RuntimeError) and "inside a call" in str(seen[0])
    with pytest.raises(wasmcffi.Trap):
        lib.checked_double(-1)
    with pytest.raises(wasmcffi.Trap, match="poisoned"):
        sandbox.snapshot()
