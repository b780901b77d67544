//! [`Sandbox`]: one instance of a [`WasmModule`] with its own store and linear memory,
//! and the call path into it.
//!
//! Concurrency: the store sits behind a `Mutex`, so calls from several threads are
//! serialized. A thread that finds the sandbox busy waits through the host's
//! blocking hook (the Python layer releases the GIL for the wait, see
//! `interrupt`). A thread that is running guest code owns the sandbox; if it tries
//! to enter again (a host callback, an output sink, a finalizer calling into the
//! same sandbox) it gets an error instead of a deadlock, and a `free` it asks for
//! is deferred until the running call returns.
//!
//! Every entry into guest code (calls, `malloc`/`free` on the host's behalf,
//! `_initialize`) goes through [`Live::run`]: the per-call time limit, fuel budget,
//! usage counters and fault handling live there once.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError, Weak};
use std::time::{Duration, Instant};

use wasmtime::{AsContextMut, Func, Store, StoreContextMut, TypedFunc, ValType};

use super::engine::{Flavor, Prepared, WasmModule};
use super::fault::{describe_fault, Fault};
use super::host_calls;
use super::host_state::{sandbox_key, ExternPythonHandler, HostState, TableCallback};
use super::interrupt::{self, CallClock};
use super::limits::{Limiter, Limits, SharedLimits, Usage, UsageCounters};
use super::raw_call;
use super::values::{WasmSignature, WasmType, WasmVal};
use super::wasi::{self, Grants, OutputPipe, OutputSink, StoreData};
use crate::backend::native::errno;
use crate::bail;
use crate::error::{Error, Result};

/// How a sandbox is set up. `Default` grants nothing: output is dropped, memory
/// may grow to [`super::DEFAULT_MAX_MEMORY`], calls have no time limit (Ctrl-C
/// still stops them), no fuel metering, no automatic reset.
#[derive(Clone, Default)]
pub struct SandboxConfig {
    /// Receives what the guest writes to stdout (dropped if `None`).
    pub stdout: Option<OutputSink>,
    /// Receives what the guest writes to stderr (dropped if `None`).
    pub stderr: Option<OutputSink>,
    /// Memory, time and fuel limits (changeable later with [`Sandbox::set_limits`]).
    /// Growing memory past the limit fails inside the guest (`memory.grow` returns
    /// -1, so `malloc` returns NULL): no host error.
    pub limits: Limits,
    /// Run on the fuel-metering engine, so `limits.fuel` can be set. Metered guest
    /// code is slower, so only sandboxes that ask for it are metered.
    pub metered: bool,
    /// Start a fresh instance right after a fault instead of staying poisoned
    /// until [`Sandbox::reset`] (the faulting call still reports its error).
    pub auto_reset: bool,
    /// Files, environment variables and arguments granted to the guest.
    pub grants: Grants,
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .field("limits", &self.limits)
            .field("metered", &self.metered)
            .field("auto_reset", &self.auto_reset)
            .field("grants", &self.grants)
            .finish()
    }
}

/// An exported guest function, looked up once by [`Sandbox::function`]: calls
/// through [`Sandbox::call_function`] skip the lookup by name and allocate nothing.
/// Stays valid across [`Sandbox::reset`] (it is looked up again in the new instance).
#[derive(Clone, Debug)]
pub struct GuestFunc {
    slot: usize,
    params: Vec<WasmType>,
    results: Vec<WasmType>,
}

impl GuestFunc {
    /// The wasm types of the parameters.
    pub fn params(&self) -> &[WasmType] {
        &self.params
    }

    /// The wasm types of the results (none or one for C functions).
    pub fn results(&self) -> &[WasmType] {
        &self.results
    }
}

