//! The `FFI` object (`wasmcffi._FFI`, the base of `wasmcffi.FFI`): its state,
//! an FFI context. Its methods are in `ffi`, above everything they use; the
//! layers below (a module's `lib`) take the context from here.
#![forbid(unsafe_code)]

use std::sync::Arc;

use pyo3::prelude::*;

use crate::memory::context::FfiContext;

/// The core of `wasmcffi.FFI`.
#[pyclass(name = "_FFI", module = "wasmcffi", subclass, frozen)]
pub struct PyFFI {
    pub ctx: Arc<FfiContext>,
}
