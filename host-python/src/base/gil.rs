//! The GIL around guest code, and Ctrl-C inside it.
//!
//! A guest call starts holding the GIL: short calls pay nothing for it (DESIGN §3,
//! §4). The core calls our tick hook about once per tick (1 ms) while a call runs
//! longer than that; [`run_guest`] marks the calls whose GIL may be handed back,
//! and the hook then
//! - checks Python's signals (a `KeyboardInterrupt` stops the guest; the exception
//!   is kept here and raised when the call returns, see [`take_interrupt`]),
//! - from the second tick on, releases the GIL (`PyEval_SaveThread`) so other
//!   Python threads run; [`run_guest`] takes it back when the call returns;
//! - on the main thread, with the GIL released, takes it back every
//!   [`SIGNAL_CHECK_TICKS`] ticks just to check signals again.
//!
//! The other hook runs a blocking wait for a busy sandbox with the GIL released,
//! so a thread waiting for a sandbox never holds the GIL that the running call
//! needs to finish.
//!
//! **Rule for code that runs inside a guest call** (host imports, output sinks):
//! take the GIL with [`with_gil`], never `Python::attach`. PyO3 does not know the
//! GIL was released mid-call and would use Python without it.

use std::cell::{Cell, RefCell};
use std::os::raw::c_int;

use pyo3::prelude::*;
use pyo3::{ffi, PyErr};
use wasmcffi::backend::wasm::{set_host_hooks, HostHooks};

/// Ticks between signal checks of a main thread whose GIL was handed back (each
/// check takes the GIL for a moment).
const SIGNAL_CHECK_TICKS: u64 = 10;

/// Ticks a call runs holding the GIL before handing it back.
const TICKS_BEFORE_RELEASE: u64 = 2;

/// The GIL as seen by the current thread's guest call.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// No [`run_guest`] call is running on this thread.
    Outside,
    /// Inside [`run_guest`], holding the GIL.
    Holding,
    /// Inside [`run_guest`], the GIL handed back (the saved thread state).
    Released(*mut ffi::PyThreadState),
    /// Inside [`with_gil`] within a guest call: Python code (a callback, an
    /// output sink) runs holding the GIL. A guest call it makes outside
    /// [`run_guest`] (an allocation for an argument) must keep the GIL, since
    /// that Python code goes on right after it.
    Callback,
}

thread_local! {
    static STATE: Cell<State> = const { Cell::new(State::Outside) };
    /// The exception a signal handler raised during a guest call.
    static INTERRUPT: RefCell<Option<PyErr>> = const { RefCell::new(None) };
    /// Whether this is Python's main thread (the one that runs signal handlers).
    static IS_MAIN: Cell<Option<bool>> = const { Cell::new(None) };
}

extern "C" {
    /// Whether the current thread holds the GIL. Not in the limited API, but
    /// exported by every CPython 3 (`abi3` builds only lack its declaration).
    fn PyGILState_Check() -> c_int;
}

fn holds_gil() -> bool {
    // SAFETY: `PyGILState_Check` only reads the interpreter's thread state and may
    // be called from any thread, with or without the GIL.
    unsafe { PyGILState_Check() == 1 }
}

/// Installs the hooks in the core (once, at module import), and restarts the
/// core's ticker in the child of a `fork()` (`os.register_at_fork`), which the
/// GIL hand-back, time limits and Ctrl-C need there too.
pub fn install(py: Python<'_>) -> PyResult<()> {
    set_host_hooks(HostHooks { on_tick, blocking });
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("after_in_child", wrap_pyfunction!(after_fork_in_child, py)?)?;
    py.import("os")?
        .call_method("register_at_fork", (), Some(&kwargs))?;
    Ok(())
}

/// What a forked child runs first (see [`install`]).
#[pyfunction]
fn after_fork_in_child() {
    wasmcffi::backend::wasm::after_fork_in_child();
}

/// Runs `f`, which calls guest code, holding the GIL at first; the tick hook
/// hands the GIL back if the guest runs long, and it is taken back before this
/// returns. Use instead of `py.detach` around calls into a sandbox.
pub fn run_guest<R>(_py: Python<'_>, f: impl FnOnce() -> R) -> R {
    struct Restore(State);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let State::Released(tstate) = STATE.get() {
                // SAFETY: `tstate` was returned by `PyEval_SaveThread` on this thread
                // in `on_tick` and not restored since (STATE says so).
                unsafe { ffi::PyEval_RestoreThread(tstate) };
            }
            STATE.set(self.0);
        }
    }
    let _restore = Restore(STATE.replace(State::Holding));
    f()
}