/// The guest state behind the sandbox's lock: replaced wholesale by [`Sandbox::reset`].
pub(crate) struct Live {
    pub(crate) store: Store<StoreData>,
    pub(crate) free: Option<TypedFunc<i32, ()>>,
    /// Why the instance must not run again (an earlier trap or exit), if it must not.
    pub(crate) poisoned: Option<String>,
    /// Whether the store burns fuel (it was made by the metered engine).
    metered: bool,
    /// The guest's memory and where its `errno` is in it, which each call
    /// starts with the saved `ffi.errno` and saves after.
    errno: Option<(wasmtime::Memory, usize)>,
}

/// One instance of a module with its own store and linear memory.
///
/// Thread-safe: calls are serialized by an internal mutex. After a fault (a trap, a
/// timeout, an interrupt or a guest `exit()`) the instance is *poisoned* (its stack
/// pointer and heap may be inconsistent): further calls fail with `Error::Trap`
/// until [`Sandbox::reset`] (or at once, with [`SandboxConfig::auto_reset`]).
pub struct Sandbox {
    module: WasmModule,
    config: SandboxConfig,
    limits: Arc<SharedLimits>,
    usage: Arc<UsageCounters>,
    live: Mutex<Live>,
    /// Threads waiting for `live`; when there are some, leaving the sandbox
    /// notifies `idle` (under `idle_lock`).
    waiters: AtomicUsize,
    idle_lock: Mutex<()>,
    idle: Condvar,
    /// The token of the thread inside the sandbox (0: none). See the module docs.
    owner: AtomicU64,
    /// Bumped by every reset; a [`GuestMemory`](super::GuestMemory) of an older generation is dead.
    generation: AtomicU64,
    /// Frees asked for while the sandbox was busy: (generation, address).
    deferred_frees: Mutex<Vec<(u64, u32)>>,
    /// Whether `deferred_frees` may be non-empty (checked without the lock on every call).
    frees_pending: AtomicBool,
    /// The export names of the [`GuestFunc`]s handed out, by slot.
    function_names: Mutex<Vec<String>>,
    stdout: OutputPipe,
    stderr: OutputPipe,
    /// Names this sandbox in the registry of active host calls (`host_calls`).
    key: u64,
    /// What the guest's `extern "Python"` calls run (kept across resets).
    extern_python: Mutex<Option<Weak<dyn ExternPythonHandler>>>,
    /// Callback slots whose cdata died while the sandbox was busy: (generation, slot).
    deferred_slot_frees: Mutex<Vec<(u64, u32)>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("module", &self.module)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A small number naming the current thread (`ThreadId` has no stable integer form).
/// Every guest call asks once, so the thread-local is const-initialised (no lazy
/// initialisation check) and the token assigned on first use.
fn thread_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local!(static TOKEN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) });
    TOKEN.with(|token| {
        if token.get() == 0 {
            token.set(NEXT.fetch_add(1, Ordering::Relaxed));
        }
        token.get()
    })
}

/// The sandbox held by the current thread: the store is locked and `owner` names us.
/// Dropping it runs the deferred frees, releases the lock, then flushes guest output.
pub(crate) struct Entered<'a> {
    sandbox: &'a Sandbox,
    guard: Option<MutexGuard<'a, Live>>,
}

impl std::ops::Deref for Entered<'_> {
    type Target = Live;
    fn deref(&self) -> &Live {
        self.guard.as_ref().expect("guard present until drop")
    }
}

impl std::ops::DerefMut for Entered<'_> {
    fn deref_mut(&mut self) -> &mut Live {
        self.guard.as_mut().expect("guard present until drop")
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        if let Some(mut live) = self.guard.take() {
            self.sandbox.run_deferred_frees(&mut live);
            self.sandbox.owner.store(0, Ordering::Release);
            drop(live);
            self.sandbox.wake_waiters();
        }
        self.sandbox.stdout.flush();
        self.sandbox.stderr.flush();
    }
}

