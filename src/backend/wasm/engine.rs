//! The process-wide wasmtime [`Engine`], the shared WASI [`Linker`], and [`WasmModule`]:
//! one compiled `.wasm` file, ready to instantiate.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module, OptLevel,
    PoolingAllocationConfig, Strategy,
};

use super::host_calls::ExportIndices;
use super::limits::MAX_TABLE_ELEMENTS;
use super::wasi::StoreData;
use crate::error::{Error, Result};

/// Which engine a module is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Flavor {
    /// The default engine: epoch checks only; each instance maps its own memory.
    Plain,
    /// Fuel metering on top (`Config::consume_fuel`): deterministic budgets, at the
    /// cost of slower guest code, so only instances that ask for fuel use it.
    Metered,
    /// The default engine's settings with instances taken from a pool of
    /// reusable slots (see [`engine_for`]): for every instance of a module after
    /// its first.
    Pooled,
}

impl Flavor {
    pub(super) fn slot(self) -> usize {
        match self {
            Flavor::Plain => 0,
            Flavor::Metered => 1,
            Flavor::Pooled => 2,
        }
    }
}

/// How many sandboxes (each one instance with one memory and one table) the
/// pooled engine holds at once. Each slot reserves address space for a
/// 4 GiB memory plus guard pages (about 4 TiB in all, of the 128 TiB a 64-bit
/// Linux process has) and a table of [`MAX_TABLE_ELEMENTS`] (512 KiB), committed
/// only as guests touch them. More live sandboxes than this still work: they
/// are made without the pool (one 4 GiB mapping each).
pub const POOL_SLOTS: u32 = 1000;

/// Bytes of a freed slot's table that are cleared with `memset` rather than
/// handed back to the kernel (`madvise`): a C module's table of address-taken
/// functions is small, and the `memset` is cheaper than the system call.
const POOL_TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// Bytes of a freed slot's linear memory that are reset in place rather than
/// handed back to the kernel. With Linux's `PAGEMAP_SCAN` (6.7 and later, used
/// when present) wasmtime finds the pages the guest touched and copies their
/// original contents back, so the next instance takes no page faults and the
/// `madvise` (with its TLB shootdown) is skipped: a fresh instance of a small
/// module went from ~28 to ~18 us. What a guest touched beyond this is handed
/// back as before; each of the (at most 100) unused warm slots keeps this much
/// resident. On older kernels the lowest 64 KiB are simply zeroed (~2 us).
const POOL_MEMORY_KEEP_RESIDENT: usize = 64 << 10;

/// The engine of `flavor`, made once per process.
///
/// Cranelift at `OptLevel::Speed`; epoch interruption (timeouts, Ctrl-C and GIL
/// hand-back, see `interrupt`); wasm backtraces on (up to 32 frames) (they go into
/// `Error::Trap` messages); the default 64-bit memory strategy (a 4 GiB reservation
/// plus guard pages per memory, so bounds checks are done by the MMU); the default
/// guest stack limit for wasm frames (`max_wasm_stack`, 512 KiB of host stack),
/// past which the guest traps with a stack-overflow trap instead of crashing the host.
///
/// The [`Flavor::Pooled`] engine allocates instances from wasmtime's pooling
/// allocator: a fresh sandbox reuses a slot whose address space is reserved
/// already, instead of mapping and unmapping 4 GiB (most of what an instance
/// costs otherwise). Making that engine costs ~0.4 ms (wasmtime asks the
/// standard library for the CPU count five times, each reading the cgroup
/// files), as much again as importing a module, so it is made only when a
/// module gets its second instance. If the pool's reservation is refused (a
/// limit on address space), that engine runs without a pool.
///
/// Compiled code is cached on disk by `module_cache` (used through
/// [`WasmModule::cached`]) rather than by wasmtime's `Config::cache`, whose cargo
/// feature costs ~2 min more of clean build (DESIGN §8).
pub(crate) fn engine_for(flavor: Flavor) -> Result<&'static Engine> {
    static ENGINES: [OnceLock<std::result::Result<Engine, String>>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    ENGINES[flavor.slot()]
        .get_or_init(|| {
            let mut config = Config::new();
            config
                .strategy(Strategy::Cranelift)
                .cranelift_opt_level(OptLevel::Speed)
                .wasm_backtrace_max_frames(std::num::NonZeroUsize::new(32))
                .epoch_interruption(true)
                // setjmp/longjmp: LLVM lowers them onto wasm exceptions.
                .wasm_exceptions(true)
                .consume_fuel(flavor == Flavor::Metered);
            // Profiling: with `WASMCFFI_PERF_MAP` set, wasmtime writes
            // /tmp/perf-<pid>.map, so `perf` names the guest's functions.
            if std::env::var_os("WASMCFFI_PERF_MAP").is_some() {
                config.profiler(wasmtime::ProfilingStrategy::PerfMap);
            }
            let pooled = (flavor == Flavor::Pooled)
                .then(|| {
                    let mut pooled = config.clone();
                    pooled.allocation_strategy(pool());
                    Engine::new(&pooled).ok()
                })
                .flatten();
            let engine = match pooled {
                Some(engine) => engine,
                None => Engine::new(&config).map_err(|e| format!("{e:#}"))?,
            };
            super::interrupt::register_engine(flavor.slot(), &engine);
            Ok(engine)
        })
        .as_ref()
        .map_err(|e| Error::Internal(format!("cannot create the wasmtime engine: {e}")))
}

