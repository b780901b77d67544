//! What a sandbox may consume, and what it has consumed.
//!
//! [`Limits`] are the user's numbers (memory, time and fuel per call), changeable
//! while the instance lives ([`super::Sandbox::set_limits`]); they are shared with
//! the store through [`SharedLimits`] (atomics, read without the sandbox's lock).
//! [`Limiter`] is the store's `ResourceLimiter`: linear memory past the limit and
//! tables past [`MAX_TABLE_ELEMENTS`] fail to grow inside the guest (`memory.grow`
//! returns -1, `malloc` returns NULL), never as a host error. [`Usage`] counts
//! calls, traps, fuel and memory for the user.

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::ResourceLimiter;

/// Default cap on linear memory: 1 GiB (a wasm32 module could address 4 GiB).
pub const DEFAULT_MAX_MEMORY: u64 = 1 << 30;

/// Elements any table of a sandbox may grow to (each `ffi.callback` in a sandbox
/// takes one while it lives). Tables live in host memory (one pointer-sized slot
/// per element), so a guest must not grow them without bound; the instance pool
/// reserves this many for each of its slots.
pub const MAX_TABLE_ELEMENTS: usize = 1 << 16;

/// The limits of one sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of linear memory the guest may grow to.
    pub max_memory: u64,
    /// Wall-clock time one call into the guest may run (`None`: no limit; Ctrl-C
    /// still interrupts it).
    pub timeout: Option<Duration>,
    /// Fuel (about one unit per wasm instruction) one call may burn. `Some` only
    /// for metered instances (see [`super::SandboxConfig::metered`]).
    pub fuel: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_memory: DEFAULT_MAX_MEMORY,
            timeout: None,
            fuel: None,
        }
    }
}

/// [`Limits`] readable and writable without a lock (by the store's limiter, the
/// epoch callback and the call path).
#[derive(Debug)]
pub(crate) struct SharedLimits {
    max_memory: AtomicU64,
    /// Nanoseconds; 0 means none.
    timeout_ns: AtomicU64,
    /// `u64::MAX` means none.
    fuel: AtomicU64,
}

impl SharedLimits {
    pub(crate) fn new(limits: Limits) -> Arc<SharedLimits> {
        let shared = Arc::new(SharedLimits {
            max_memory: AtomicU64::new(0),
            timeout_ns: AtomicU64::new(0),
            fuel: AtomicU64::new(u64::MAX),
        });
        shared.set(limits);
        shared
    }

    pub(crate) fn set(&self, limits: Limits) {
        let timeout_ns = limits.timeout.map_or(0, |t| {
            u64::try_from(t.as_nanos()).unwrap_or(u64::MAX).max(1)
        });
        self.max_memory.store(limits.max_memory, Ordering::Relaxed);
        self.timeout_ns.store(timeout_ns, Ordering::Relaxed);
        self.fuel
            .store(limits.fuel.unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> Limits {
        let timeout_ns = self.timeout_ns.load(Ordering::Relaxed);
        let fuel = self.fuel.load(Ordering::Relaxed);
        Limits {
            max_memory: self.max_memory.load(Ordering::Relaxed),
            timeout: (timeout_ns != 0).then(|| Duration::from_nanos(timeout_ns)),
            fuel: (fuel != u64::MAX).then_some(fuel),
        }
    }

    pub(crate) fn timeout(&self) -> Option<Duration> {
        match self.timeout_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    pub(crate) fn fuel(&self) -> u64 {
        self.fuel.load(Ordering::Relaxed)
    }
}

/// What a sandbox has consumed, for the user (all counters since creation;
/// resets keep counting).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of linear memory the current instance has.
    pub memory: u64,
    /// Fuel burnt by all calls (metered instances only).
    pub fuel: u64,
    /// Calls into the guest.
    pub calls: u64,
    /// Calls that ended in a fault (trap, timeout, interrupt, exit).
    pub traps: u64,
}

/// The counters behind [`Usage`], updated without the sandbox's lock.
#[derive(Debug, Default)]
pub(crate) struct UsageCounters {
    pub(crate) memory: AtomicU64,
    pub(crate) fuel: AtomicU64,
    pub(crate) calls: AtomicU64,
    pub(crate) traps: AtomicU64,
}

impl UsageCounters {
    /// Counts one call (and the fuel it burnt, and whether it faulted). Only
    /// called holding the sandbox's lock, so plain loads and stores suffice (no
    /// read-modify-write on the call path).
    pub(crate) fn count_call(&self, fuel: Option<u64>, faulted: bool) {
        let bump = |counter: &AtomicU64, by: u64| {
            counter.store(
                counter.load(Ordering::Relaxed).wrapping_add(by),
                Ordering::Relaxed,
            );
        };
        bump(&self.calls, 1);
        if let Some(fuel) = fuel {
            bump(&self.fuel, fuel);
        }
        if faulted {
            bump(&self.traps, 1);
        }
    }

    pub(crate) fn snapshot(&self) -> Usage {
        Usage {
            memory: self.memory.load(Ordering::Relaxed),
            fuel: self.fuel.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
            traps: self.traps.load(Ordering::Relaxed),
        }
    }
}

/// The store's resource limiter: reads the live limits, records memory growth.
pub(crate) struct Limiter {
    pub(crate) limits: Arc<SharedLimits>,
    pub(crate) usage: Arc<UsageCounters>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let max = self.limits.max_memory.load(Ordering::Relaxed);
        let allowed = u64::try_from(desired).is_ok_and(|d| d <= max);
        if allowed {
            self.usage.memory.store(desired as u64, Ordering::Relaxed);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        // The C function table, plus room for one more (callback tables).
        2
    }

    fn memories(&self) -> usize {
        1
    }
}
