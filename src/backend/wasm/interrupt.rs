//! Stopping guest code that runs too long, and letting the host act while it runs.
//!
//! Every engine compiles guest code with epoch checks (`Config::epoch_interruption`):
//! a load and a compare at function entries and loop back-edges. A ticker thread
//! advances the epoch of every engine once per [`TICK`] while guest calls happen
//! (it parks after a while without calls, so an idle process does not wake up a
//! thousand times a second; a call's only cost for this is two plain memory
//! accesses). Each call sets its deadline one tick
//! ahead, so a call that runs longer than a tick enters [`on_epoch`] about once
//! per tick, which
//! - stops the call with `Error::Timeout` once its time limit has passed, and
//! - calls the host's [`HostHooks::on_tick`], through which the Python layer hands
//!   the GIL back to other threads and checks for Ctrl-C (`Error::Interrupted`).
//!
//! The core has no Python in it: the host installs its hooks once with
//! [`set_host_hooks`]. The other hook, [`HostHooks::blocking`], runs a blocking
//! wait for a busy sandbox with the host's own lock (the GIL) released, so a
//! thread waiting for the sandbox never holds what the running call needs; the
//! wait is cut in slices, between which the host may give up (Ctrl-C).

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::{Duration, Instant};

use wasmtime::{Engine, UpdateDeadline};

use crate::error::{Error, Result};

/// How often the epoch advances while guest code runs.
pub const TICK: Duration = Duration::from_millis(1);

/// Ticks without any running call after which the ticker parks.
const IDLE_TICKS_BEFORE_PARKING: u32 = 200;

/// What the host (the Python layer) does while guest code runs.
#[derive(Clone, Copy, Debug)]
pub struct HostHooks {
    /// Called on the thread running guest code about once per tick once the call
    /// has run for a tick (`ticks` counts the ticks of this call, from 1). An error
    /// stops the guest (the instance is then poisoned like after a trap).
    pub on_tick: fn(ticks: u64) -> Result<()>,
    /// Waits for a sandbox that another thread is using: calls `wait(slice)`,
    /// which waits at most `slice` and returns whether the sandbox is now ours,
    /// until it returns true, with the host's own locks released while in `wait`.
    /// Between slices it may give up with an error (Ctrl-C while waiting).
    pub blocking: fn(wait: &mut dyn FnMut(Duration) -> bool) -> Result<()>,
}

static HOOKS: OnceLock<HostHooks> = OnceLock::new();

/// Installs the host's hooks (once per process; later calls are ignored and
/// return false).
pub fn set_host_hooks(hooks: HostHooks) -> bool {
    HOOKS.set(hooks).is_ok()
}

/// Runs `wait` through the host's blocking hook (or until it succeeds, without one).
pub(crate) fn blocking(wait: &mut dyn FnMut(Duration) -> bool) -> Result<()> {
    match HOOKS.get() {
        Some(hooks) => (hooks.blocking)(wait),
        None => {
            while !wait(Duration::from_secs(1)) {}
            Ok(())
        }
    }
}

/// The state of one call, kept in the store for the epoch callback.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CallClock {
    /// When the call must stop (set only when a timeout is configured).
    deadline: Option<Instant>,
    timeout: Duration,
    /// Epoch callbacks seen during this call.
    ticks: u64,
}

impl CallClock {
    /// The clock of a call starting now, with `timeout` if any.
    pub(crate) fn start(timeout: Option<Duration>) -> CallClock {
        CallClock {
            deadline: timeout.map(|t| Instant::now() + t),
            timeout: timeout.unwrap_or_default(),
            ticks: 0,
        }
    }
}

