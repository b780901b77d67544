"""Pickling by reference: how the objects of a compiled module travel to
another process (a process pool, a Dask worker) without their memory.

- A module's `lib` and `ffi` pickle as references to the module: unpickling
  imports it, as for functions of ordinary modules. `lib.f` pickles as the
  function of that name of its lib.
- The `(ffi, lib)` of an instance made by `wasmcffi.instantiate()` pickle as
  "a fresh instance of module M with these options" (its current limits): one
  pickle holding both gives one new instance.
- A C type pickles by name; a primitive cdata as a cast of its value to its
  type. Pointers, arrays, structs and functions refuse: they are memory of one
  process or of one sandbox instance.
"""

# `_weakref.ref` is `weakref.ref`, without importing `weakref` with every
# module (`importlib` too is imported only when something is pickled).
from _weakref import ref as weak_ref

from . import _wasmcffi

#: Where a compiled lib keeps its reference (a `ModuleRef` or an `InstanceRef`).
REF_KEY = "_wasmcffi_ref"

#: The compiled modules loaded by name in this process: `{name: weakref(ffi)}`,
#: searched for the module that declared a type being pickled.
_MODULE_FFIS = {}


class ModuleRef:
    """A compiled module, by its import name: pickles as `importlib.import_module(name)`."""

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        import importlib

        return importlib.import_module, (self.name,)


class InstanceRef:
    """An instance made by `wasmcffi.instantiate()`: pickles as a fresh instance
    of the same module with the instance's options and current limits."""

    def __init__(self, module, options, sandbox):
        self.module = module
        self.options = options
        self.sandbox = sandbox

    def __reduce__(self):
        options = dict(self.options)
        options.update(self.sandbox.limits)
        return _fresh_instance, (self.module, options)


class _Instance:
    """An unpickled instance: its `ffi` and `lib`."""

    def __init__(self, ffi, lib):
        self.ffi = ffi
        self.lib = lib


def _fresh_instance(module_ref, options):
    from . import instantiate

    ffi, lib = instantiate(module_ref, **options)
    return _Instance(ffi, lib)


def register_module(name, ffi, lib):
    """Makes a module's `(ffi, lib)`, loaded under the import name `name`
    (None: not importable by name), pickle by reference."""
    lib.__dict__[REF_KEY] = ModuleRef(name) if name else None
    if name:
        _MODULE_FFIS[name] = weak_ref(ffi)


def register_instance(ffi, lib, module_lib, options, sandbox):
    """Makes an instance's `(ffi, lib)` pickle as a fresh instance of the module
    whose lib is `module_lib`, made with `options`."""
    module_ref = module_lib.__dict__.get(REF_KEY)
    if isinstance(module_ref, InstanceRef):  # an instance of an instance: of the same module
        module_ref = module_ref.module
    lib.__dict__[REF_KEY] = module_ref and InstanceRef(module_ref, options, sandbox)


def _checked(ref, module, what):
    """`ref`, or the TypeError of a module that cannot be imported again by name."""
    if ref is None:
        raise TypeError(
            f"cannot pickle {what}: module '{module}' was not imported by name "
            f"(a verify() module or one loaded from a file path), so nothing can import it "
            f"again on the other side"
        )
    return ref


def _ref_of(lib):
    """`(reference, module name)` of a compiled lib."""
    return lib.__dict__.get(REF_KEY), lib.__name__[: -len(".lib")]


def reduce_lib_ref(ref, module, what):
    """The reduce value of a lib whose reference is `ref` (also what a lib's
    function pickles as: CPython takes the function's name from that lib)."""
    return getattr, (_checked(ref, module, what), "lib")


def reduce_lib(lib):
    return reduce_lib_ref(*_ref_of(lib), "this lib")


def reduce_ffi(ffi):
    lib = getattr(ffi, "_lib", None)
    if not isinstance(lib, _wasmcffi.ModuleLib):
        raise TypeError(
            "cannot pickle an FFI made by FFI(): only the ffi of a compiled module "
            "pickles (by reference to its module)"
        )
    return getattr, (_checked(*_ref_of(lib), "this ffi"), "ffi")


#: The declarations-free FFI of each target, made on first use.
_TARGET_FFIS = {}


def _ffi_for_target(target):
    """A declarations-free FFI of `target`, for the types every FFI shares."""
    ffi = _TARGET_FFIS.get(target)
    if ffi is None:
        from .api import FFI

        ffi = _TARGET_FFIS[target] = FFI(_target=target) if target == "wasm32" else FFI()
    return ffi


def structural_ctype(target, cname):
    return _ffi_for_target(target).typeof(cname)


def module_ctype(module, cname):
    return module.ffi.typeof(cname)


def reduce_ctype(ctype):
    target = ctype._target
    if ctype._structural:
        return structural_ctype, (target, ctype.cname)
    for name, ref in list(_MODULE_FFIS.items()):
        ffi = ref()
        if ffi is None or ffi._target != target:
            continue
        try:
            if ffi.typeof(ctype.cname) is ctype:
                return module_ctype, (ModuleRef(name), ctype.cname)
        except Exception:  # a name this module does not declare
            continue
    raise TypeError(
        f"cannot pickle ctype '{ctype.cname}': it was declared by an FFI that is not "
        f"a compiled module's, so it cannot be found again by name"
    )


def cast(ctype, value):
    return _ffi_for_target(ctype._target).cast(ctype, value)


def reduce_cdata(cdata, ctype):
    if ctype.kind in ("primitive", "enum"):
        if ctype.kind == "primitive" and ctype.cname in ("float", "double", "long double"):
            value = float(cdata)
        elif ctype.kind == "primitive" and ctype.cname == "char":
            value = bytes([int(cdata)])
        else:
            value = int(cdata)
        return cast, (ctype, value)
    raise TypeError(
        f"cannot pickle cdata '{ctype.cname}': a {ctype.kind} refers to memory of this "
        f"process (or of one sandbox instance), which does not travel; pickle the values "
        f"instead (ffi.unpack(), ffi.string() or ffi.buffer(...)[:])"
    )
