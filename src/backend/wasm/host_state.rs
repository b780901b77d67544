//! The host's state in each store: the guest exports it uses, the handler of
//! `extern "Python"` calls and the host callbacks placed in the guest's function
//! table. Below the store data (`wasi`), which holds it, and the host calls,
//! which use it.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use wasmtime::{Func, Instance, Memory, Table, TypedFunc};

use super::values::{WasmSignature, WasmVal};

/// What runs when guest code calls an `extern "Python"` function of its module,
/// function number `index` (in the order of `LayoutPlan::extern_python`). The
/// host reads the glue's argument struct (`args_size(index)` bytes) out of guest
/// memory, hands it to `call` and stores the bytes `call` returns in the
/// guest's result slot. Errors are the handler's to report; it cannot fail the
/// guest (a wild argument or result address from the guest traps it).
pub trait ExternPythonHandler: Send + Sync {
    /// The size of function `index`'s argument struct (0 if there is no such function).
    fn args_size(&self, index: u32) -> usize;
    /// Handles one call with the argument struct's bytes; returns the result's.
    fn call(&self, index: u32, args: &[u8]) -> Vec<u8>;
}

/// A host function in the guest's function table: it gets the wasm arguments and
/// returns the wasm result (`None` for `void`). It cannot fail the guest.
pub type TableCallback = Arc<dyn Fn(&[WasmVal]) -> Option<WasmVal> + Send + Sync>;

/// The guest exports the host uses, found once per instance.
#[derive(Clone)]
pub(crate) struct Handles {
    pub(crate) instance: Instance,
    pub(crate) memory: Option<Memory>,
    pub(crate) malloc: Option<TypedFunc<(i32, i32), i32>>,
    /// `wasmcffi_malloc_uninit` (absent from modules built before it existed).
    pub(crate) malloc_uninit: Option<TypedFunc<(i32, i32), i32>>,
    pub(crate) table: Option<Table>,
}

/// One slot of the function table that holds (or held) a host callback.
pub(crate) struct Slot {
    pub(crate) func: Func,
    pub(crate) signature: WasmSignature,
    pub(crate) callback: Option<TableCallback>,
}

/// The host-call state of one store (one instance of a sandbox).
pub(crate) struct HostState {
    /// Names the sandbox (see [`sandbox_key`]).
    pub(crate) key: u64,
    pub(crate) handles: Option<Handles>,
    /// Weak: the handler usually holds the sandbox (through its memory), and its
    /// owner (a module's `lib`) decides how long it lives.
    pub(crate) extern_python: Option<Weak<dyn ExternPythonHandler>>,
    pub(crate) slots: std::collections::HashMap<u32, Slot>,
}

impl HostState {
    pub(crate) fn new(key: u64, extern_python: Option<Weak<dyn ExternPythonHandler>>) -> Self {
        HostState {
            key,
            handles: None,
            extern_python,
            slots: std::collections::HashMap::new(),
        }
    }
}

/// A fresh number naming a sandbox (for the active-call registry).
pub(crate) fn sandbox_key() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
