"""Loading a compiled `set_source()` module: its `ffi` (bound to the module's
target) and its `lib` (calls into the sandbox, or into the native library)."""

import io
import os
import sys

from . import _wasmcffi
from . import api as _api

#: Where a sandbox's stdout/stderr go unless told otherwise: Python's streams.
DEFAULT_OUTPUT = object()


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


#: The default sinks (each looks up its stream when it writes, so one of each serves all).
_DEFAULT_SINKS = {"stdout": _output("stdout"), "stderr": _output("stderr")}


def _sink(target, stream_name):
    """The sink for one output stream: Python's `sys.<stream_name>` by default, None
    to drop the bytes, a callable taking bytes, or a file-like object."""
    if target is DEFAULT_OUTPUT:
        return _DEFAULT_SINKS[stream_name]
    if target is None or callable(target):
        return target
    if not hasattr(target, "write"):
        raise TypeError(f"{stream_name}= must be None, a callable taking bytes or a file-like object")
    if isinstance(target, io.TextIOBase):
        return lambda data: target.write(data.decode("utf-8", "replace"))
    return target.write


def sandbox_options(stdout=DEFAULT_OUTPUT, stderr=DEFAULT_OUTPUT, dirs=None, writable_dirs=None,
                    env=None, args=None, **limits):
    """The positional and keyword arguments of `_wasmcffi.Sandbox` for the options
    of `wasmcffi.instantiate()` (see there)."""
    options = dict(limits)
    if dirs or writable_dirs:
        grants = [(os.fspath(host), str(guest), False) for guest, host in (dirs or {}).items()]
        grants += [(os.fspath(host), str(guest), True) for guest, host in (writable_dirs or {}).items()]
        options["dirs"] = grants
    if env:
        options["env"] = [(str(k), str(v)) for k, v in env.items()]
    if args:
        options["args"] = [str(a) for a in args]
    return (_sink(stdout, "stdout"), _sink(stderr, "stderr")), options


def open_sandbox(wasm_path, **options):
    """A fresh sandbox running the module at `wasm_path` (options as for
    `wasmcffi.instantiate()`)."""
    streams, options = sandbox_options(**options)
    return _wasmcffi.Sandbox(wasm_path, *streams, **options)


def read_layout_table(target, artifact):
    """The compiler's answers stored in the module by the glue (`_cffi_layout`)."""
    if target == "wasm":
        return open_sandbox(artifact).layout_table()
    ffi = _api.FFI()
    ffi.cdef("const unsigned long long *_cffi_layout(void); unsigned long long _cffi_layout_len(void);")
    lib = ffi.dlopen(os.path.abspath(artifact))
    return list(ffi.unpack(lib._cffi_layout(), lib._cffi_layout_len()))


def make_ffi(target, artifact, cdefs, table, check_only=False, sandbox=None):
    """The module's `ffi`: the same cdefs, completed with the compiler's table."""
    if target == "wasm":
        sandbox = sandbox or (None if check_only else open_sandbox(artifact))
        ffi = _api.FFI(_target="wasm32", _sandbox=sandbox)
    else:
        ffi = _api.FFI()
    for csource, options in cdefs:
        ffi.cdef(csource, **options)
    for module in dict.fromkeys(o["_included_from"] for _, o in cdefs if "_included_from" in o):
        # ffi.include() of another compiled module: its type objects, shared.
        import importlib

        ffi._adopt_types(importlib.import_module(module).ffi)
    ffi._complete(table)
    ffi._refuse_unknown_tags()  # as CFFI's compiled modules' ffi
    return ffi


def load(loader_file, target, artifact, cdefs, table):
    """`(ffi, lib)` of a compiled module, for its generated loader."""
    here = os.path.dirname(os.path.abspath(loader_file))
    name = os.path.splitext(os.path.basename(loader_file))[0]
    path = os.path.join(here, artifact)
    if target == "wasm":
        sandbox = open_sandbox(path)
        ffi, lib = sandboxed_pair(sandbox, cdefs, table, name)
    else:
        ffi = make_ffi(target, path, cdefs, table)
        lib = _wasmcffi.ModuleLib(ffi, None, path, name)
        ffi._lib = lib  # for @ffi.def_extern()
    ffi._module_name = name  # for ffi.include() of this module's ffi
    # `from module.lib import f` works, as with CFFI's modules (for a module
    # imported into sys.modules; verify() loads its modules privately).
    module_name = sys._getframe(1).f_globals.get("__name__")
    importable = module_name in sys.modules
    if importable:
        sys.modules[f"{module_name}.lib"] = lib
    # Pickled by reference to the module, when it can be imported again by name.
    from . import _pickling

    _pickling.register_module(module_name if importable else None, ffi, lib)
    return ffi, lib


#: The key under which a sandboxed `lib` keeps `(its sandbox, its module's _Instances)`.
_INSTANCE_KEY = "_wasmcffi_instance"


class _Instances:
    """What making more instances of a sandboxed module takes: the module's
    cdefs, layout table and name, and (made at the first `instantiate()`) a
    declarations-only FFI that every new instance's ffi copies instead of
    parsing the cdefs and the table again."""

    def __init__(self, cdefs, table, name):
        self.cdefs = cdefs
        self.table = table
        self.name = name
        self._template = None

    def pair(self, sandbox):
        """`(ffi, lib)` of a new instance running in `sandbox`."""
        if self._template is None:
            self._template = make_ffi("wasm", None, self.cdefs, self.table, check_only=True)
        ffi = _api.FFI(_target="wasm32", _sandbox=sandbox, _template=self._template)
        ffi._cdef_log = list(self._template._cdef_log)
        return _lib_for(ffi, sandbox, self)


def sandboxed_pair(sandbox, cdefs, table, name=""):
    """`(ffi, lib)` for the first instance of module `name`, running in `sandbox`."""
    ffi = make_ffi("wasm", None, cdefs, table, sandbox=sandbox)
    return _lib_for(ffi, sandbox, _Instances(cdefs, table, name))


def _lib_for(ffi, sandbox, instances):
    lib = _wasmcffi.ModuleLib(ffi, sandbox, None, instances.name)
    lib.__dict__[_INSTANCE_KEY] = (sandbox, instances)
    ffi._lib = lib  # for @ffi.def_extern()
    return ffi, lib


def instance_of(module_or_lib):
    """`(sandbox, _Instances)` of a sandboxed module's instance (its module object or its lib)."""
    lib = getattr(module_or_lib, "lib", module_or_lib)
    state = getattr(lib, "__dict__", {}).get(_INSTANCE_KEY) if isinstance(lib, _wasmcffi.ModuleLib) else None
    if state is None:
        raise TypeError(
            f"expected a sandboxed module compiled by wasmcffi (its module or its lib), "
            f"not {type(module_or_lib).__name__}: native modules and dlopen() libraries have no sandbox"
        )
    return state
