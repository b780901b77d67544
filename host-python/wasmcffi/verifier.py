"""`ffi.verify()`: CFFI's older in-line API mode, built on `set_source()` +
`compile()`.

A verify call names no module, so the module is named after a hash of all
that goes into it (the cdefs, the source, the keywords, the glue and the guest
runtime this wasmcffi would generate): a second call with the same inputs, in
this process or a later one, loads the module already built in `tmpdir`.
Each call loads a fresh copy of the module, so a sandboxed one gets its own
instance, as each CFFI `verify()` gets its own library.
"""

import hashlib
import importlib.util
import os

from . import build

#: `Verifier` keywords of CFFI that mean nothing here, accepted and ignored:
#: `tag` and `ext_package` only shape CFFI's module names, `force_generic_engine`
#: picks one of CFFI's two generators, `flags` are dlopen() flags of the result.
_IGNORED_KEYWORDS = ("tag", "ext_package", "force_generic_engine", "flags", "compiler_verbose")


#: The keywords naming files or folders, which `relative_to=` makes relative
#: to its own folder (as CFFI's `verify()` does).
_FILE_NAME_KEYWORDS = ("sources", "include_dirs", "library_dirs", "extra_objects", "depends")


def default_tmpdir(caller_frame):
    """Where CFFI's `verify()` builds: `$CFFI_TMPDIR`, else `__pycache__` beside
    the file of the calling code."""
    if os.environ.get("CFFI_TMPDIR"):
        return os.environ["CFFI_TMPDIR"]
    filename = caller_frame.f_code.co_filename
    return os.path.join(os.path.dirname(os.path.abspath(filename)), "__pycache__")


def module_name_for(ffi, source, kwargs):
    """`_wasmcffi_<hash>`, the hash covering everything the build depends on."""
    digest = hashlib.sha256()
    for part in (repr(ffi._cdef_log), source, repr(sorted(kwargs.items())), ffi._glue(),
                 build.guest_files_digest(), build.SOURCE_PRELUDE, " ".join(build.WASM_FLAGS)):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return "_wasmcffi_" + digest.hexdigest()[:24]


def build_and_load(ffi, source, tmpdir, modulename=None, relative_to=None, **kwargs):
    """Builds (unless already built) and loads the module of `ffi.verify(source,
    **kwargs)`; returns the module object."""
    verbose = bool(kwargs.get("compiler_verbose"))
    for key in _IGNORED_KEYWORDS:
        kwargs.pop(key, None)
    base = os.path.dirname(relative_to or "")
    if base:
        for key in _FILE_NAME_KEYWORDS:
            if key in kwargs:
                if not isinstance(kwargs[key], (list, tuple)):
                    raise TypeError(f"keyword '{key}' should be a list or tuple")
                kwargs[key] = [os.path.join(base, name) for name in kwargs[key]]
    name = modulename or module_name_for(ffi, source, kwargs)
    loader_path = os.path.join(tmpdir, name + ".py")
    # The loader is written last, once the artifact is built and checked.
    if not os.path.exists(loader_path):
        from .api import FFI

        builder = FFI()
        for csource, options in ffi._cdef_log:
            builder.cdef(csource, **options)
        builder.set_source(name, source, **kwargs)
        loader_path = builder.compile(tmpdir=tmpdir, verbose=verbose)
    spec = importlib.util.spec_from_file_location(name, loader_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

