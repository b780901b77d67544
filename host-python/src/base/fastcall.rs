//! `lib.f` as a builtin function object called with CPython's vectorcall
//! (`METH_FASTCALL`) protocol, as CFFI's API-mode functions are.
//!
//! A pyclass `__call__` goes through `tp_call`, which makes CPython build an
//! argument tuple (and PyO3 parse it) on every call; a `METH_FASTCALL` builtin
//! receives the caller's argument array as it is. This file is the one place
//! that speaks that protocol, with raw CPython API calls.

use std::ffi::CString;
use std::panic::AssertUnwindSafe;

use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;
use pyo3::Borrowed;

/// What a builtin made here calls: its `self` object implements this.
pub trait FastCall: pyo3::PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync {
    /// Calls the function with positional arguments `args`.
    fn call_fast(&self, py: Python<'_>, args: &[&Bound<'_, PyAny>]) -> PyResult<Py<PyAny>>;
}

/// The method definition behind one builtin. It must live as long as the builtin
/// does, so its owner (the builtin's `self`) keeps it in a `Box`.
pub struct MethodDef {
    def: ffi::PyMethodDef,
    _name: CString,
    _doc: Option<CString>,
}

// SAFETY: the definition is written once, before CPython sees it, and never
// changed; its pointers point into `_name` (owned, never moved: the `CString`'s
// buffer is on the heap) or are null. Reading it from any thread is sound.
unsafe impl Send for MethodDef {}
// SAFETY: as above: immutable after construction.
unsafe impl Sync for MethodDef {}

impl MethodDef {
    /// A definition named `name` (with docstring `doc`, if any) that
    /// dispatches to `T::call_fast`.
    pub fn new<T: FastCall>(name: &str, doc: Option<&str>) -> PyResult<Box<MethodDef>> {
        let nul = |_| PyRuntimeError::new_err("function name or doc contains a NUL byte");
        let name = CString::new(name).map_err(nul)?;
        let doc = doc.map(CString::new).transpose().map_err(nul)?;
        Ok(Box::new(MethodDef {
            def: ffi::PyMethodDef {
                ml_name: name.as_ptr(),
                ml_meth: ffi::PyMethodDefPointer {
                    PyCFunctionFast: trampoline::<T>,
                },
                ml_flags: ffi::METH_FASTCALL,
                ml_doc: doc.as_ref().map_or(std::ptr::null(), |d| d.as_ptr()),
            },
            _name: name,
            _doc: doc,
        }))
    }
}

pub fn builtin<T: FastCall>(
    py: Python<'_>,
    owner: &Bound<'_, T>,
    def: &MethodDef,
    module: Option<&Bound<'_, PyString>>,
) -> PyResult<Py<PyAny>> {
    // SAFETY: `def` lives inside `owner`'s Rust value, which lives at least as
    // long as the builtin (the builtin holds a strong reference to `owner` as its
    // `self` and CPython reads the definition only while the builtin is alive);
    // `module`, if any, is a live str of which CPython takes its own reference;
    // the GIL is held (`py`).
    unsafe {
        let function = ffi::PyCFunction_NewEx(
            std::ptr::addr_of!(def.def).cast_mut(),
            owner.as_ptr(),
            module.map_or(std::ptr::null_mut(), |m| m.as_ptr()),
        );
        Bound::from_owned_ptr_or_err(py, function).map(Bound::unbind)
    }
}

/// The `METH_FASTCALL` entry point: CPython calls it with `self`, a C array of
/// `nargs` borrowed argument references, with the GIL held.
unsafe extern "C" fn trampoline<T: FastCall>(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    const INLINE: usize = 8;
    // SAFETY: CPython calls a `METH_FASTCALL` function with the GIL held.
    let py = unsafe { Python::assume_attached() };
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `slf` is the `self` given to `PyCFunction_NewEx` in `builtin`,
        // a live `T` (so no type check is needed); CPython keeps it alive
        // during the call.
        let owner = unsafe { Borrowed::from_ptr(py, slf) };
        // SAFETY: as above: `slf` is a `T`.
        let owner = unsafe { owner.cast_unchecked::<T>() };
        let raw: &[*mut ffi::PyObject] = match usize::try_from(nargs) {
            Ok(0) | Err(_) => &[],
            // SAFETY: CPython passes an array of `nargs` valid borrowed references
            // that stay alive for the duration of the call.
            Ok(n) => unsafe { std::slice::from_raw_parts(args, n) },
        };
        let none = py.None().into_bound(py);
        let mut borrowed = [none.as_borrowed(); INLINE];
        let mut spilled = Vec::new();
        let borrowed: &mut [Borrowed<'_, '_, PyAny>] = if raw.len() <= INLINE {
            &mut borrowed[..raw.len()]
        } else {
            spilled.resize(raw.len(), none.as_borrowed());
            &mut spilled
        };
        for (slot, ptr) in borrowed.iter_mut().zip(raw) {
            // SAFETY: each pointer is a valid borrowed reference (see above).
            *slot = unsafe { Borrowed::from_ptr(py, *ptr) };
        }
        let mut inline: [&Bound<'_, PyAny>; INLINE] = [&none; INLINE];
        let mut refs_spilled = Vec::new();
        let refs: &mut [&Bound<'_, PyAny>] = if raw.len() <= INLINE {
            &mut inline[..raw.len()]
        } else {
            refs_spilled.resize(raw.len(), &none);
            &mut refs_spilled
        };
        for (slot, b) in refs.iter_mut().zip(borrowed.iter()) {
            *slot = b;
        }
        owner.get().call_fast(py, refs)
    }));
    match outcome {
        Ok(Ok(result)) => result.into_ptr(),
        Ok(Err(err)) => {
            err.restore(py);
            std::ptr::null_mut()
        }
        Err(panic) => {
            pyo3::panic::PanicException::new_err(format!(
                "panic in a wasmcffi function: {}",
                panic
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("(no message)")
            ))
            .restore(py);
            std::ptr::null_mut()
        }
    }
}
