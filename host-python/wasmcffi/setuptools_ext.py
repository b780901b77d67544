"""setuptools integration: `setup(wasmcffi_modules=["pkg/_build.py:ffibuilder"])`.

Each entry names a build script and the FFI object in it (`ffibuilder` when
`:NAME` is left out), as CFFI's `cffi_modules` does. When the package is built
(`pip wheel`, `python -m build`, `pip install`), each module is compiled into
the build folder beside the package's Python files: its loader `<name>.py`, its
`.wasm` (or `.native.so` for `target="native"`) and its typed stub `.pyi`.

A project whose modules are all sandboxed has nothing platform-specific in it:
its wheel is `py3-none-any`, and installs where no compiler exists. One native
module makes it a platform wheel, as with CFFI.

The setup keyword is registered by wasmcffi (entry point
`distutils.setup_keywords`), so a project needs `wasmcffi[build]` in its
`[build-system] requires`.
"""

import os
import shutil
import tempfile

from setuptools.command.build_py import build_py
from setuptools.errors import SetupError

from . import build, cli


def _builders(dist):
    """`(script, FFI)` of each entry of the distribution's `wasmcffi_modules`."""
    root = os.path.dirname(os.path.abspath(dist.script_name or "setup.py"))
    found = []
    for entry in dist.wasmcffi_modules:
        script, _, name = entry.partition(":")
        found.append(cli.load_builder(os.path.join(root, script) + (":" + name if name else "")))
    return found


#: The files of a compiled module that ship: the loader, the artifact, the stub.
SHIPPED_SUFFIXES = (".py", ".pyi", ".wasm", ".native.so")


def install_module(builder, build_lib, verbose=False):
    """Compiles `builder`'s module in a temporary folder and copies the files
    that ship into `build_lib` (a dotted name into its package's folder); the
    C and the objects stay behind."""
    name = builder._spec("compile").module_name
    with tempfile.TemporaryDirectory(prefix="wasmcffi_build_") as tmp:
        builder.compile(tmpdir=tmp, verbose=verbose)
        built, installed = build.module_base(tmp, name), build.module_base(build_lib, name)
        for suffix in SHIPPED_SUFFIXES:
            if os.path.exists(built + suffix):
                shutil.copyfile(built + suffix, installed + suffix)


def wasmcffi_modules(dist, attr, value):
    """The `wasmcffi_modules=[...]` setup keyword: checks its value and makes the
    build compile each module (its loader, artifact and stub) into the package."""
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise SetupError(f"{attr} must be a list of 'path/to/build.py[:ffi_name]' strings, not {value!r}")
    dist.wasmcffi_modules = list(value)
    if any(builder._spec("compile").target == "native" for _, builder in _builders(dist)):
        # A native module is a shared library: the wheel is for this platform.
        dist.has_ext_modules = lambda: True
    base = dist.cmdclass.get("build_py", build_py)

    class BuildWithModules(base):
        """build_py, then each wasmcffi module compiled into the build folder."""

        def run(self):
            super().run()
            for _, builder in _builders(self.distribution):
                install_module(builder, self.build_lib, self.verbose > 1)

    dist.cmdclass["build_py"] = BuildWithModules