/// The pooling allocator of the [`Flavor::Pooled`] engine: [`POOL_SLOTS`] slots,
/// each for one instance of a module with one memory and one table.
fn pool() -> InstanceAllocationStrategy {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(POOL_SLOTS)
        .total_memories(POOL_SLOTS)
        .total_tables(POOL_SLOTS)
        .table_elements(MAX_TABLE_ELEMENTS)
        // No async calls, so no fiber stacks: a pool of them would cost 1000
        // `mprotect`s (guard pages) when the engine is made, ~3 ms of every import.
        .total_stacks(0)
        .table_keep_resident(POOL_TABLE_KEEP_RESIDENT)
        .linear_memory_keep_resident(POOL_MEMORY_KEEP_RESIDENT)
        .pagemap_scan(Enabled::Auto);
    InstanceAllocationStrategy::Pooling(pool)
}

/// WASI errno `NOSYS`: what the guest gets for functions that are not granted.
const ERRNO_NOSYS: i32 = 52;

/// The linker with the WASI preview 1 imports for `flavor`'s engine, made once.
///
/// `poll_oneoff` (which `sleep()` and `nanosleep()` use) is replaced by a function
/// failing with `NOSYS`: wasmtime-wasi would block the host thread in it, where
/// neither the time limit nor Ctrl-C can stop the guest (and the guest's clocks
/// are frozen anyway).
fn linker(flavor: Flavor) -> Result<&'static Linker<StoreData>> {
    static LINKERS: [OnceLock<std::result::Result<Linker<StoreData>, String>>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let engine = engine_for(flavor)?;
    LINKERS[flavor.slot()]
        .get_or_init(|| {
            let mut linker = Linker::new(engine);
            wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |data: &mut StoreData| {
                &mut data.wasi
            })
            .map_err(|e| format!("{e:#}"))?;
            super::host_calls::define_imports(&mut linker).map_err(|e| format!("{e:#}"))?;
            linker.allow_shadowing(true);
            linker
                .func_wrap(
                    "wasi_snapshot_preview1",
                    "poll_oneoff",
                    |_: i32, _: i32, _: i32, _: i32| ERRNO_NOSYS,
                )
                .map_err(|e| format!("{e:#}"))?;
            Ok(linker)
        })
        .as_ref()
        .map_err(|e| Error::Internal(format!("cannot set up the WASI imports: {e}")))
}

/// What instances of a module are made from, for one engine: the module linked
/// to its imports, and where the exports the host needs sit in it.
pub(crate) struct Prepared {
    pub(crate) pre: InstancePre<StoreData>,
    pub(crate) exports: ExportIndices,
}

pub(super) type Template = Arc<Prepared>;

/// A compiled module, made once per `.wasm` file. Cheap to clone (reference counted);
/// instantiate it with [`super::Sandbox::new`] as many times as needed.
#[derive(Clone)]
pub struct WasmModule {
    /// The template of [`Flavor::Plain`] instances.
    pub(crate) pre: Template,
    /// The wasm bytes, kept to compile the metered variant on demand (`None` for
    /// a module made from machine code alone).
    pub(super) wasm: Option<Arc<[u8]>>,
    /// The same module for the metered and the pooled engines (in the order of
    /// [`Flavor::slot`], less one), each made at first use.
    pub(super) variants: Arc<[OnceLock<Result<Template>>; 2]>,
    /// Whether the module's first instance was made (the next ones are pooled).
    instantiated: Arc<AtomicBool>,
}

impl std::fmt::Debug for WasmModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmModule")
            .field("name", &self.module().name())
            .finish_non_exhaustive()
    }
}

