//! Faults of guest code and of guest addresses, as the backend's errors: what
//! a trap, an exit, a timeout or an out-of-bounds address becomes. A leaf:
//! it uses no other module of the backend.
#![forbid(unsafe_code)]

use wasmtime::{Trap, WasmBacktrace};

use crate::bail;
use crate::cdata::Addr;
use crate::error::{Error, Result};

/// Why an operation on the store failed: our error, or a fault of guest code.
pub(crate) enum Fault {
    Error(Error),
    Guest(wasmtime::Error),
}

impl From<Error> for Fault {
    fn from(e: Error) -> Fault {
        Fault::Error(e)
    }
}

/// The range `addr..addr + len` if it lies inside a memory of `size` bytes.
pub(crate) fn in_bounds(addr: Addr, len: usize, size: usize) -> Result<std::ops::Range<usize>> {
    let start = usize::try_from(addr).ok().filter(|&s| s <= size);
    match start
        .and_then(|s| Some(s..s.checked_add(len)?))
        .filter(|r| r.end <= size)
    {
        Some(range) => Ok(range),
        None => bail!(
            Memory,
            "guest memory access out of bounds: {len} bytes at {addr:#x} (memory size {size:#x})"
        ),
    }
}

/// The error for a guest fault, and a one-line reason for poisoning. `budget` is
/// the call's fuel budget on a metered store.
pub(crate) fn describe_fault(err: &wasmtime::Error, budget: Option<u64>) -> (Error, String) {
    if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return (
            Error::GuestExit(exit.0),
            format!("the guest exited with code {}", exit.0),
        );
    }
    // Raised by our epoch callback: a timeout, or the host's interrupt (Ctrl-C).
    if let Some(stop @ (Error::Timeout(why) | Error::Interrupted(why))) =
        err.downcast_ref::<Error>()
    {
        return (stop.clone(), why.clone());
    }
    if let Some(Trap::OutOfFuel) = err.downcast_ref::<Trap>() {
        let why = format!(
            "the guest ran out of fuel (its budget is {} per call)",
            budget.unwrap_or(0)
        );
        return (Error::Timeout(why.clone()), why);
    }
    let what = match err.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{:#}", err.root_cause()),
    };
    let mut message = format!("guest trapped: {what}");
    if let Some(bt) = err.downcast_ref::<WasmBacktrace>() {
        message.push_str("\nguest backtrace (most recent call first):");
        let mut previous = String::new();
        let mut repeats = 0;
        for (i, frame) in bt.frames().iter().enumerate() {
            let name = frame.func_name().unwrap_or("<unnamed>");
            let mut line = format!("{name} (wasm function {})", frame.func_index());
            if let Some(offset) = frame.module_offset() {
                line.push_str(&format!(" at offset {offset:#x}"));
            }
            if line == previous {
                repeats += 1;
                continue;
            }
            if repeats > 0 {
                message.push_str(&format!(
                    "\n      (previous frame repeated {repeats} more times)"
                ));
                repeats = 0;
            }
            message.push_str(&format!("\n  {i:>2}: {line}"));
            previous = line;
        }
        if repeats > 0 {
            message.push_str(&format!(
                "\n      (previous frame repeated {repeats} more times)"
            ));
        }
    }
    (Error::Trap(message), what)
}
