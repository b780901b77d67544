//! Python objects that stand for a C function without being a cdata: a
//! compiled module's `lib.f`. Conversion and argument marshalling turn them
//! into their function pointer, through the hook the module layer registers at
//! import, so that those low layers never name the module layer.
#![forbid(unsafe_code)]

use std::sync::OnceLock;

use pyo3::prelude::*;

/// The function-pointer cdata `obj` stands for; `None` if it stands for none.
pub type FunctionPointerOf = fn(&Bound<'_, PyAny>) -> Option<PyResult<Py<PyAny>>>;

static HOOK: OnceLock<FunctionPointerOf> = OnceLock::new();

/// Registers how objects standing for C functions give their pointer (once).
pub fn register(hook: FunctionPointerOf) {
    let _ = HOOK.set(hook);
}

/// The function-pointer cdata `obj` stands for, if it is such an object.
pub fn function_pointer_of(obj: &Bound<'_, PyAny>) -> Option<PyResult<Py<PyAny>>> {
    HOOK.get().and_then(|hook| hook(obj))
}
