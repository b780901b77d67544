"""Builds compile each C file to an object, in parallel, through a cache keyed
by the command and the preprocessed text: a rebuild recompiles only the files
whose text (or included headers) changed."""

import pytest

import wasmcffi
from wasmcffi import _objects
from conftest import load_module


@pytest.fixture
def compiled(monkeypatch, tmp_path):
    """The paths of the files the compiler was run on, in order (link steps not counted)."""
    monkeypatch.setenv("WASMCFFI_CACHE_DIR", str(tmp_path / "cache"))
    runs = []
    original = _objects._compile

    def spy(unit, run):
        fresh = original(unit, run)
        if fresh:
            runs.append(unit.source)
        return fresh

    monkeypatch.setattr(_objects, "_compile", spy)
    return runs


def build(folder, target, name):
    ffi = wasmcffi.FFI()
    ffi.cdef("int total(void);")
    ffi.set_source(name, '#include "shared.h"\nint total(void) { return one() + two() + SHARED; }',
                   sources=[str(folder / "one.c"), str(folder / "two.c")], include_dirs=[str(folder)],
                   target=target)
    # Each build in a folder of its own, as separate projects would be.
    return load_module(ffi.compile(tmpdir=str(folder / name)), name).lib


@pytest.mark.parametrize("target", ["wasm", "native"])
def test_a_rebuild_recompiles_only_what_changed(tmp_path, compiled, target):
    (tmp_path / "shared.h").write_text("#define SHARED 100\nint one(void); int two(void);\n")
    (tmp_path / "one.c").write_text('#include "shared.h"\nint one(void) { return SHARED / 100; }\n')
    (tmp_path / "two.c").write_text("int two(void) { return 2; }\n")
    assert build(tmp_path, target, f"_cache_a_{target}").total() == 103
    first = len(compiled)
    assert first >= 3  # the module's C, both sources (and the guest's runtime on wasm)

    compiled.clear()
    assert build(tmp_path, target, f"_cache_b_{target}").total() == 103
    # The module's C names the module (a new name: a loaded module is not
    # loaded again), so it is new; the sources come from the cache.
    assert [p.rsplit("/", 1)[-1] for p in compiled] == [f"_cache_b_{target}.c"]

    compiled.clear()
    (tmp_path / "two.c").write_text("int two(void) { return 20; }\n")
    assert build(tmp_path, target, f"_cache_c_{target}").total() == 121
    assert sorted(p.rsplit("/", 1)[-1] for p in compiled) == [f"_cache_c_{target}.c", "two.c"]

    compiled.clear()
    (tmp_path / "shared.h").write_text("#define SHARED 1000\nint one(void); int two(void);\n")
    assert build(tmp_path, target, f"_cache_d_{target}").total() == 1030
    # A header change recompiles the files whose text it changes, and only those.
    assert sorted(p.rsplit("/", 1)[-1] for p in compiled) == [f"_cache_d_{target}.c", "one.c"]


def test_the_cache_can_be_turned_off(tmp_path, compiled, monkeypatch):
    monkeypatch.setenv("WASMCFFI_OBJECT_CACHE", "0")
    (tmp_path / "shared.h").write_text("#define SHARED 0\nint one(void); int two(void);\n")
    (tmp_path / "one.c").write_text("int one(void) { return 1; }\n")
    (tmp_path / "two.c").write_text("int two(void) { return 2; }\n")
    build(tmp_path, "native", "_cache_off_a")
    compiled.clear()
    build(tmp_path, "native", "_cache_off_a")
    assert len(compiled) == 3
    assert not (tmp_path / "cache").exists()
