"""Fixtures of the real-world corpus: each library built by real cffi (the
reference) and by wasmcffi for both targets, and a check that a case gives the
same result on each."""

import importlib.util
import os
import re
import sys

import cffi
import pytest

import wasmcffi

#: (library, builder) -> (seconds, lines of C), reported at the end of the run.
BUILD_TIMES = {}


def load_module(path, name):
    """Imports the compiled module at `path` (a loader or a cffi extension) under
    `name`, importable by that name here and in child processes (its folder goes
    on `sys.path`): what pickling its functions by reference needs."""
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.append(folder)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def library_fixtures(library):
    """Module-scoped fixtures for `library`: `reference`, built by real cffi, and
    `module`, built by wasmcffi for each target (its `.target` says which).
    Assign them in a test file: `reference, module = library_fixtures(LIBRARY)`."""

    def build(tmp_path_factory, builder, ffi_class, **kwargs):
        name = f"_rw_{library.name}_{builder}"
        path, seconds = library.build(ffi_class, name, tmp_path_factory.mktemp(builder), **kwargs)
        BUILD_TIMES[library.name, builder] = (seconds, library.lines_of_c())
        return load_module(path, name)

    @pytest.fixture(scope="module")
    def reference(tmp_path_factory):
        return build(tmp_path_factory, "cffi", cffi.FFI)

    @pytest.fixture(scope="module", params=["wasm", "native"])
    def module(request, tmp_path_factory):
        mod = build(tmp_path_factory, request.param, wasmcffi.FFI, target=request.param)
        mod.target = request.param
        return mod

    return reference, module


def _comparable(value):
    """`value` with the addresses in reprs masked (they differ between runs)."""
    if isinstance(value, (list, tuple)):
        return type(value)(_comparable(v) for v in value)
    if isinstance(value, str):
        return re.sub(r"0x[0-9a-f]+", "0x?", value)
    return value


def same(case, reference, module):
    """Runs `case(ffi, lib)` on the cffi-built reference and on `module`; asserts
    that both give the same result and returns it. A case returns plain Python
    values (bytes, numbers, lists), never cdata."""
    expected = _comparable(case(reference.ffi, reference.lib))
    got = _comparable(case(module.ffi, module.lib))
    assert got == expected, f"{module.target}: {repr(got)[:800]}\ncffi: {repr(expected)[:800]}"
    return got


def pytest_terminal_summary(terminalreporter):
    if not BUILD_TIMES:
        return
    terminalreporter.section("real-world corpus: build times")
    for name in sorted({name for name, _ in BUILD_TIMES}):
        lines = next(v[1] for (n, _), v in BUILD_TIMES.items() if n == name)
        times = ", ".join(f"{builder} {BUILD_TIMES[name, builder][0]:.1f} s"
                          for builder in ("cffi", "wasm", "native") if (name, builder) in BUILD_TIMES)
        terminalreporter.write_line(f"{name}: {lines:,} lines of C; {times}")
    cache = os.environ.get("WASMCFFI_CACHE_DIR")
    terminalreporter.write_line(f"(object cache: {cache or 'default'})")
