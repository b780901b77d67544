"""A project ships sandboxed modules as a wheel: `setup(wasmcffi_modules=[...])`
builds them into the package, a project whose modules are all sandboxed gives
a `py3-none-any` wheel, and that wheel runs where only plain `wasmcffi` is
installed (no ziglang, no C compiler on PATH)."""

import os
import subprocess
import sys
import zipfile

import pytest

HOST_PYTHON = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "host-python")

BUILD_SCRIPT = '''
import wasmcffi

ffibuilder = wasmcffi.FFI()
ffibuilder.cdef("uint32_t fnv1a(const unsigned char *data, size_t size);")
ffibuilder.set_source("shash._hash", """
    uint32_t fnv1a(const unsigned char *data, size_t size) {
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 16777619u;
        return h;
    }
""", target=TARGET)
'''


def fnv1a(data):
    h = 2166136261
    for byte in data:
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def run(args, **kwargs):
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def sample_project(folder, target):
    (folder / "shash").mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=70.1", "wasmcffi[build]"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "shash"\nversion = "1.0"\ndependencies = ["wasmcffi"]\n')
    (folder / "setup.py").write_text(
        'from setuptools import setup\n\nsetup(packages=["shash"], wasmcffi_modules=["shash/_build.py:ffibuilder"])\n')
    (folder / "shash" / "__init__.py").write_text(
        "from ._hash import ffi, lib\n\n\ndef fnv1a(data):\n    return lib.fnv1a(data, len(data))\n")
    (folder / "shash" / "_build.py").write_text(BUILD_SCRIPT.replace("TARGET", repr(target)))
    return folder


def build_wheel(project, out):
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps", str(project), "-w", str(out)])
    wheel, = out.glob("*.whl")
    return wheel


def test_sandboxed_project_wheel_runs_without_a_compiler(tmp_path):
    wheel = build_wheel(sample_project(tmp_path / "project", "wasm"), tmp_path / "dist")
    assert wheel.name == "shash-1.0-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert {"shash/_hash.py", "shash/_hash.pyi", "shash/_hash.wasm"} <= set(names)
    assert not [n for n in names if n.endswith((".c", ".o"))]

    # wasmcffi's own wheel (the debug build the tests use, so no rebuild).
    env = dict(os.environ, MATURIN_PEP517_ARGS="--profile dev")
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps", HOST_PYTHON,
         "-w", str(tmp_path / "runtime")], env=env)
    runtime, = (tmp_path / "runtime").glob("wasmcffi-*.whl")

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    run([python, "-m", "pip", "install", "-q", "--no-index", str(runtime), str(wheel)])
    installed = run([python, "-m", "pip", "list", "--format=freeze"]).lower()
    assert "ziglang" not in installed and "shash==1.0" in installed
    # Nothing but the venv on PATH: no compiler can be found.
    out = run([python, "-c", "import shash; print(shash.fnv1a(b'sandboxed'))"],
              env={"PATH": str(venv / "bin"), "HOME": str(tmp_path)}, cwd=str(tmp_path))
    assert int(out) == fnv1a(b"sandboxed")


def test_a_native_module_makes_a_platform_wheel(tmp_path):
    wheel = build_wheel(sample_project(tmp_path / "project", "native"), tmp_path / "dist")
    assert not wheel.name.endswith("-none-any.whl")
    assert "shash/_hash.native.so" in zipfile.ZipFile(wheel).namelist()


def test_the_setup_keyword_wants_a_list(tmp_path):
    project = sample_project(tmp_path / "project", "wasm")
    (project / "setup.py").write_text('from setuptools import setup\nsetup(wasmcffi_modules="shash/_build.py")\n')
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps",
                           str(project), "-w", str(tmp_path / "dist")], capture_output=True, text=True)
    assert done.returncode != 0 and "must be a list" in done.stdout + done.stderr