impl WasmModule {
    /// Compiles `wasm_bytes` (a wasm32-wasi reactor module) with Cranelift and
    /// resolves its imports against WASI preview 1.
    ///
    /// # Errors
    /// `Error::Value` if the bytes are not a valid module; `Error::Os` if the module
    /// imports something other than WASI preview 1 functions.
    pub fn new(wasm_bytes: &[u8]) -> Result<WasmModule> {
        Ok(Self::compile(wasm_bytes, Flavor::Plain)?.with_wasm(wasm_bytes))
    }

    /// Compiles `wasm_bytes` for the engine of `flavor`.
    pub(crate) fn compile(wasm_bytes: &[u8], flavor: Flavor) -> Result<WasmModule> {
        let module = Module::new(engine_for(flavor)?, wasm_bytes)
            .map_err(|e| Error::Value(format!("invalid WebAssembly module: {e:#}")))?;
        Self::from_module(&module, flavor)
    }

    /// This module remembering its wasm bytes (for the metered variant).
    pub(super) fn with_wasm(mut self, wasm_bytes: &[u8]) -> WasmModule {
        self.wasm = Some(Arc::from(wasm_bytes));
        self
    }

    /// The flavor of this module's next plain (not metered) instance: the first
    /// maps its own memory, the ones after it take slots of the pool.
    pub(crate) fn next_plain_flavor(&self) -> Flavor {
        if self.instantiated.swap(true, Ordering::Relaxed) {
            Flavor::Pooled
        } else {
            Flavor::Plain
        }
    }

    /// Serializes the compiled machine code, to be reloaded with [`Self::deserialize`]
    /// by the same wasmcffi build (same wasmtime version and engine settings).
    ///
    /// # Errors
    /// `Error::Internal` if wasmtime cannot serialize the module.
    pub fn serialize(&self) -> Result<Vec<u8>> {
        self.module()
            .serialize()
            .map_err(|e| Error::Internal(format!("cannot serialize module: {e:#}")))
    }

    /// Reloads machine code written by [`Self::serialize`], skipping compilation.
    ///
    /// # Errors
    /// `Error::Value` if the bytes were not made by this engine.
    ///
    /// # Safety
    /// wasmtime trusts serialized code: only pass bytes this process (or a trusted
    /// cache it wrote) produced with [`Self::serialize`]; arbitrary bytes could run
    /// arbitrary native code.
    pub unsafe fn deserialize(bytes: &[u8]) -> Result<WasmModule> {
        // SAFETY: as this function's own contract.
        unsafe { Self::deserialize_for(bytes, Flavor::Plain) }
    }

    /// [`Self::deserialize`] for the engine of `flavor`.
    ///
    /// # Safety
    /// As [`Self::deserialize`].
    pub(crate) unsafe fn deserialize_for(bytes: &[u8], flavor: Flavor) -> Result<WasmModule> {
        // SAFETY: the caller promises the bytes come from `serialize` by this build
        // (see the function's `# Safety`); wasmtime still checks the header and the
        // engine settings.
        let module = unsafe { Module::deserialize(engine_for(flavor)?, bytes) }
            .map_err(|e| Error::Value(format!("cannot load compiled module: {e:#}")))?;
        Self::from_module(&module, flavor)
    }

    fn from_module(module: &Module, flavor: Flavor) -> Result<WasmModule> {
        let pre = linker(flavor)?
            .instantiate_pre(module)
            .map_err(|e| Error::Os(format!("cannot link the module: {e:#}")))?;
        let exports = ExportIndices::of(module);
        Ok(WasmModule {
            pre: Arc::new(Prepared { pre, exports }),
            wasm: None,
            variants: Arc::default(),
            instantiated: Arc::default(),
        })
    }

    /// The calls a sandbox cannot make that the module links, as its build
    /// recorded them (custom section `wasmcffi.stubs`): each fails at run time.
    /// Empty for a module without the section or made from machine code alone.
    pub fn stubbed_calls(&self) -> Vec<String> {
        let listed = self
            .wasm
            .as_deref()
            .and_then(|wasm| super::custom_section::custom_section(wasm, "wasmcffi.stubs"));
        listed
            .map(|names| {
                String::from_utf8_lossy(names)
                    .split(',')
                    .filter(|n| !n.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The compiled module of the [`Flavor::Plain`] template.
    pub(crate) fn module(&self) -> &Module {
        self.pre.pre.module()
    }

    /// The names of the functions the module exports.
    pub fn function_exports(&self) -> Vec<String> {
        self.module()
            .exports()
            .filter(|e| e.ty().func().is_some())
            .map(|e| e.name().to_string())
            .collect()
    }
}
