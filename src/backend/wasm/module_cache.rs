//! Caches of compiled modules, so a second import of a module does not run
//! Cranelift again: in this process, recently loaded modules are shared (by
//! their bytes); across processes, an on-disk cache of machine code.
//!
//! An entry is two files named after a hash of the wasm bytes and the engine
//! version: `<key>.wasm` (a copy of the module) and `<key>.cwasm` (its machine
//! code). An entry is used only when the `.wasm` copy equals the module byte
//! for byte, so a hash collision can never load the wrong code. The directory
//! is the user's own (`$WASMCFFI_CACHE_DIR`, else `$XDG_CACHE_HOME/wasmcffi`,
//! else `~/.cache/wasmcffi`): whoever can write there can already run code as
//! the user, which is the same trust wasmtime's own cache asks for.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::Result;

use super::engine::{Flavor, Template, WasmModule};
use crate::error::Error;

/// How many modules this process keeps for sharing ([`shared`]).
const SHARED_LIMIT: usize = 64;

/// Modules loaded by this process, with their bytes, newest last.
static SHARED: Mutex<Vec<(Arc<[u8]>, WasmModule)>> = Mutex::new(Vec::new());

/// The module this process already loaded from the same `wasm_bytes` (compared in
/// full), else the one `load` makes, remembered for next time. Re-opening a
/// module (a second instance, a re-import) then costs no hashing or file reads.
///
/// # Errors
/// As `load`.
pub(crate) fn shared(
    wasm_bytes: &[u8],
    load: impl FnOnce() -> Result<WasmModule>,
) -> Result<WasmModule> {
    let mut modules = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, module)) = modules.iter().find(|(bytes, _)| **bytes == *wasm_bytes) {
        return Ok(module.clone());
    }
    let module = load()?;
    if modules.len() >= SHARED_LIMIT {
        modules.remove(0);
    }
    modules.push((Arc::from(wasm_bytes), module.clone()));
    Ok(module)
}

/// The folder of wasmcffi's on-disk caches (compiled modules here, the build's
/// objects in its `objects/`): `$WASMCFFI_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/wasmcffi`, else `~/.cache/wasmcffi`; `None` without a home.
pub fn cache_root() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WASMCFFI_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("wasmcffi"))
}

/// The folder of compiled modules: the root itself when `$WASMCFFI_CACHE_DIR`
/// names it, else its `modules/`.
fn cache_dir() -> Option<PathBuf> {
    let root = cache_root()?;
    Some(if std::env::var_os("WASMCFFI_CACHE_DIR").is_some() {
        root
    } else {
        root.join("modules")
    })
}

/// A name for `wasm_bytes` compiled by this build of wasmcffi.
fn key(wasm_bytes: &[u8], flavor: Flavor) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    wasm_bytes.hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    "wasmtime-48.0.8 epochs".hash(&mut hasher);
    flavor.hash(&mut hasher);
    format!("{:016x}-{}", hasher.finish(), wasm_bytes.len())
}

/// Compiles `wasm_bytes`, or loads the machine code a previous compilation left
/// in the cache. Cache failures of any kind fall back to compiling.
///
/// # Errors
/// As [`WasmModule::new`].
pub(crate) fn load(wasm_bytes: &[u8], flavor: Flavor) -> Result<WasmModule> {
    let Some(dir) = cache_dir() else {
        return WasmModule::compile(wasm_bytes, flavor);
    };
    let key = key(wasm_bytes, flavor);
    let (copy, code) = (
        dir.join(format!("{key}.wasm")),
        dir.join(format!("{key}.cwasm")),
    );
    if std::fs::read(&copy).is_ok_and(|saved| saved == wasm_bytes) {
        if let Ok(machine_code) = std::fs::read(&code) {
            // SAFETY: `code` sits next to a byte-identical copy of this module in the
            // user's cache directory and was written by `WasmModule::serialize` below
            // for the same wasmtime version (part of the key); wasmtime also checks
            // the header and engine settings, and a failure falls back to compiling.
            if let Ok(module) = unsafe { WasmModule::deserialize_for(&machine_code, flavor) } {
                return Ok(module);
            }
        }
    }
    let module = WasmModule::compile(wasm_bytes, flavor)?;
    if let Ok(machine_code) = module.serialize() {
        // Written under temporary names and renamed, so a reader never sees half a file.
        let write = |path: &PathBuf, bytes: &[u8]| -> std::io::Result<()> {
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, path)
        };
        let _ = std::fs::create_dir_all(&dir)
            .and_then(|()| write(&code, &machine_code))
            .and_then(|()| write(&copy, wasm_bytes));
    }
    Ok(module)
}

/// The ways to a compiled module that go through the caches.
impl WasmModule {
    /// [`WasmModule::new`], reusing machine code compiled earlier for the same
    /// bytes from the on-disk cache (and filling it otherwise).
    ///
    /// # Errors
    /// As [`WasmModule::new`].
    pub fn cached(wasm_bytes: &[u8]) -> Result<WasmModule> {
        shared(wasm_bytes, || {
            Ok(load(wasm_bytes, Flavor::Plain)?.with_wasm(wasm_bytes))
        })
    }

    /// The instance template for `flavor`, the other variants made the first time a
    /// sandbox asks for them: the metered one compiled (or loaded from the cache),
    /// the pooled one from this module's own machine code (the engines differ only
    /// in how they allocate instances, so the same code loads into both). A module
    /// the pool's slots cannot hold (too many functions or table elements for a
    /// slot) makes its pooled instances without the pool.
    ///
    /// # Errors
    /// `Error::NotImplemented` for the metered variant of a module made from
    /// machine code alone; compilation errors as [`WasmModule::new`].
    pub(crate) fn pre(&self, flavor: Flavor) -> Result<Template> {
        let make = || match (flavor, &self.wasm) {
            (Flavor::Pooled, _) => {
                let code = self.serialize()?;
                // SAFETY: `code` was serialized just now, by this process, from a
                // module of the same wasmtime build and settings.
                let pooled = unsafe { Self::deserialize_for(&code, Flavor::Pooled) };
                Ok(pooled.map_or_else(|_| Arc::clone(&self.pre), |m| m.pre))
            }
            (_, Some(wasm)) => Ok(load(wasm, flavor)?.pre),
            (_, None) => Err(Error::NotImplemented(
                "fuel metering needs the module's wasm bytes (a module loaded from \
                 machine code alone has none)"
                    .into(),
            )),
        };
        match flavor {
            Flavor::Plain => Ok(Arc::clone(&self.pre)),
            _ => self.variants[flavor.slot() - 1].get_or_init(make).clone(),
        }
    }
}
