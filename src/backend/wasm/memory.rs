//! [`GuestMemory`]: a sandbox's linear memory as a cdata [`Memory`].
//!
//! Addresses are guest offsets (the `u32` range). Every access is bounds-checked
//! against the memory's *current* size (it can grow), so a wild guest pointer or
//! length gives `Error::Memory`, never a host out-of-bounds access. Address 0 is
//! refused like NULL.

use std::sync::Arc;

use wasmtime::StoreContextMut;

use super::host_calls::{self, Fault};
use super::sandbox::Sandbox;
use super::wasi::StoreData;
use crate::bail;
use crate::cdata::{Addr, Memory};
use crate::error::{Error, Result};
use crate::layout::Target;

/// A sandbox's linear memory (target [`Target::Wasm32`]). Cheap to clone.
///
/// A handle belongs to one generation of its sandbox: after [`Sandbox::reset`] it
/// fails with `Error::Memory` and its frees are ignored; take a new one with
/// [`Sandbox::memory`].
#[derive(Clone, Debug)]
pub struct GuestMemory(Arc<Sandbox>, u64);

impl GuestMemory {
    pub(crate) fn new(sandbox: Arc<Sandbox>, generation: u64) -> GuestMemory {
        GuestMemory(sandbox, generation)
    }

    /// The sandbox whose memory this is.
    pub fn sandbox(&self) -> &Arc<Sandbox> {
        &self.0
    }

    /// The current size of the linear memory in bytes.
    ///
    /// # Errors
    /// As [`Memory::read`].
    pub fn size(&self) -> Result<u64> {
        self.with_store(false, |store| {
            let memory = store.data().host.handles.as_ref().and_then(|h| h.memory);
            Ok(memory.map_or(0, |m| m.data_size(&store) as u64))
        })
    }

    /// Runs `f` on the sandbox's store (see [`Sandbox::with_store`]), checking
    /// this handle is still of the live generation.
    fn with_store<R>(
        &self,
        run_guest: bool,
        f: impl FnOnce(StoreContextMut<'_, StoreData>) -> std::result::Result<R, Fault>,
    ) -> Result<R> {
        self.check_generation()?;
        self.0.with_store(run_guest, |store| {
            self.check_generation()?;
            f(store)
        })
    }

    fn check_generation(&self) -> Result<()> {
        if self.0.generation() != self.1 {
            bail!(
                Memory,
                "this memory belongs to a sandbox instance that was reset"
            );
        }
        Ok(())
    }

    /// Runs `f` over the bytes `addr..addr + len` of linear memory.
    fn with_range<R>(&self, addr: Addr, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> Result<R> {
        self.with_store(false, |store| {
            Ok(host_calls::with_bytes(store, addr, len, f)?)
        })
    }
}

impl Memory for GuestMemory {
    fn target(&self) -> Target {
        Target::Wasm32
    }

    fn read(&self, addr: Addr, out: &mut [u8]) -> Result<()> {
        self.with_range(addr, out.len(), |src| out.copy_from_slice(src))
    }

    fn write(&self, addr: Addr, data: &[u8]) -> Result<()> {
        self.with_range(addr, data.len(), |dst| dst.copy_from_slice(data))
    }

    fn copy(&self, dst: Addr, src: Addr, len: u64) -> Result<()> {
        let len = usize::try_from(len)
            .map_err(|_| Error::Memory(format!("copy of {len} bytes is too large")))?;
        // Check both ranges, then move within the one slice (memmove semantics).
        let (Ok(dst), Ok(src)) = (usize::try_from(dst), usize::try_from(src)) else {
            bail!(Memory, "guest memory access out of bounds");
        };
        let lo = dst.min(src);
        let hi = dst.max(src);
        self.with_range(lo as Addr, hi - lo + len, |span| {
            span.copy_within(src - lo..src - lo + len, dst - lo);
        })
        .or_else(|e| if len == 0 { Ok(()) } else { Err(e) })
    }

    fn alloc_zeroed(&self, size: u64, align: u64) -> Result<Addr> {
        let (Ok(size32), Ok(align32)) = (i32::try_from(size), i32::try_from(align.max(1))) else {
            bail!(
                Memory,
                "cannot allocate {size} bytes aligned to {align} in a wasm32 sandbox"
            );
        };
        match self.with_store(true, |store| host_calls::malloc(store, size32, align32))? {
            0 => bail!(
                Memory,
                "out of memory allocating {size} bytes in the sandbox"
            ),
            ptr => Ok(Addr::from(ptr as u32)),
        }
    }

    fn free(&self, addr: Addr, _size: u64, _align: u64) {
        let Ok(addr) = u32::try_from(addr) else {
            return;
        };
        if addr == 0 || self.check_generation().is_err() {
            return;
        }
        // Never block: the sandbox may be busy running guest code on this thread (a
        // callback) or another one (which may wait for a lock our caller holds, such
        // as Python's GIL). The running call performs the free when it returns.
        match self.0.try_enter() {
            Some(mut live) if self.check_generation().is_ok() => {
                let _ = live.free_now(addr);
            }
            Some(_) => {}
            None => self.0.defer_free(self.1, addr),
        }
    }
}