impl Sandbox {
    /// Instantiates `module` with WASI preview 1 (only stdout and stderr granted) and
    /// runs the reactor's `_initialize` export if it has one.
    ///
    /// # Errors
    /// `Error::Memory` if the module's initial memory exceeds `max_memory`;
    /// `Error::Trap` / `Error::GuestExit` if `_initialize` faults or exits.
    pub fn new(module: &WasmModule, config: SandboxConfig) -> Result<Arc<Sandbox>> {
        let stdout = OutputPipe::new(config.stdout.clone());
        let stderr = OutputPipe::new(config.stderr.clone());
        if config.limits.fuel.is_some() && !config.metered {
            bail!(
                Value,
                "a fuel limit needs a metered sandbox (SandboxConfig::metered)"
            );
        }
        let limits = SharedLimits::new(config.limits);
        let usage = Arc::new(UsageCounters::default());
        let key = sandbox_key();
        let host = HostState::new(key, None);
        let live = instantiate(module, &config, &limits, &usage, &stdout, &stderr, host)?;
        let sandbox = Arc::new(Sandbox {
            module: module.clone(),
            config,
            limits,
            usage,
            live: Mutex::new(live),
            waiters: AtomicUsize::new(0),
            idle_lock: Mutex::new(()),
            idle: Condvar::new(),
            owner: AtomicU64::new(0),
            generation: AtomicU64::new(1),
            deferred_frees: Mutex::new(Vec::new()),
            frees_pending: AtomicBool::new(false),
            function_names: Mutex::new(Vec::new()),
            stdout,
            stderr,
            key,
            extern_python: Mutex::new(None),
            deferred_slot_frees: Mutex::new(Vec::new()),
        });
        sandbox.initialize()?;
        Ok(sandbox)
    }

    fn initialize(&self) -> Result<()> {
        if self.has_export("_initialize") {
            self.call("_initialize", &[])?;
        }
        Ok(())
    }

    /// Drops all guest state and starts a fresh instance of the same module with the
    /// same configuration. Addresses into the old memory die with it: [`GuestMemory`](super::GuestMemory)
    /// handles taken before the reset fail with `Error::Memory` (their frees are ignored).
    ///
    /// # Errors
    /// As [`Sandbox::new`]; `Error::Runtime` if called from inside a guest call.
    pub fn reset(&self) -> Result<()> {
        {
            let mut entered = self.enter()?;
            let host = HostState::new(self.key, self.extern_python_handler());
            *entered = instantiate(
                &self.module,
                &self.config,
                &self.limits,
                &self.usage,
                &self.stdout,
                &self.stderr,
                host,
            )?;
            self.generation.fetch_add(1, Ordering::AcqRel);
            self.deferred_frees
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        }
        self.initialize()
    }

    /// Whether the module exports a function called `name` (no lock taken).
    pub fn has_export(&self, name: &str) -> bool {
        self.module
            .module()
            .get_export(name)
            .is_some_and(|ty| ty.func().is_some())
    }

    /// Why the sandbox refuses to run guest code, if it does (an earlier fault).
    /// Waits for a running call to finish.
    ///
    /// # Errors
    /// `Error::Interrupted` if the host's blocking hook gives up waiting.
    pub fn poisoned(&self) -> Result<Option<String>> {
        Ok(self.lock_live()?.poisoned.clone())
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits.get()
    }

    /// Changes the limits; they apply from the next call (memory: from the next
    /// growth; memory already grown past a lowered limit is kept, it cannot shrink).
    ///
    /// # Errors
    /// `Error::Value` for a fuel limit on a sandbox that is not metered.
    pub fn set_limits(&self, limits: Limits) -> Result<()> {
        if limits.fuel.is_some() && !self.config.metered {
            bail!(
                Value,
                "fuel limits need a metered sandbox: choose fuel when the instance is created"
            );
        }
        self.limits.set(limits);
        Ok(())
    }

    /// What the sandbox has consumed so far.
    pub fn usage(&self) -> Usage {
        self.usage.snapshot()
    }

    /// How the sandbox was set up (its limits are [`Sandbox::limits`]).
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// The module this sandbox instantiates.
    pub fn module(&self) -> &WasmModule {
        &self.module
    }

