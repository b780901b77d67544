//! The table behind `ffi.new_handle()` / `ffi.from_handle()`.
//!
//! A handle is a small non-NULL integer used as a `void *` value, never a host
//! address, so it fits a sandbox's 32-bit pointers and reveals nothing about the
//! host. The table keeps the object alive while its handle cdata lives.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use pyo3::prelude::*;

/// Handle values step by this much, so they look like aligned pointers.
const HANDLE_STEP: u64 = 16;

struct HandleTable {
    next: u64,
    objects: HashMap<u64, Py<PyAny>>,
}

static TABLE: LazyLock<Mutex<HandleTable>> = LazyLock::new(|| {
    Mutex::new(HandleTable {
        next: HANDLE_STEP,
        objects: HashMap::new(),
    })
});

fn table() -> std::sync::MutexGuard<'static, HandleTable> {
    TABLE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Stores `obj` and returns its new handle value.
pub fn insert(obj: Py<PyAny>) -> u64 {
    let mut t = table();
    // Skip values still in use after the counter wraps within 32 bits.
    loop {
        let key = t.next;
        t.next = if t.next >= u64::from(u32::MAX) - HANDLE_STEP {
            HANDLE_STEP
        } else {
            t.next + HANDLE_STEP
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = t.objects.entry(key) {
            slot.insert(obj);
            return key;
        }
    }
}

/// The object behind a handle value, if it is a live handle.
pub fn get(py: Python<'_>, key: u64) -> Option<Py<PyAny>> {
    table().objects.get(&key).map(|o| o.clone_ref(py))
}

/// Drops a handle (its cdata died).
pub fn forget(key: u64) {
    let removed = table().objects.remove(&key);
    drop(removed);
}
