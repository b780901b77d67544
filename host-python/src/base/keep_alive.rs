//! Python objects a native object keeps alive, visible to the garbage
//! collector: a `lib` keeping its `ffi` (which keeps the lib in turn) makes a
//! cycle that is collected when nothing else holds either.

#![forbid(unsafe_code)]

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::{PyTraverseError, PyVisit};

/// The objects kept; call [`KeepAlive::traverse`] and [`KeepAlive::clear`]
/// from the owner's `__traverse__` and `__clear__`.
#[derive(Default)]
pub struct KeepAlive(Mutex<Vec<Py<PyAny>>>);

impl KeepAlive {
    /// Keeps `obj` alive as long as the owner.
    pub fn push(&self, obj: Py<PyAny>) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(obj);
    }

    /// Visits every kept object (skipped while another thread holds the list).
    pub fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Ok(kept) = self.0.try_lock() {
            for obj in kept.iter() {
                visit.call(obj)?;
            }
        }
        Ok(())
    }

    /// Drops every kept object.
    pub fn clear(&self) {
        if let Ok(mut kept) = self.0.try_lock() {
            kept.clear();
        }
    }
}
