"""Loading a compiled `set_source()` module: its `ffi` (bound to the module's
target) and its `lib` (calls into the sandbox, or into the native library)."""

import os
import sys

from . import _wasmcffi


def _output(stream_name):
    """A sink writing guest output to the current `sys.stdout` / `sys.stderr`."""

    def write(data):
        stream = getattr(sys, stream_name)
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            stream.flush()
            buffer.write(data)
            buffer.flush()
        else:
            stream.write(data.decode("utf-8", "replace"))

    return write


def open_sandbox(wasm_path, **limits):
    """A fresh sandbox running the module at `wasm_path`."""
    return _wasmcffi.Sandbox(wasm_path, _output("stdout"), _output("stderr"), **limits)


def read_layout_table(target, artifact):
    """The compiler's answers stored in the module by the glue (`_cffi_layout`)."""
    if target == "wasm":
        return open_sandbox(artifact).layout_table()
    from .api import FFI

    ffi = FFI()
    ffi.cdef("const unsigned long long *_cffi_layout(void); unsigned long long _cffi_layout_len(void);")
    lib = ffi.dlopen(os.path.abspath(artifact))
    return list(ffi.unpack(lib._cffi_layout(), lib._cffi_layout_len()))


def make_ffi(target, artifact, cdefs, table, check_only=False, sandbox=None):
    """The module's `ffi`: the same cdefs, completed with the compiler's table."""
    from .api import FFI

    if target == "wasm":
        sandbox = sandbox or (None if check_only else open_sandbox(artifact))
        ffi = FFI(_target="wasm32", _sandbox=sandbox)
    else:
        ffi = FFI()
    for csource, options in cdefs:
        ffi.cdef(csource, **options)
    ffi._complete(table)
    return ffi


def load(loader_file, target, artifact, cdefs, table):
    """`(ffi, lib)` of a compiled module, for its generated loader."""
    here = os.path.dirname(os.path.abspath(loader_file))
    name = os.path.splitext(os.path.basename(loader_file))[0]
    path = os.path.join(here, artifact)
    if target == "wasm":
        sandbox = open_sandbox(path)
        ffi = make_ffi(target, path, cdefs, table, sandbox=sandbox)
        lib = _wasmcffi.ModuleLib(ffi, sandbox, None, name)
    else:
        ffi = make_ffi(target, path, cdefs, table)
        lib = _wasmcffi.ModuleLib(ffi, None, path, name)
    ffi._lib = lib  # for @ffi.def_extern()
    return ffi, lib