/// The store's epoch-deadline callback: enforces the timeout, runs the host's
/// tick hook, and extends the deadline by one tick.
pub(crate) fn on_epoch(clock: &mut CallClock) -> wasmtime::Result<UpdateDeadline> {
    clock.ticks += 1;
    note_activity();
    if clock.deadline.is_some_and(|d| Instant::now() >= d) {
        return Err(wasmtime::Error::new(Error::Timeout(format!(
            "the guest ran past its time limit of {:?}",
            clock.timeout
        ))));
    }
    if let Some(hooks) = HOOKS.get() {
        (hooks.on_tick)(clock.ticks).map_err(wasmtime::Error::new)?;
    }
    Ok(UpdateDeadline::Continue(1))
}

/// The engines whose epoch the ticker advances (the plain one, and the metered
/// and pooled ones once they exist).
static ENGINES: [OnceLock<Engine>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];

/// Registers an engine with the ticker (one per `engine::Flavor`).
pub(crate) fn register_engine(slot: usize, engine: &Engine) {
    let _ = ENGINES[slot].set(engine.clone());
}

/// Changes whenever a guest call starts or an epoch callback runs (a long call is
/// still running): the ticker parks after a while without change.
static ACTIVITY: AtomicU64 = AtomicU64::new(0);
/// Whether the ticker is parked (or about to park).
static PARKED: AtomicBool = AtomicBool::new(true);
/// The ticker thread, once started (again in a forked child: see [`after_fork_in_child`]).
static TICKER: Mutex<Option<Thread>> = Mutex::new(None);

/// How long a parked ticker sleeps before looking again (bounds the delay of a
/// call that starts just as the ticker parks, and the wake-ups of an idle process).
const PARKED_PERIOD: Duration = Duration::from_millis(100);

fn note_activity() {
    // Only a change matters, so a racy increment (two plain accesses) will do:
    // this runs on every call and must cost next to nothing.
    ACTIVITY.store(
        ACTIVITY.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

/// Notes that a guest call starts: wakes the ticker if it is parked.
pub(crate) fn call_starting() {
    note_activity();
    if PARKED.load(Ordering::Relaxed) {
        ticker().unpark();
    }
}

fn ticker() -> Thread {
    let mut ticker = TICKER.lock().unwrap_or_else(PoisonError::into_inner);
    ticker
        .get_or_insert_with(|| {
            std::thread::Builder::new()
                .name("wasmcffi-epoch".into())
                .spawn(tick_forever)
                .expect("cannot start the wasmcffi epoch thread")
                .thread()
                .clone()
        })
        .clone()
}

/// Call in the child of a `fork()`, which has none of its parent's threads:
/// the next guest call starts a ticker of its own, so that time limits, Ctrl-C
/// and the GIL hand-back keep working there.
pub fn after_fork_in_child() {
    // The parent's lock could only be held by a thread the child does not
    // have; then the ticker is left as it is rather than waited for.
    if let Ok(mut ticker) = TICKER.try_lock() {
        *ticker = None;
    }
    PARKED.store(true, Ordering::SeqCst);
}

fn tick_forever() {
    PARKED.store(false, Ordering::SeqCst);
    let mut seen = ACTIVITY.load(Ordering::Relaxed);
    let mut idle = 0u32;
    loop {
        std::thread::sleep(TICK);
        for engine in ENGINES.iter().filter_map(OnceLock::get) {
            engine.increment_epoch();
        }
        let now = ACTIVITY.load(Ordering::Relaxed);
        if now != seen {
            seen = now;
            idle = 0;
            continue;
        }
        idle += 1;
        if idle >= IDLE_TICKS_BEFORE_PARKING {
            PARKED.store(true, Ordering::SeqCst);
            // A call starting now sees PARKED and unparks us (the token makes an
            // early unpark count); one that raced with the store is caught by the
            // timeout: we tick again and its epoch callback shows activity.
            if ACTIVITY.load(Ordering::SeqCst) == seen {
                std::thread::park_timeout(PARKED_PERIOD);
            }
            PARKED.store(false, Ordering::SeqCst);
            // Look again after a couple of ticks, not a full idle period.
            idle = IDLE_TICKS_BEFORE_PARKING - 2;
        }
    }
}
