"""wasmcffi: CFFI's Python API, with the C running in a WebAssembly sandbox or natively.

    from wasmcffi import FFI
    ffi = FFI()
    ffi.cdef("struct point { int x, y; };")
    p = ffi.new("struct point *", [3, 4])

See the README for what works on which target.
"""

from ._wasmcffi import (
    CData,
    GuestExit,
    SandboxError,
    Timeout,
    Trap,
    CDefError,
    CField,
    CType,
    FFIError,
    Lib,
    VerificationError,
    VerificationMissing,
    buffer,
)
from .api import FFI
from ._wasmcffi import Sandbox
from . import _loader


def sandbox(lib):
    """The `Sandbox` running a sandboxed module's instance (pass its `lib`, or the
    module itself): `set_limits(memory=, timeout=, fuel=)`, `reset()`, `usage`,
    `limits`, `poisoned`, `generation`."""
    return _loader.instance_of(lib)[0]


def instantiate(module, **options):
    """A fresh `(ffi, lib)` of a sandboxed module, isolated from every other
    instance (its own linear memory, globals and heap). Options, all optional:

    - `memory`: bytes of linear memory the guest may grow to (default 1 GiB;
      None: 4 GiB, all a wasm32 guest can address);
    - `timeout`: seconds one call may run (default None: no limit, Ctrl-C still
      interrupts); past it the call raises `wasmcffi.Timeout`;
    - `fuel`: instructions one call may run, deterministic (default None: not
      metered; metered instances run guest code more slowly);
    - `auto_reset`: start a fresh instance right after a fault (default False:
      the instance stays poisoned until `sandbox(lib).reset()`);
    - `stdout`, `stderr`: where the guest's output goes: Python's `sys.stdout` /
      `sys.stderr` (default), None (dropped), a callable taking bytes, or a file;
    - `dirs`, `writable_dirs`: `{guest_path: host_path}` directories granted
      read-only / read-write (default: no file system at all);
    - `env`: `{name: value}` environment variables (default: none);
    - `args`: the guest's argument strings (default: none);
    - `snapshot`: bytes from `sandbox(lib).snapshot()` of an instance of the
      same module, here or in another process: the new instance starts in that
      state instead of the module's fresh one (`reset()` still goes back to the
      fresh state). A snapshot of another module or a corrupted one raises
      `SnapshotError`.

    The `(ffi, lib)` pickle as "a fresh instance of this module with these
    options and the limits in force when pickled".
    """
    sandbox, instances = _loader.instance_of(module)
    snapshot = options.pop("snapshot", None)
    streams, sandbox_options = _loader.sandbox_options(**options)
    new_sandbox = sandbox.spawn(*streams, **sandbox_options)
    if snapshot is not None:
        from . import _snapshot

        _snapshot.restore(new_sandbox, snapshot)
        options["snapshot"] = snapshot
    ffi, lib = instances.pair(new_sandbox)
    from . import _pickling

    _pickling.register_instance(ffi, lib, getattr(module, "lib", module), options, new_sandbox)
    return ffi, lib


def __getattr__(name):
    """`Pool` and `SnapshotError`, imported on first use: `import wasmcffi`
    stays fast for a program that runs one helper (PEP 562)."""
    if name == "Pool":
        from .pool import Pool

        return Pool
    if name == "SnapshotError":
        from ._snapshot import SnapshotError

        return SnapshotError
    raise AttributeError(f"module 'wasmcffi' has no attribute '{name}'")


__all__ = [
    "FFI",
    "CData",
    "CType",
    "CField",
    "Lib",
    "buffer",
    "CDefError",
    "FFIError",
    "VerificationError",
    "VerificationMissing",
    "SandboxError",
    "Trap",
    "Timeout",
    "GuestExit",
    "Sandbox",
    "sandbox",
    "instantiate",
    "SnapshotError",
    "Pool",
]
__version__ = "0.1.0"
