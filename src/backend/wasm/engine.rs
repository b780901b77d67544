//! The process-wide wasmtime [`Engine`], the shared WASI [`Linker`], and [`WasmModule`]:
//! one compiled `.wasm` file, ready to instantiate.

use std::sync::{Arc, OnceLock};

use wasmtime::{Config, Engine, InstancePre, Linker, Module, OptLevel, Strategy};

use super::wasi::StoreData;
use crate::error::{Error, Result};

/// The one engine every module and sandbox of this process uses.
///
/// Cranelift at `OptLevel::Speed`; wasm backtraces on (up to 32 frames) (they go into `Error::Trap`
/// messages); the default 64-bit memory strategy (a 4 GiB reservation plus guard
/// pages per memory, so bounds checks are done by the MMU); the default guest stack
/// limit for wasm frames (`max_wasm_stack`, 512 KiB of host stack), past which the
/// guest traps with a stack-overflow trap instead of crashing the host.
///
/// Compiled code is cached on disk by `module_cache` (used through
/// [`WasmModule::cached`]) rather than by wasmtime's `Config::cache`, whose cargo
/// feature costs ~2 min more of clean build (DESIGN §8).
pub(crate) fn engine() -> Result<&'static Engine> {
    static ENGINE: OnceLock<std::result::Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = Config::new();
            config
                .strategy(Strategy::Cranelift)
                .cranelift_opt_level(OptLevel::Speed)
                .wasm_backtrace_max_frames(std::num::NonZeroUsize::new(32));
            Engine::new(&config).map_err(|e| format!("{e:#}"))
        })
        .as_ref()
        .map_err(|e| Error::Internal(format!("cannot create the wasmtime engine: {e}")))
}

/// The linker with the WASI preview 1 imports, made once for the engine.
fn linker() -> Result<&'static Linker<StoreData>> {
    static LINKER: OnceLock<std::result::Result<Linker<StoreData>, String>> = OnceLock::new();
    let engine = engine()?;
    LINKER
        .get_or_init(|| {
            let mut linker = Linker::new(engine);
            wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |data: &mut StoreData| {
                &mut data.wasi
            })
            .map_err(|e| format!("{e:#}"))?;
            super::host_calls::define_imports(&mut linker).map_err(|e| format!("{e:#}"))?;
            Ok(linker)
        })
        .as_ref()
        .map_err(|e| Error::Internal(format!("cannot set up the WASI imports: {e}")))
}

/// A compiled module, made once per `.wasm` file. Cheap to clone (reference counted);
/// instantiate it with [`super::Sandbox::new`] as many times as needed.
#[derive(Clone)]
pub struct WasmModule {
    pub(crate) pre: Arc<InstancePre<StoreData>>,
}

impl std::fmt::Debug for WasmModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmModule")
            .field("name", &self.pre.module().name())
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
        let module = Module::new(engine()?, wasm_bytes)
            .map_err(|e| Error::Value(format!("invalid WebAssembly module: {e:#}")))?;
        Self::from_module(&module)
    }

    /// [`WasmModule::new`], reusing machine code compiled earlier for the same
    /// bytes from the on-disk cache (and filling it otherwise).
    ///
    /// # Errors
    /// As [`WasmModule::new`].
    pub fn cached(wasm_bytes: &[u8]) -> Result<WasmModule> {
        super::module_cache::load(wasm_bytes)
    }

    /// Serializes the compiled machine code, to be reloaded with [`Self::deserialize`]
    /// by the same wasmcffi build (same wasmtime version and engine settings).
    ///
    /// # Errors
    /// `Error::Internal` if wasmtime cannot serialize the module.
    pub fn serialize(&self) -> Result<Vec<u8>> {
        self.pre
            .module()
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
        // SAFETY: the caller promises the bytes come from `serialize` with this engine
        // (see the function's `# Safety`); wasmtime still checks the header and version.
        let module = unsafe { Module::deserialize(engine()?, bytes) }
            .map_err(|e| Error::Value(format!("cannot load compiled module: {e:#}")))?;
        Self::from_module(&module)
    }

    fn from_module(module: &Module) -> Result<WasmModule> {
        let pre = linker()?
            .instantiate_pre(module)
            .map_err(|e| Error::Os(format!("cannot link the module: {e:#}")))?;
        Ok(WasmModule { pre: Arc::new(pre) })
    }

    /// The names of the functions the module exports.
    pub fn function_exports(&self) -> Vec<String> {
        self.pre
            .module()
            .exports()
            .filter(|e| e.ty().func().is_some())
            .map(|e| e.name().to_string())
            .collect()
    }
}
