"""The user-facing `FFI` class: the Rust core plus CFFI's pure-Python conveniences."""

import os
import sys

# The builtin halves of `threading` and `weakref`: the same lock and reference
# types, without importing those modules (about 3 ms of `import wasmcffi`).
from _thread import allocate_lock
from _weakref import ref as weak_ref

from . import _wasmcffi


class _NullOf:
    """The `NULL` attribute: an FFI's `void *` NULL, made at its first use and
    then an instance attribute; on the class itself, the host's NULL (as CFFI's
    `FFI.NULL`)."""

    _host = None

    def __get__(self, ffi, owner):
        if ffi is None:
            if _NullOf._host is None:
                _NullOf._host = owner().cast("void *", 0)
            return _NullOf._host
        null = ffi.__dict__["NULL"] = ffi.cast("void *", 0)
        return null


def _compiled_module_of(ffi):
    """The name of the compiled module `ffi` describes: the one given to its
    `set_source()` (with C source), or the one that made it; else None."""
    spec = ffi.__dict__.get("_assigned_source")
    if spec is not None:
        return spec.module_name if spec.source is not None else None
    return ffi.__dict__.get("_module_name")


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
    #: `ffi.buffer(cdata, size=-1)`: as in CFFI, the class of the buffers it makes.
    buffer = buffer_type = _wasmcffi.buffer

    RTLD_LAZY = getattr(os, "RTLD_LAZY", 1)
    RTLD_NOW = getattr(os, "RTLD_NOW", 2)
    RTLD_GLOBAL = getattr(os, "RTLD_GLOBAL", 0x100)
    RTLD_LOCAL = getattr(os, "RTLD_LOCAL", 0)
    RTLD_NODELETE = getattr(os, "RTLD_NODELETE", 0x1000)
    RTLD_NOLOAD = getattr(os, "RTLD_NOLOAD", 4)
    RTLD_DEEPBIND = getattr(os, "RTLD_DEEPBIND", 8)

    def __reduce__(self):
        """A compiled module's ffi pickles by reference to its module (or, for
        an instance made by `wasmcffi.instantiate()`, as a fresh instance)."""
        from . import _pickling

        return _pickling.reduce_ffi(self)

    def __init__(self, backend=None, _target=None, _sandbox=None, _template=None):
        if backend is not None:
            raise TypeError("wasmcffi.FFI() takes no backend argument")
        self._init_once_cache = {}
        self._init_once_lock = allocate_lock()
        #: Every cdef() call with its options, replayed by a compiled module's loader.
        self._cdef_log = []
        self._source = None

    #: The `void *` NULL cdata of this FFI's target; `FFI.NULL` is the host's.
    NULL = _NullOf()

    def cdef(self, csource, override=False, packed=False, pack=None, _included_from=None):
        """Declare C types, functions, constants and globals (see CFFI's `cdef`)."""
        if packed and packed is not True and packed != 1:
            raise ValueError("'packed' should be False or True; use 'pack' to give another value")
        packed, pack = bool(packed), pack or None  # CFFI reads 1 and 0 as True and "no pack"
        super().cdef(csource, override, packed, pack, _included_from)
        options = {"override": override, "packed": packed, "pack": pack}
        if _included_from is not None:
            options["_included_from"] = _included_from
        self._cdef_log.append((csource, options))

    def include(self, other):
        """Add every declaration of `other` (another FFI) to this one. When
        `other` belongs to a compiled module (its builder after `set_source()`,
        or the module's `ffi`), a module built from this FFI takes `other`'s
        functions, globals and constants from that module's `lib`, as CFFI does."""
        module = _compiled_module_of(other)
        super().include(other, module)
        self._adopt_types(other)  # the same type objects, as in CFFI
        for csource, options in getattr(other, "_cdef_log", []):
            if module is not None and "_included_from" not in options:
                options = dict(options, _included_from=module)
            self._cdef_log.append((csource, options))

    def init_once(self, func, tag):
        """Run `func()` once per `tag` for this FFI and return its result every time."""
        with self._init_once_lock:
            entry = self._init_once_cache.setdefault(tag, [False, None, allocate_lock()])
        if entry[0]:
            return entry[1]
        with entry[2]:
            if not entry[0]:
                entry[1] = func()
                entry[0] = True
        return entry[1]

    def new_allocator(self, alloc=None, free=None, should_clear_after_alloc=True):
        """A function like `ffi.new(cdecl, init=None)` whose memory comes from
        `alloc(size)` (a Python function or a C function pointer returning a
        cdata pointer; NULL raises MemoryError) and goes to `free(pointer)` when
        the result dies or is released (`ffi.release`). Without `alloc`,
        `ffi.new`'s own memory, zeroed only if `should_clear_after_alloc`."""
        if alloc is None and free is not None:
            raise TypeError("cannot pass 'free' without 'alloc'")
        if alloc is None and should_clear_after_alloc:
            return self.new
        clear = bool(should_clear_after_alloc)

        def allocate(cdecl, init=None):
            return self._new_allocated(cdecl, init, alloc, free, clear)

        return allocate

    def dlopen(self, name, flags=0):
        """Load a host library: a path, a name the dynamic loader finds, a short
        name `ctypes.util.find_library` knows (`"m"`), or None for the C library."""
        out_of_line = self.__dict__.get("_out_of_line", False)
        try:
            lib = super().dlopen(name, flags, out_of_line)
        except OSError:
            import ctypes.util  # only here: it costs ~30 ms of import time

            found = None if name is None or "/" in name else ctypes.util.find_library(name)
            if found is None:
                raise
            lib = super().dlopen(found, flags, out_of_line)
        # As in CFFI, the FFI and its libs keep each other alive (a cycle the
        # garbage collector sees).
        self.__dict__.setdefault("_dlopened", []).append(lib)
        lib._keep_alive(self)
        return lib

    @property
    def _lib(self):
        """The `lib` of the compiled module this ffi belongs to (None for other
        FFIs). Held weakly: an instance's `ffi` and `lib` must not keep each other,
        and so their sandbox and its memory, alive until a garbage collection."""
        ref = self.__dict__.get("_lib_ref")
        return None if ref is None else ref()

    @_lib.setter
    def _lib(self, lib):
        self._lib_ref = weak_ref(lib)

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

    def set_source(self, module_name, source, source_extension=".c", target="wasm", **kwargs):
        """Say which C implements the cdef: `source` (C text) plus setuptools'
        `Extension` keywords (`sources`, `include_dirs`, `libraries`, ...),
        compiled by `compile()` into a module `module_name` that runs in the wasm
        sandbox (`target="wasm"`, the default) or natively (`target="native"`).
        With `source=None`, `compile()` writes a pure-Python module whose `ffi`
        is ready for `ffi.dlopen()` (CFFI's out-of-line ABI mode)."""
        if "_assigned_source" in self.__dict__:
            raise ValueError("set_source() cannot be called several times per ffi object")
        if isinstance(module_name, str) and (os.sep in module_name or (os.altsep and os.altsep in module_name)):
            raise ValueError("'module_name' must not contain '/': use a dotted name to make a "
                             "'package.module' location")
        from .build import SourceSpec

        self._assigned_source = SourceSpec(module_name, source, target, source_extension, **kwargs)

    def _spec(self, method):
        spec = self.__dict__.get("_assigned_source")
        if spec is None:
            raise ValueError(f"set_source() must be called before {method}()")
        return spec

    def compile(self, tmpdir=".", verbose=False, target=None, debug=None):
        """Build the module given to `set_source()` into `tmpdir`; returns the path
        of its loader (`<module_name>.py`)."""
        spec = self._spec("compile")
        from . import build

        if spec.source is None:
            path = build.module_base(tmpdir, spec.module_name) + ".py"
            self.emit_python_code(path)
            return path
        return build.compile_module(self, spec, tmpdir, verbose)

    def emit_c_code(self, filename):
        """Write the module's C (a prelude, the user's source, then the glue) to
        `filename`, a path or a file object."""
        spec = self._spec("emit_c_code")
        if spec.source is None:
            raise TypeError("emit_c_code() is only for C extension modules, not for "
                            "dlopen()-style pure Python modules")
        from . import build

        text = build.module_c_text(self, spec)
        if hasattr(filename, "write"):  # a file object, as CFFI accepts
            filename.write(text)
            return
        with open(filename, "w") as f:
            f.write(text)

    def emit_python_code(self, filename):
        """Write the pure-Python module of `set_source(name, None)` to `filename`:
        importing it gives an `ffi` with this one's declarations, for `ffi.dlopen()`."""
        spec = self._spec("emit_python_code")
        if spec.source is not None:
            raise TypeError("emit_python_code() is only for dlopen()-style pure Python "
                            "modules, not for C extension modules")
        self._check_abi_only()
        from . import build

        with open(filename, "w") as f:
            f.write(build.PYTHON_MODULE.format(module=spec.module_name, cdefs=repr(self._cdef_log)))

    def verify(self, source="", tmpdir=None, **kwargs):
        """CFFI's older in-line API mode: compiles `source` with this FFI's cdefs
        (as `set_source()` + `compile()` would, with the same keywords and
        `target=`), loads the module and returns its `lib`. From then on this
        FFI's cdata methods (`new`, `cast`, `sizeof`, ...) are those of the
        module's `ffi`, whose declarations the compiler completed.

        Builds are cached by content in `tmpdir` (default: `$CFFI_TMPDIR`, else
        `__pycache__` beside the calling file)."""
        from . import verifier

        unsupported = self._dotdotdot_primitives()
        if unsupported:  # as CFFI: the compiler settles them in set_source() modules only
            name, is_float = unsupported[0]
            raise _wasmcffi.VerificationError(
                "feature not supported with ffi.verify(), but only with ffi.set_source(): "
                f"'typedef {'float' if is_float else 'int'}... {name}'")
        if tmpdir is None:
            tmpdir = verifier.default_tmpdir(sys._getframe(1))
        module = verifier.build_and_load(self, source, tmpdir, **kwargs)
        # verify() refuses constants, enumerators and record layouts the compiler
        # contradicts, which set_source()'s modules accept (they raise when used).
        contradictions = module.ffi._contradictions()
        if contradictions:
            # CFFI's verify() words a record's layout check "we have N", no advice.
            message = contradictions[0].replace("(cdef says ", "(we have ", 1)
            raise _wasmcffi.VerificationError(message.split(". fix it or use ")[0])
        self._bind_to(module.ffi)
        # As in CFFI, the FFI and its verified lib keep each other alive.
        self._verified_lib = module.lib
        module.lib._keep_alive(self)
        return module.lib

    #: What `verify()` leaves with the builder FFI: declaring and building.
    _BUILDER_METHODS = frozenset({
        "cdef", "set_source", "compile", "emit_c_code", "emit_python_code", "verify", "include",
        "init_once", "dlopen", "dlclose", "def_extern", "integer_const",
    })

    def _check_abi_only(self):
        """Refuse declarations an out-of-line ABI-mode module cannot complete."""
        partial = self._partial_items()
        if partial:
            raise _wasmcffi.VerificationMissing(
                f"{', '.join(partial)}: declared with '...', which only a C compiler can complete; "
                "out-of-line ABI mode (set_source(name, None)) has none: give the exact "
                "declaration, or set_source() some C"
            )

    def _bind_to(self, ffi):
        """Make this FFI's cdata methods those of `ffi` (a compiled module's)."""
        for name in dir(ffi):
            if name.startswith("_") or name in self._BUILDER_METHODS:
                continue
            value = getattr(ffi, name)
            if callable(value) and not isinstance(value, type):
                setattr(self, name, value)
        self.__dict__["NULL"] = ffi.NULL
