//! Waiting for a sandbox that another thread is running without holding the GIL:
//! the running thread may need the GIL for a callback into Python, so a thread
//! that blocks on the sandbox while holding it would deadlock with it.

#![forbid(unsafe_code)]

use pyo3::prelude::*;

/// The core's wait hook: waits with the GIL released.
fn wait_without_gil(wait: &(dyn Fn() + Sync)) {
    Python::with_gil(|py| py.allow_threads(wait));
}

/// Installs the hook (once per process).
pub fn install() {
    wasmcffi::backend::wasm::set_wait_hook(wait_without_gil);
}
