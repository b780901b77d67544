"""The user-facing `FFI` class: the Rust core plus CFFI's pure-Python conveniences."""

import functools
import os
import threading
import weakref

from . import _wasmcffi


class FFI(_wasmcffi._FFI):
    """CFFI's `FFI`: declare C with `cdef()`, then make and use cdata.

    This FFI describes host C (the machine's own data model). Sandboxed
    modules get their own `ffi`, bound to wasm32, from their compiled module.
    """

    #: The exception CFFI raises for its own errors (`ffi.error`).
    error = _wasmcffi.FFIError
    #: Base class of every cdata object.
    CData = _wasmcffi.CData
    #: Class of ctype objects.
    CType = _wasmcffi.CType
    #: The buffer class returned by `ffi.buffer()`.
    buffer_type = _wasmcffi.buffer

    RTLD_LAZY = getattr(os, "RTLD_LAZY", 1)
    RTLD_NOW = getattr(os, "RTLD_NOW", 2)
    RTLD_GLOBAL = getattr(os, "RTLD_GLOBAL", 0x100)
    RTLD_LOCAL = getattr(os, "RTLD_LOCAL", 0)
    RTLD_NODELETE = getattr(os, "RTLD_NODELETE", 0x1000)
    RTLD_NOLOAD = getattr(os, "RTLD_NOLOAD", 4)
    RTLD_DEEPBIND = getattr(os, "RTLD_DEEPBIND", 8)

    def __init__(self, backend=None, _target=None, _sandbox=None, _template=None):
        if backend is not None:
            raise TypeError("wasmcffi.FFI() takes no backend argument")
        self._init_once_cache = {}
        self._init_once_lock = threading.Lock()
        #: Every cdef() call with its options, replayed by a compiled module's loader.
        self._cdef_log = []
        self._source = None

    @functools.cached_property
    def NULL(self):
        """The `void *` NULL cdata (made at first use, then an attribute)."""
        return self.cast("void *", 0)

    def cdef(self, csource, override=False, packed=False, pack=None):
        """Declare C types, functions, constants and globals (see CFFI's `cdef`)."""
        super().cdef(csource, override, packed, pack)
        self._cdef_log.append((csource, {"override": override, "packed": packed, "pack": pack}))

    def include(self, other):
        """Add every declaration of `other` (another FFI) to this one."""
        super().include(other)
        self._cdef_log.extend(getattr(other, "_cdef_log", []))

    def init_once(self, func, tag):
        """Run `func()` once per `tag` for this FFI and return its result every time."""
        with self._init_once_lock:
            entry = self._init_once_cache.setdefault(tag, [False, None, threading.Lock()])
        if entry[0]:
            return entry[1]
        with entry[2]:
            if not entry[0]:
                entry[1] = func()
                entry[0] = True
        return entry[1]

    def new_allocator(self, alloc=None, free=None, should_clear_after_alloc=True):
        """An allocator like `ffi.new`. Only the default allocator exists for now."""
        if alloc is not None or free is not None:
            raise NotImplementedError(
                "ffi.new_allocator() with custom alloc/free functions needs C function calls "
                "(the libffi call path), which are not implemented yet"
            )

        def allocate(cdecl, init=None):
            return self.new(cdecl, init)

        return allocate

    def dlopen(self, name, flags=0):
        """Load a host library: a path, a name the dynamic loader finds, a short
        name `ctypes.util.find_library` knows (`"m"`), or None for the C library."""
        try:
            return super().dlopen(name, flags)
        except OSError:
            import ctypes.util  # only here: it costs ~30 ms of import time

            found = None if name is None or "/" in name else ctypes.util.find_library(name)
            if found is None:
                raise
            return super().dlopen(found, flags)

    @property
    def _lib(self):
        """The `lib` of the compiled module this ffi belongs to (None for other
        FFIs). Held weakly: an instance's `ffi` and `lib` must not keep each other,
        and so their sandbox and its memory, alive until a garbage collection."""
        ref = self.__dict__.get("_lib_ref")
        return None if ref is None else ref()

    @_lib.setter
    def _lib(self, lib):
        self._lib_ref = weakref.ref(lib)

    def callback(self, cdecl, python_callable=None, error=None, onerror=None):
        """A C function pointer of type `cdecl` calling `python_callable`; without
        `python_callable`, a decorator. `error` is returned if it raises, after
        `onerror(exc_type, exc_value, traceback)` if given."""
        if python_callable is None:
            return lambda function: self._callback(cdecl, function, error, onerror)
        if not callable(python_callable) and getattr(self, "_lib", None) is not None:
            # A compiled module's ffi words this as CFFI's API mode does.
            raise TypeError(f"expected a callable object, not {type(python_callable).__name__}")
        return self._callback(cdecl, python_callable, error, onerror)

    def def_extern(self, name=None, error=None, onerror=None):
        """A decorator attaching a Python function to the compiled module's
        `extern "Python"` function `name` (default: the function's `__name__`);
        `error` and `onerror` act as for `ffi.callback()`."""
        if "_lib_ref" not in self.__dict__:
            raise ValueError("ffi.def_extern() is only available on API-mode FFI objects")
        lib = self._lib
        if lib is None:
            raise ValueError("ffi.def_extern(): this module instance's lib no longer exists")

        def decorator(function):
            _wasmcffi._def_extern(lib, function.__name__ if name is None else name, function, error, onerror)
            return function

        return decorator

    def set_source(self, module_name, source, target="wasm", sources=(), include_dirs=(),
                   define_macros=(), extra_compile_args=(), extra_link_args=(), libraries=None,
                   library_dirs=(), **kwargs):
        """Say which C implements the cdef: `source` (C text) plus `sources` (files),
        compiled by `compile()` into a module `module_name` that runs in the wasm
        sandbox (`target="wasm"`, the default) or natively (`target="native"`)."""
        unknown = set(kwargs) - {"py_limited_api", "extra_objects", "depends", "language"}
        if unknown:
            raise TypeError(f"set_source() got unexpected keyword arguments {sorted(unknown)}")
        from .build import SourceSpec

        self._source = SourceSpec(module_name, source, target, sources, include_dirs, define_macros,
                                  extra_compile_args, extra_link_args, libraries, library_dirs)

    def compile(self, tmpdir=".", verbose=False, target=None, debug=None):
        """Build the module given to `set_source()` into `tmpdir`; returns the path
        of its loader (`<module_name>.py`)."""
        if self._source is None:
            raise ValueError("set_source() must be called before compile()")
        from .build import compile_module

        return compile_module(self, self._source, tmpdir, verbose)

    def emit_c_code(self, filename):
        """Write the module's C (the user's source followed by the glue) to `filename`."""
        if self._source is None:
            raise ValueError("set_source() must be called before emit_c_code()")
        with open(filename, "w") as f:
            f.write(self._source.source + "\n\n/* ---- generated by wasmcffi ---- */\n" + self._glue())

    def verify(self, source="", **kwargs):
        raise NotImplementedError("ffi.verify() (CFFI's deprecated in-line API mode) is not supported; use set_source()")
