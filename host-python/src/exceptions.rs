//! The Python exceptions wasmcffi raises, and the one mapping from core errors to them.

use pyo3::exceptions::{
    PyAttributeError, PyException, PyIndexError, PyKeyError, PyKeyboardInterrupt, PyMemoryError,
    PyNotImplementedError, PyOSError, PyOverflowError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use wasmcffi::Error;

pyo3::create_exception!(
    wasmcffi,
    SandboxError,
    PyException,
    "A fault of sandboxed code."
);
pyo3::create_exception!(
    wasmcffi,
    Trap,
    SandboxError,
    "Sandboxed code trapped; the message has the guest backtrace."
);
pyo3::create_exception!(
    wasmcffi,
    Timeout,
    SandboxError,
    "Sandboxed code ran past its time limit."
);
pyo3::create_exception!(
    wasmcffi,
    GuestExit,
    SandboxError,
    "Sandboxed code called exit(); `.code` is its status."
);
pyo3::create_exception!(
    wasmcffi,
    CDefError,
    PyException,
    "Bad cdef text or type string."
);
pyo3::create_exception!(wasmcffi, FFIError, PyException, "CFFI's `ffi.error`.");
pyo3::create_exception!(
    wasmcffi,
    VerificationError,
    PyException,
    "A declaration that the C compiler disagrees with."
);
pyo3::create_exception!(
    wasmcffi,
    VerificationMissing,
    PyException,
    "A declaration that needs a compiled module to be used."
);

/// Converts a core [`Error`] into the Python exception CFFI raises for it.
pub fn to_py_err(err: Error) -> PyErr {
    match err {
        Error::CDef(m) => CDefError::new_err(m),
        Error::Type(m) => PyTypeError::new_err(m),
        Error::Overflow(m) => PyOverflowError::new_err(m),
        Error::Index(m) => PyIndexError::new_err(m),
        Error::Value(m) => PyValueError::new_err(m),
        Error::Attribute(m) => PyAttributeError::new_err(m),
        Error::Key(m) => PyKeyError::new_err(m),
        Error::Runtime(m) => PyRuntimeError::new_err(m),
        Error::Ffi(m) => FFIError::new_err(m),
        Error::Verification(m) => VerificationError::new_err(m),
        Error::VerificationMissing(m) => VerificationMissing::new_err(m),
        Error::NotImplemented(m) => PyNotImplementedError::new_err(m),
        Error::Memory(m) => PyMemoryError::new_err(m),
        Error::Os(m) => PyOSError::new_err(m),
        Error::Trap(m) => Trap::new_err(m),
        Error::Timeout(m) => Timeout::new_err(m),
        // The exception a signal handler raised (KeyboardInterrupt for Ctrl-C).
        Error::Interrupted(m) => {
            crate::gil::take_interrupt().unwrap_or_else(|| PyKeyboardInterrupt::new_err(m))
        }
        Error::GuestExit(code) => {
            let err = GuestExit::new_err(format!("guest exited with code {code}"));
            Python::with_gil(|py| {
                let _ = err.value(py).setattr("code", code);
            });
            err
        }
        Error::Internal(m) => {
            PyRuntimeError::new_err(format!("internal error in wasmcffi (please report): {m}"))
        }
    }
}

/// `.py()` turns a core `Result` into a `PyResult`.
pub trait CoreResultExt<T> {
    /// The same result with the error converted by [`to_py_err`].
    fn py(self) -> PyResult<T>;
}

impl<T> CoreResultExt<T> for wasmcffi::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py_err)
    }
}
