//! Loading host libraries (`ffi.dlopen`) and finding their symbols.

use std::ffi::c_void;

use libloading::os::unix::Library as RawLibrary;

use crate::cdata::Addr;
use crate::error::{Error, Result};

/// A loaded shared library, or the running program (`dlopen(NULL)`).
/// Unloaded when dropped.
pub struct Library {
    raw: RawLibrary,
    /// The name shown in messages (`<None>` for the program itself).
    name: String,
}

impl Library {
    /// `dlopen(path, flags)`; `None` opens the running program and the libraries
    /// it links (the C library among them). `flags` of 0 means `RTLD_NOW`.
    ///
    /// # Errors
    /// `Error::Os` with the dynamic loader's message.
    pub fn open(path: Option<&str>, flags: i32) -> Result<Library> {
        let flags = if flags == 0 { libc::RTLD_NOW } else { flags };
        let name = path.map_or_else(|| "<None>".to_owned(), str::to_owned);
        // SAFETY: loading a library runs its initialisers; that is what the user asked
        // `dlopen` to do, with the same trust CFFI's and ctypes' dlopen have.
        let raw = unsafe { RawLibrary::open(path, flags) }
            .map_err(|e| Error::Os(format!("cannot load library '{name}': {e}")))?;
        Ok(Library { raw, name })
    }

    /// The name the library was opened with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The address of symbol `symbol`.
    ///
    /// # Errors
    /// `Error::Attribute` when the library has no such symbol, with CFFI's wording.
    pub fn symbol(&self, symbol: &str) -> Result<Addr> {
        // SAFETY: the symbol is only read as an address here, never called or
        // dereferenced; its type does not matter.
        let found = unsafe { self.raw.get::<*mut c_void>(symbol.as_bytes()) };
        match found {
            Ok(sym) => {
                let ptr: *mut c_void = *sym;
                Ok(ptr as usize as Addr)
            }
            Err(e) => Err(Error::Attribute(format!(
                "symbol '{symbol}' not found in library '{}': {e}",
                self.name
            ))),
        }
    }
}
