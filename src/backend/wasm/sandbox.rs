//! [`Sandbox`]: one instance of a [`WasmModule`] with its own store and linear memory,
//! and the call path into it.
//!
//! Concurrency: the store sits behind a `Mutex`, so calls from several threads are
//! serialized. A thread that is running guest code owns the sandbox; if it tries to
//! enter again (a host callback, an output sink, a finalizer calling into the same
//! sandbox) it gets an error instead of a deadlock, and a `free` it asks for is
//! deferred until the running call returns.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use wasmtime::{
    AsContextMut, Store, StoreContextMut, StoreLimitsBuilder, Trap, TypedFunc, Val, ValType,
    WasmBacktrace,
};

use super::engine::WasmModule;
use super::host_calls::{
    self, ExternPythonHandler, Fault, HostState, TableCallback, WasmSignature,
};
use super::memory::GuestMemory;
use super::wasi::{self, OutputPipe, OutputSink, StoreData};
use crate::bail;
use crate::error::{Error, Result};

/// How a sandbox is set up. `Default` grants nothing: output is dropped and memory
/// may grow to the 4 GiB a wasm32 module can address.
#[derive(Clone, Default)]
pub struct SandboxConfig {
    /// Receives what the guest writes to stdout (dropped if `None`).
    pub stdout: Option<OutputSink>,
    /// Receives what the guest writes to stderr (dropped if `None`).
    pub stderr: Option<OutputSink>,
    /// Bytes of linear memory the guest may grow to. Growing past it fails inside
    /// the guest (`memory.grow` returns -1, so `malloc` returns NULL): no host error.
    pub max_memory: Option<u64>,
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .field("max_memory", &self.max_memory)
            .finish()
    }
}

/// A value passed to or returned from a guest function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WasmVal {
    /// `i32`: C `int`, `long`, pointers, `_Bool`, `char`… on wasm32.
    I32(i32),
    /// `i64`: C `long long`.
    I64(i64),
    /// `f32`: C `float`.
    F32(f32),
    /// `f64`: C `double`.
    F64(f64),
}

impl WasmVal {
    pub(crate) fn to_val(self) -> Val {
        match self {
            WasmVal::I32(v) => Val::I32(v),
            WasmVal::I64(v) => Val::I64(v),
            WasmVal::F32(v) => Val::F32(v.to_bits()),
            WasmVal::F64(v) => Val::F64(v.to_bits()),
        }
    }

    pub(crate) fn from_val(val: &Val) -> Result<WasmVal> {
        Ok(match *val {
            Val::I32(v) => WasmVal::I32(v),
            Val::I64(v) => WasmVal::I64(v),
            Val::F32(v) => WasmVal::F32(f32::from_bits(v)),
            Val::F64(v) => WasmVal::F64(f64::from_bits(v)),
            _ => bail!(
                Type,
                "guest function returned a value of an unsupported wasm type"
            ),
        })
    }

    pub(crate) fn matches(self, ty: &ValType) -> bool {
        matches!(
            (self, ty),
            (WasmVal::I32(_), ValType::I32)
                | (WasmVal::I64(_), ValType::I64)
                | (WasmVal::F32(_), ValType::F32)
                | (WasmVal::F64(_), ValType::F64)
        )
    }
}

/// The guest state behind the sandbox's lock: replaced wholesale by [`Sandbox::reset`].
pub(crate) struct Live {
    pub(crate) store: Store<StoreData>,
    pub(crate) free: Option<TypedFunc<i32, ()>>,
    /// Why the instance must not run again (an earlier trap or exit), if it must not.
    pub(crate) poisoned: Option<String>,
}