/// `Python::attach` that also works inside a guest call whose GIL was handed
/// back: the GIL is taken for `f` and handed back again afterwards.
pub fn with_gil<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    /// Puts back the state `with_gil` found (handing the GIL back if it was).
    struct Restore(State);
    impl Drop for Restore {
        fn drop(&mut self) {
            STATE.set(match self.0 {
                // SAFETY: the GIL was taken below on this thread; handing it back
                // gives the thread state to restore later.
                State::Released(_) => State::Released(unsafe { ffi::PyEval_SaveThread() }),
                other => other,
            });
        }
    }
    match STATE.get() {
        State::Released(tstate) => {
            // SAFETY: `tstate` is this thread's state saved by `on_tick` (STATE says so).
            unsafe { ffi::PyEval_RestoreThread(tstate) };
            let _restore = Restore(STATE.replace(State::Callback));
            // SAFETY: the GIL was just taken on this thread.
            f(unsafe { Python::assume_attached() })
        }
        State::Holding => {
            let _restore = Restore(STATE.replace(State::Callback));
            Python::attach(f)
        }
        State::Outside | State::Callback => Python::attach(f),
    }
}

/// The exception that interrupted the last guest call on this thread, if a
/// signal handler raised one.
pub fn take_interrupt() -> Option<PyErr> {
    INTERRUPT.with(|slot| slot.borrow_mut().take())
}

/// Runs Python's signal handlers (the GIL must be held); an exception stops the guest.
fn check_signals(py: Python<'_>) -> wasmcffi::Result<()> {
    match py.check_signals() {
        Ok(()) => Ok(()),
        Err(err) => {
            let what = format!("guest call interrupted: {}", err.value(py));
            INTERRUPT.with(|slot| *slot.borrow_mut() = Some(err));
            Err(wasmcffi::Error::Interrupted(what))
        }
    }
}

fn is_main_thread(py: Python<'_>) -> bool {
    if let Some(known) = IS_MAIN.get() {
        return known;
    }
    let main = (|| -> PyResult<bool> {
        let threading = py.import("threading")?;
        let current = threading.call_method0("current_thread")?;
        Ok(current.is(&threading.call_method0("main_thread")?))
    })()
    .unwrap_or(false);
    IS_MAIN.set(Some(main));
    main
}

/// The core's tick hook (see the module docs).
fn on_tick(ticks: u64) -> wasmcffi::Result<()> {
    match STATE.get() {
        State::Holding => {
            // SAFETY: inside `run_guest` holding the GIL (STATE says so).
            let py = unsafe { Python::assume_attached() };
            is_main_thread(py);
            check_signals(py)?;
            if ticks >= TICKS_BEFORE_RELEASE {
                // SAFETY: we hold the GIL; `run_guest` (or `with_gil`) restores the
                // saved state on this thread before Python runs here again.
                STATE.set(State::Released(unsafe { ffi::PyEval_SaveThread() }));
            }
            Ok(())
        }
        State::Released(_) if ticks % SIGNAL_CHECK_TICKS == 0 && IS_MAIN.get() == Some(true) => {
            with_gil(check_signals)
        }
        State::Released(_) => Ok(()),
        State::Outside | State::Callback if ticks % SIGNAL_CHECK_TICKS == 1 && holds_gil() => {
            // A guest call made holding the GIL outside `run_guest` (an allocation,
            // a global's accessor): it keeps the GIL, but Ctrl-C still stops it.
            // SAFETY: this thread holds the GIL (just checked).
            check_signals(unsafe { Python::assume_attached() })
        }
        State::Outside | State::Callback => Ok(()),
    }
}

/// Slices of a wait for a busy sandbox between two signal checks.
const WAIT_SLICE: std::time::Duration = std::time::Duration::from_millis(10);

/// The core's blocking hook: waits with the GIL released if this thread holds
/// it, checking Python's signals between slices (Ctrl-C while waiting).
fn blocking(wait: &mut dyn FnMut(std::time::Duration) -> bool) -> wasmcffi::Result<()> {
    if !holds_gil() || matches!(STATE.get(), State::Released(_)) {
        while !wait(WAIT_SLICE) {}
        return Ok(());
    }
    loop {
        // SAFETY: this thread holds the GIL (checked above); nothing in `wait` (a
        // timed mutex wait in the core) uses Python, and the GIL is taken back
        // right after.
        let tstate = unsafe { ffi::PyEval_SaveThread() };
        let ours = wait(WAIT_SLICE);
        // SAFETY: `tstate` was saved just above on this thread.
        unsafe { ffi::PyEval_RestoreThread(tstate) };
        if ours {
            return Ok(());
        }
        // SAFETY: the GIL was just taken back on this thread.
        check_signals(unsafe { Python::assume_attached() })?;
    }
}
