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

/// The same mistake raises `ffi.error` in CFFI's compiled FFI objects and a
/// built-in class in its older `cffi.FFI` (`ffi.new` of a type of unknown
/// size: TypeError; `ffi.sizeof("int[]")`: ValueError; a bad type string:
/// CDefError). One wasmcffi FFI plays both, so it raises a class deriving
/// from both: these three, made once.
static FFI_TYPE_ERROR: pyo3::sync::PyOnceLock<Py<pyo3::types::PyType>> =
    pyo3::sync::PyOnceLock::new();
static FFI_VALUE_ERROR: pyo3::sync::PyOnceLock<Py<pyo3::types::PyType>> =
    pyo3::sync::PyOnceLock::new();
static FFI_CDEF_ERROR: pyo3::sync::PyOnceLock<Py<pyo3::types::PyType>> =
    pyo3::sync::PyOnceLock::new();

fn dual_class<'py>(
    py: Python<'py>,
    cell: &'static pyo3::sync::PyOnceLock<Py<pyo3::types::PyType>>,
    name: &str,
    builtin: Bound<'py, pyo3::types::PyType>,
) -> PyResult<&'py Bound<'py, pyo3::types::PyType>> {
    let class = cell.get_or_try_init(py, || -> PyResult<_> {
        let namespace = pyo3::types::PyDict::new(py);
        namespace.set_item("__module__", "wasmcffi")?;
        let bases = (py.get_type::<FFIError>(), builtin);
        Ok(py
            .get_type::<pyo3::types::PyType>()
            .call1((name, bases, namespace))?
            .cast_into::<pyo3::types::PyType>()?
            .unbind())
    })?;
    Ok(class.bind(py))
}

/// `ffi.error` that is also a TypeError (see [`FFI_TYPE_ERROR`]).
pub fn ffi_type_error(py: Python<'_>) -> PyResult<&Bound<'_, pyo3::types::PyType>> {
    dual_class(
        py,
        &FFI_TYPE_ERROR,
        "FFITypeError",
        py.get_type::<PyTypeError>(),
    )
}

/// `ffi.error` that is also a CDefError (see [`FFI_TYPE_ERROR`]).
pub fn ffi_cdef_error(py: Python<'_>) -> PyResult<&Bound<'_, pyo3::types::PyType>> {
    dual_class(
        py,
        &FFI_CDEF_ERROR,
        "FFICDefError",
        py.get_type::<CDefError>(),
    )
}

/// `ffi.error` that is also a ValueError (see [`FFI_TYPE_ERROR`]).
pub fn ffi_value_error(py: Python<'_>) -> PyResult<&Bound<'_, pyo3::types::PyType>> {
    dual_class(
        py,
        &FFI_VALUE_ERROR,
        "FFIValueError",
        py.get_type::<PyValueError>(),
    )
}

/// An exception of `class` with `message`.
pub fn raise(class: PyResult<&Bound<'_, pyo3::types::PyType>>, message: String) -> PyErr {
    match class {
        Ok(class) => PyErr::from_type(class.clone(), message),
        Err(err) => err,
    }
}

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
            crate::base::gil::take_interrupt().unwrap_or_else(|| PyKeyboardInterrupt::new_err(m))
        }
        Error::GuestExit(code) => {
            let err = GuestExit::new_err(format!("guest exited with code {code}"));
            Python::attach(|py| {
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

/// The Python type name of `obj`, for error messages.
pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_owned())
}