/// One instance of a module with its own store and linear memory.
///
/// Thread-safe: calls are serialized by an internal mutex. After a trap or a guest
/// `exit()` the instance is *poisoned* (its stack pointer and heap may be
/// inconsistent): further calls fail with `Error::Trap` until [`Sandbox::reset`].
pub struct Sandbox {
    module: WasmModule,
    config: SandboxConfig,
    live: Mutex<Live>,
    /// The token of the thread inside the sandbox (0: none). See the module docs.
    owner: AtomicU64,
    /// Bumped by every reset; a [`GuestMemory`] of an older generation is dead.
    generation: AtomicU64,
    /// Frees asked for while the sandbox was busy: (generation, address).
    deferred_frees: Mutex<Vec<(u64, u32)>>,
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

/// How a thread waits for a sandbox that another thread is running: the hook
/// gets a function that returns once the sandbox is free (it may be taken
/// again before the waiting thread gets it; the thread then waits again).
pub type WaitHook = fn(&(dyn Fn() + Sync));

static WAIT_HOOK: std::sync::OnceLock<WaitHook> = std::sync::OnceLock::new();

/// Sets, once per process, how threads wait for a busy sandbox. An embedding
/// with a global lock that guest code may need (Python's GIL, taken by
/// callbacks) must release it while waiting, or the two threads deadlock.
/// Returns `false` if a hook was already set.
pub fn set_wait_hook(hook: WaitHook) -> bool {
    WAIT_HOOK.set(hook).is_ok()
}

/// A small number naming the current thread (`ThreadId` has no stable integer form).
fn thread_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local!(static TOKEN: u64 = NEXT.fetch_add(1, Ordering::Relaxed));
    TOKEN.with(|t| *t)
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
        let key = host_calls::sandbox_key();
        let live = instantiate(module, &config, &stdout, &stderr, HostState::new(key, None))?;
        let sandbox = Arc::new(Sandbox {
            module: module.clone(),
            config,
            live: Mutex::new(live),
            owner: AtomicU64::new(0),
            generation: AtomicU64::new(1),
            deferred_frees: Mutex::new(Vec::new()),
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
    /// same configuration. Addresses into the old memory die with it: [`GuestMemory`]
    /// handles taken before the reset fail with `Error::Memory` (their frees are ignored).
    ///
    /// # Errors
    /// As [`Sandbox::new`]; `Error::Runtime` if called from inside a guest call.
    pub fn reset(&self) -> Result<()> {
        {
            let mut entered = self.enter()?;
            let host = HostState::new(self.key, self.extern_python_handler());
            *entered = instantiate(&self.module, &self.config, &self.stdout, &self.stderr, host)?;
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
            .pre
            .module()
            .get_export(name)
            .is_some_and(|ty| ty.func().is_some())
    }

    /// Why the sandbox refuses to run guest code, if it does (an earlier trap or exit).
    pub fn poisoned(&self) -> Option<String> {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .poisoned
            .clone()
    }

    /// The sandbox's linear memory as a cdata `Memory`.
    pub fn memory(self: &Arc<Self>) -> GuestMemory {
        GuestMemory::new(Arc::clone(self), self.generation())
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
            let func = store
                .data()
                .host
                .handles
                .as_ref()
                .map(|h| h.instance)
                .and_then(|instance| instance.get_func(&mut store, export))
                .ok_or_else(|| {
                    Error::Attribute(format!("the sandboxed module has no function '{export}'"))
                })?;
            host_calls::call_func(store, &func, args, export)
        })
    }

    /// Runs `f` on the store: locked for the current thread, or, when the thread
    /// is already inside this sandbox (a host function called by the guest is
    /// running), through that host call (see `host_calls`). With `run_guest`, a
    /// poisoned instance is refused first. A guest fault `f` reports poisons the
    /// instance (or, nested, fails the host call it came through).
    pub(crate) fn with_store<R>(
        &self,
        run_guest: bool,
        f: impl FnOnce(StoreContextMut<'_, StoreData>) -> std::result::Result<R, Fault>,
    ) -> Result<R> {
        if self.is_entered_by_current_thread() && host_calls::is_reentered(self.key) {
            return host_calls::with_reentered(self.key, run_guest, |caller| {
                f(caller.as_context_mut())
            });
        }
        let mut entered = self.enter()?;
        if run_guest {
            entered.check_usable()?;
        }
        let live = &mut *entered;
        match f(live.store.as_context_mut()) {
            Ok(value) => Ok(value),
            Err(Fault::Error(e)) => Err(e),
            Err(Fault::Guest(err)) => Err(live.fault(err)),
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

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether the current thread is inside this sandbox (running guest code).
    pub(crate) fn is_entered_by_current_thread(&self) -> bool {
        self.owner.load(Ordering::Acquire) == thread_token()
    }

    /// Locks the store for the current thread (blocking while another thread is
    /// in, through the [`set_wait_hook`] hook if one is set).
    pub(crate) fn enter(&self) -> Result<Entered<'_>> {
        if self.is_entered_by_current_thread() {
            bail!(Runtime, "re-entrant use of a sandbox from inside a call into it (e.g. from an output sink) is not supported");
        }
        let guard = loop {
            match self.live.try_lock() {
                Ok(guard) => break guard,
                Err(std::sync::TryLockError::Poisoned(p)) => break p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => match WAIT_HOOK.get() {
                    Some(hook) => hook(&|| drop(self.live.lock())),
                    None => break self.live.lock().unwrap_or_else(PoisonError::into_inner),
                },
            }
        };
        self.owner.store(thread_token(), Ordering::Release);
        Ok(Entered {
            sandbox: self,
            guard: Some(guard),
        })
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
    }

    fn run_deferred_frees(&self, live: &mut Live) {
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
        free.call(&mut self.store, addr as i32)
            .map_err(|e| self.fault(e))
    }

    /// Turns an error out of guest code into ours and poisons the instance.
    pub(crate) fn fault(&mut self, err: wasmtime::Error) -> Error {
        let (error, why) = describe_fault(&err);
        self.poisoned = Some(why);
        error
    }
}

/// The error for a guest fault, and a one-line reason for poisoning.
pub(crate) fn describe_fault(err: &wasmtime::Error) -> (Error, String) {
    if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return (
            Error::GuestExit(exit.0),
            format!("the guest exited with code {}", exit.0),
        );
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

/// A fresh store and instance of `module`.
fn instantiate(
    module: &WasmModule,
    config: &SandboxConfig,
    stdout: &OutputPipe,
    stderr: &OutputPipe,
    host: HostState,
) -> Result<Live> {
    let mut limits = StoreLimitsBuilder::new()
        .instances(1)
        .memories(1)
        .tables(1)
        .trap_on_grow_failure(false);
    if let Some(max) = config.max_memory {
        limits = limits.memory_size(usize::try_from(max).unwrap_or(usize::MAX));
    }
    let data = StoreData {
        wasi: wasi::wasi_ctx(stdout, stderr),
        limits: limits.build(),
        host,
    };
    let mut store = Store::new(module.pre.module().engine(), data);
    store.limiter(|data| &mut data.limits);
    let instance = module.pre.instantiate(&mut store).map_err(|e| {
        Error::Memory(format!(
            "cannot instantiate the sandbox (memory limit too small?): {e:#}"
        ))
    })?;
    store.data_mut().host.handles = Some(host_calls::find_handles(&mut store, instance));
    let free = instance
        .get_typed_func::<i32, ()>(&mut store, "wasmcffi_free")
        .ok();
    Ok(Live {
        store,
        free,
        poisoned: None,
    })
}