    /// Calls the exported function `export` with `args`.
    ///
    /// # Errors
    /// `Error::Attribute` if there is no such exported function; `Error::Type` if the
    /// arguments do not match its wasm signature; `Error::Trap` (description and guest
    /// backtrace) if the guest traps or the sandbox is poisoned; `Error::GuestExit` if
    /// the guest calls `exit()`; `Error::Runtime` if called from inside a guest call.
    pub fn call(&self, export: &str, args: &[WasmVal]) -> Result<Vec<WasmVal>> {
        self.with_store(true, |mut store| {
            let func = exported_func(&mut store, export)?;
            host_calls::call_func(store, &func, args, export)
        })
    }

    /// Runs `f` on the store: locked for the current thread, or, when the thread
    /// is already inside this sandbox (a host function called by the guest is
    /// running), through that host call (see `host_calls`). With `run_guest`, `f`
    /// runs guest code: a poisoned instance is refused first, and the outermost
    /// such call is armed by [`Live::run`] (time limit, fuel, usage). A guest
    /// fault `f` reports poisons the instance (or, nested, fails the host call it
    /// came through).
    pub(crate) fn with_store<R>(
        &self,
        run_guest: bool,
        f: impl FnOnce(StoreContextMut<'_, StoreData>) -> std::result::Result<R, Fault>,
    ) -> Result<R> {
        let token = thread_token();
        if self.is_entered_by(token) && host_calls::is_reentered(self.key) {
            return host_calls::with_reentered(self.key, run_guest, |caller| {
                f(caller.as_context_mut())
            });
        }
        let mut entered = self.enter_as(token)?;
        if !run_guest {
            return match f(entered.store.as_context_mut()) {
                Ok(value) => Ok(value),
                Err(Fault::Error(e)) => Err(e),
                Err(Fault::Guest(err)) => Err(entered.fault(err)),
            };
        }
        entered.check_usable()?;
        let mut own_error = None;
        let outcome = entered.run(|store| match f(store.as_context_mut()) {
            Ok(value) => Ok(Some(value)),
            Err(Fault::Guest(err)) => Err(err),
            Err(Fault::Error(e)) => {
                own_error = Some(e);
                Ok(None)
            }
        });
        match outcome {
            Ok(Some(value)) => Ok(value),
            Ok(None) => {
                Err(own_error
                    .unwrap_or_else(|| Error::Internal("a failed call lost its error".into())))
            }
            Err(err) => Err(self.after_fault(entered, err)),
        }
    }

    /// Makes `handler` run the guest's `extern "Python"` calls, in this instance
    /// and the ones `reset` makes, for as long as the caller keeps it alive (the
    /// sandbox holds it weakly: a handler usually refers to the sandbox). Without
    /// a live handler, such calls print a message and return 0.
    ///
    /// # Errors
    /// `Error::Runtime` when called from inside a guest call of another thread's.
    pub fn set_extern_python(&self, handler: &Arc<dyn ExternPythonHandler>) -> Result<()> {
        let handler = Arc::downgrade(handler);
        *self
            .extern_python
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(handler.clone());
        self.with_store(false, |mut store| {
            store.data_mut().host.extern_python = Some(handler);
            Ok(())
        })
    }

    fn extern_python_handler(&self) -> Option<Weak<dyn ExternPythonHandler>> {
        self.extern_python
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts `callback` in the guest's function table as a function of wasm type
    /// `signature`; returns `(generation, slot)`: the slot index is the C
    /// function pointer the guest calls. Free it with [`Sandbox::remove_callback`].
    ///
    /// # Errors
    /// `Error::NotImplemented` if the module does not export its function table;
    /// `Error::Memory` if the table cannot grow.
    pub fn add_callback(
        &self,
        signature: &WasmSignature,
        callback: TableCallback,
    ) -> Result<(u64, u32)> {
        let generation = self.generation();
        let stale = std::mem::take(
            &mut *self
                .deferred_slot_frees
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let slot = self.with_store(false, |mut store| {
            for (gen, slot) in stale {
                if gen == generation {
                    host_calls::remove_callback(&mut store, slot);
                }
            }
            Ok(host_calls::add_callback(store, signature, callback)?)
        })?;
        Ok((generation, slot))
    }

    /// Frees a slot made by [`Sandbox::add_callback`] (later guest calls through
    /// it trap). Never blocks: if another thread is inside the sandbox, the slot
    /// is freed by the next `add_callback`.
    pub fn remove_callback(&self, generation: u64, slot: u32) {
        if generation != self.generation() {
            return;
        }
        let reentered = self.is_entered_by_current_thread() && host_calls::is_reentered(self.key);
        if reentered {
            let _ = self.with_store(false, |store| {
                host_calls::remove_callback(store, slot);
                Ok(())
            });
        } else if let Some(mut live) = self.try_enter() {
            host_calls::remove_callback(&mut live.store, slot);
        } else {
            self.deferred_slot_frees
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((generation, slot));
        }
    }

    /// Calls the guest function whose table index (C function pointer) is
    /// `index`, checking that its wasm type is `signature`.
    ///
    /// # Errors
    /// `Error::Runtime` if `index` names no function; `Error::Type` if the
    /// function has another wasm type; as [`Sandbox::call`] otherwise.
    pub fn call_indirect(
        &self,
        index: u32,
        signature: &WasmSignature,
        args: &[WasmVal],
    ) -> Result<Option<WasmVal>> {
        self.with_store(true, |store| {
            host_calls::call_indirect(store, index, signature, args)
        })
    }

    /// Leaves the sandbox after a call failed with `err`, resetting it if the
    /// configuration asks for that; returns `err`, which the caller must see.
    fn after_fault(&self, entered: Entered<'_>, err: Error) -> Error {
        drop(entered);
        if self.config.auto_reset {
            // A failed reset leaves the instance poisoned, which the next call reports.
            let _ = self.reset();
        }
        err
    }

    /// Looks up the exported function `name` once, for [`Sandbox::call_function`].
    ///
    /// # Errors
    /// `Error::Attribute` if there is no such exported function; `Error::Type` if
    /// its signature uses wasm types other than numbers.
    pub fn function(&self, name: &str) -> Result<GuestFunc> {
        let Some(ty) = self
            .module
            .module()
            .get_export(name)
            .and_then(|e| e.func().cloned())
        else {
            bail!(Attribute, "the sandboxed module has no function '{name}'");
        };
        let types = |list: &mut dyn Iterator<Item = ValType>| {
            list.map(|t| WasmType::of(&t))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Error::Type(format!("'{name}' has a non-numeric wasm signature")))
        };
        let params = types(&mut ty.params())?;
        let results = types(&mut ty.results())?;
        let mut names = self
            .function_names
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let slot = match names.iter().position(|n| n == name) {
            Some(slot) => slot,
            None => {
                names.push(name.to_owned());
                names.len() - 1
            }
        };
        Ok(GuestFunc {
            slot,
            params,
            results,
        })
    }

    /// Calls `function` with `args`, which must match its parameter types.
    ///
    /// # Errors
    /// `Error::Type` if `args` do not match; otherwise as [`Sandbox::call`].
    pub fn call_function(&self, function: &GuestFunc, args: &[WasmVal]) -> Result<Option<WasmVal>> {
        let matching = args.len() == function.params.len()
            && args
                .iter()
                .zip(&function.params)
                .all(|(a, t)| a.wasm_type() == *t);
        if !matching || function.results.len() > 1 {
            bail!(
                Type,
                "wasm arguments {args:?} do not fit parameters {:?}",
                function.params
            );
        }
        let result = function.results.first().copied();
        self.with_store(true, |mut store| {
            let func = match store.data().functions.get(function.slot).copied().flatten() {
                Some(func) => func,
                None => self
                    .find_function(&mut store, function)
                    .map_err(Fault::Error)?,
            };
            raw_call::call_checked_func(&func, store, args, result).map_err(Fault::Guest)
        })
    }

    /// Finds `function` in the live instance, checks its type, and remembers it there.
    fn find_function(
        &self,
        store: &mut StoreContextMut<'_, StoreData>,
        function: &GuestFunc,
    ) -> Result<Func> {
        let slot = function.slot;
        let name = self
            .function_names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(slot)
            .cloned()
            .ok_or_else(|| Error::Internal("unknown guest function slot".into()))?;
        let func = exported_func(store, &name)?;
        // `raw_call` relies on this check: the exact wasm type, once per instance.
        let ty = func.ty(&*store);
        let same = |types: &mut dyn ExactSizeIterator<Item = ValType>, expected: &[WasmType]| {
            types.len() == expected.len()
                && types
                    .zip(expected)
                    .all(|(t, e)| WasmType::of(&t) == Some(*e))
        };
        if !same(&mut ty.params(), &function.params) || !same(&mut ty.results(), &function.results)
        {
            bail!(Internal, "guest function '{name}' changed type");
        }
        let functions = &mut store.data_mut().functions;
        if functions.len() <= slot {
            functions.resize(slot + 1, None);
        }
        functions[slot] = Some(func);
        Ok(func)
    }

    /// Which instance the sandbox runs: starts at 1 and grows by one at every
    /// reset. Guest addresses taken in an older generation are meaningless now.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether the current thread is inside this sandbox (running guest code).
    pub(crate) fn is_entered_by_current_thread(&self) -> bool {
        self.is_entered_by(thread_token())
    }

    /// Whether the thread whose [`thread_token`] is `token` is inside this sandbox.
    fn is_entered_by(&self, token: u64) -> bool {
        self.owner.load(Ordering::Acquire) == token
    }

    /// Locks the store for the current thread (blocking while another thread is in).
    pub(crate) fn enter(&self) -> Result<Entered<'_>> {
        self.enter_as(thread_token())
    }

    /// [`Self::enter`] for the thread whose [`thread_token`] is `token`.
    fn enter_as(&self, token: u64) -> Result<Entered<'_>> {
        if self.is_entered_by(token) {
            bail!(Runtime, "re-entrant use of a sandbox from inside a call into it (e.g. from an output sink) is not supported");
        }
        let guard = self.lock_live()?;
        self.owner.store(token, Ordering::Release);
        Ok(Entered {
            sandbox: self,
            guard: Some(guard),
        })
    }

