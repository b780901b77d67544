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
]
__version__ = "0.1.0"