    /// Locks the store; if another thread holds it, waits through the host's
    /// blocking hook (never holding the host's locks while waiting).
    fn lock_live(&self) -> Result<MutexGuard<'_, Live>> {
        match self.live.try_lock() {
            Ok(guard) => return Ok(guard),
            Err(TryLockError::Poisoned(p)) => return Ok(p.into_inner()),
            Err(TryLockError::WouldBlock) => {}
        }
        let mut guard = None;
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let outcome = interrupt::blocking(&mut |slice| {
            guard = self.wait_for_live(slice);
            guard.is_some()
        });
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        outcome?;
        guard.ok_or_else(|| Error::Internal("a sandbox wait ended without the sandbox".into()))
    }

    /// The store's lock if it comes free within `slice`.
    fn wait_for_live(&self, slice: Duration) -> Option<MutexGuard<'_, Live>> {
        let deadline = Instant::now() + slice;
        let mut idle = self
            .idle_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            match self.live.try_lock() {
                Ok(guard) => return Some(guard),
                Err(TryLockError::Poisoned(p)) => return Some(p.into_inner()),
                Err(TryLockError::WouldBlock) => {}
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            idle = self
                .idle
                .wait_timeout(idle, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Wakes the threads waiting for the store (after it was released). Holding
    /// `idle_lock` orders this after a waiter's failed `try_lock`, so no wake-up is
    /// lost; without waiters it costs one atomic load.
    fn wake_waiters(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _idle = self
                .idle_lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.idle.notify_all();
        }
    }

    /// Locks the store only if nobody is in: `None` when busy (never blocks).
    pub(crate) fn try_enter(&self) -> Option<Entered<'_>> {
        if self.is_entered_by_current_thread() {
            return None;
        }
        let guard = match self.live.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        self.owner.store(thread_token(), Ordering::Release);
        Some(Entered {
            sandbox: self,
            guard: Some(guard),
        })
    }

    /// Queues a free for when the running call returns.
    pub(crate) fn defer_free(&self, generation: u64, addr: u32) {
        self.deferred_frees
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((generation, addr));
        self.frees_pending.store(true, Ordering::Release);
    }

    fn run_deferred_frees(&self, live: &mut Live) {
        if !self.frees_pending.load(Ordering::Acquire)
            || !self.frees_pending.swap(false, Ordering::AcqRel)
        {
            return;
        }
        loop {
            let batch = std::mem::take(
                &mut *self
                    .deferred_frees
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            if batch.is_empty() {
                return;
            }
            let generation = self.generation();
            for (gen, addr) in batch {
                if gen == generation {
                    let _ = live.free_now(addr);
                }
            }
        }
    }
}

impl Live {
    /// Turns an error out of guest code into ours and poisons the instance.
    pub(crate) fn fault(&mut self, err: wasmtime::Error) -> Error {
        let (error, why) = describe_fault(&err, None);
        self.poisoned = Some(why);
        error
    }

    /// `Error::Trap` if the instance must not run guest code any more.
    pub(crate) fn check_usable(&self) -> Result<()> {
        match &self.poisoned {
            Some(why) => bail!(
                Trap,
                "the sandbox cannot run after an earlier fault ({why}); reset it"
            ),
            None => Ok(()),
        }
    }

    /// Calls the guest's `wasmcffi_free` (nothing if poisoned or not linked in).
    pub(crate) fn free_now(&mut self, addr: u32) -> Result<()> {
        if addr == 0 || self.poisoned.is_some() {
            return Ok(());
        }
        let Some(free) = self.free.clone() else {
            return Ok(());
        };
        self.run(|store| free.call(store, addr as i32))
    }

    /// Runs guest code: `enter` calls into the instance under the current limits
    /// (time limit, fuel budget, the ticker running), counts the call and its fuel,
    /// and turns a fault into our error, poisoning the instance.
    pub(crate) fn run<R>(
        &mut self,
        enter: impl FnOnce(&mut Store<StoreData>) -> wasmtime::Result<R>,
    ) -> Result<R> {
        interrupt::call_starting();
        let budget = prepare_store(&mut self.store, self.metered);
        // `ffi.errno` is handed to the guest's errno and back, as around a native call.
        let errno = self.errno;
        if let Some((memory, at)) = errno {
            let _ = memory.write(&mut self.store, at, &errno::saved().to_le_bytes());
        }
        let outcome = enter(&mut self.store);
        if let Some((memory, at)) = errno {
            let mut value = [0u8; 4];
            if memory.read(&self.store, at, &mut value).is_ok() {
                errno::set_saved(i32::from_le_bytes(value));
            }
        }
        let spent = budget.map(|b| b.saturating_sub(self.store.get_fuel().unwrap_or(0)));
        let usage = &self.store.data().limiter.usage;
        usage.count_call(spent, outcome.is_err());
        outcome.map_err(|err| {
            let (error, why) = describe_fault(&err, budget);
            self.poisoned = Some(why);
            error
        })
    }
}

/// The function the instance in `store` exports as `name`.
fn exported_func(store: &mut StoreContextMut<'_, StoreData>, name: &str) -> Result<Func> {
    store
        .data()
        .host
        .handles
        .as_ref()
        .map(|h| h.instance)
        .and_then(|instance| instance.get_func(&mut *store, name))
        .ok_or_else(|| Error::Attribute(format!("the sandboxed module has no function '{name}'")))
}

/// Arms `store` for a call: its time limit starts now, its epoch deadline is one
/// tick ahead, and a metered store gets its fuel budget (returned).
fn prepare_store(store: &mut Store<StoreData>, metered: bool) -> Option<u64> {
    let limits = &store.data().limiter.limits;
    let (timeout, budget) = (limits.timeout(), limits.fuel());
    store.data_mut().clock = CallClock::start(timeout);
    store.set_epoch_deadline(1);
    if !metered {
        return None;
    }
    // Only fails on an engine without fuel, which a metered store never is.
    let _ = store.set_fuel(budget);
    Some(budget)
}

/// A fresh store and instance of `module`: the module's first (plain) instance
/// maps its own memory, later ones take a slot of the pool (or, while the pool
/// is full, map their own too).
fn instantiate(
    module: &WasmModule,
    config: &SandboxConfig,
    limits: &Arc<SharedLimits>,
    usage: &Arc<UsageCounters>,
    stdout: &OutputPipe,
    stderr: &OutputPipe,
    host: HostState,
) -> Result<Live> {
    let flavor = if config.metered {
        Flavor::Metered
    } else {
        module.next_plain_flavor()
    };
    let data = StoreData {
        wasi: wasi::wasi_ctx(stdout, stderr, &config.grants)?,
        limiter: Limiter {
            limits: Arc::clone(limits),
            usage: Arc::clone(usage),
        },
        clock: CallClock::default(),
        host,
        functions: Vec::new(),
    };
    match instantiate_in(module.pre(flavor)?, data, config.metered) {
        Err(Instantiation::PoolFull(data)) => {
            instantiate_in(module.pre(Flavor::Plain)?, *data, config.metered)
                .map_err(Instantiation::into_error)
        }
        made => made.map_err(Instantiation::into_error),
    }
}

/// Why [`instantiate_in`] failed.
enum Instantiation {
    /// The engine's pool has no free slot: the store's data, to try elsewhere.
    PoolFull(Box<StoreData>),
    /// Any other failure, as the user sees it.
    Failed(Error),
}

impl Instantiation {
    fn into_error(self) -> Error {
        match self {
            Instantiation::PoolFull(_) => {
                Error::Memory("no free instance slot in the sandbox pool".into())
            }
            Instantiation::Failed(e) => e,
        }
    }
}

/// A store holding `data` and an instance of `prepared` in it, its host handles
/// found.
fn instantiate_in(
    prepared: Arc<Prepared>,
    data: StoreData,
    metered: bool,
) -> std::result::Result<Live, Instantiation> {
    let pre = &prepared.pre;
    let mut store = Store::new(pre.module().engine(), data);
    store.limiter(|data| &mut data.limiter);
    store.epoch_deadline_callback(|mut ctx| interrupt::on_epoch(&mut ctx.data_mut().clock));
    // A module's start function runs guest code: under the same limits as a call.
    interrupt::call_starting();
    prepare_store(&mut store, metered);
    match pre.instantiate(&mut store) {
        Ok(instance) => {
            let (handles, free) = host_calls::find_handles(&mut store, instance, &prepared.exports);
            store.data_mut().host.handles = Some(handles);
            let errno = host_calls::find_errno(&mut store, &prepared.exports);
            Ok(Live {
                store,
                free,
                poisoned: None,
                metered,
                errno,
            })
        }
        Err(e) if e.is::<wasmtime::PoolConcurrencyLimitError>() => {
            Err(Instantiation::PoolFull(Box::new(store.into_data())))
        }
        Err(e) => Err(Instantiation::Failed(match describe_fault(&e, None).0 {
            stop @ (Error::Timeout(_) | Error::Interrupted(_) | Error::GuestExit(_)) => stop,
            _ => Error::Memory(format!(
                "cannot instantiate the sandbox (memory limit too small?): {e:#}"
            )),
        })),
    }
}
