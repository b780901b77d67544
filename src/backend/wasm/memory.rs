//! [`GuestMemory`]: a sandbox's linear memory as a cdata [`Memory`].
//!
//! Addresses are guest offsets (the `u32` range). Every access is bounds-checked
//! against the memory's *current* size (it can grow), so a wild guest pointer or
//! length gives `Error::Memory`, never a host out-of-bounds access. Address 0 is
//! refused like NULL.

use std::sync::Arc;

use wasmtime::StoreContextMut;

use super::fault::{in_bounds, Fault};
use super::host_calls;
use super::sandbox::Sandbox;
use super::wasi::StoreData;
use crate::bail;
use crate::cdata::{Addr, Memory};
use crate::error::{Error, Result};
use crate::layout::Target;

/// A sandbox's linear memory (target [`Target::Wasm32`]). Cheap to clone.
///
/// A *pinned* handle ([`Sandbox::memory`]) belongs to one generation of its
/// sandbox: after [`Sandbox::reset`] it fails with `Error::Memory` and its frees
/// are ignored. A *live* handle ([`Sandbox::live_memory`]) always addresses the
/// current instance; [`Memory::pinned`] gives the pinned handle of the moment (what
/// an allocation must free through).
#[derive(Clone, Debug)]
pub struct GuestMemory(Arc<Sandbox>, Option<u64>);

impl GuestMemory {
    fn new(sandbox: Arc<Sandbox>, generation: Option<u64>) -> GuestMemory {
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
        if self.1.is_some_and(|g| g != self.0.generation()) {
            bail!(
                Memory,
                "this memory belongs to a sandbox instance that was reset"
            );
        }
        Ok(())
    }

    /// Allocates with the guest's allocator, the block zeroed or not.
    fn alloc(&self, size: u64, align: u64, zeroed: bool) -> Result<Addr> {
        let (Ok(size32), Ok(align32)) = (i32::try_from(size), i32::try_from(align.max(1))) else {
            bail!(
                Memory,
                "cannot allocate {size} bytes aligned to {align} in a wasm32 sandbox"
            );
        };
        match self.with_store(true, |store| {
            host_calls::malloc(store, size32, align32, zeroed)
        })? {
            0 => bail!(
                Memory,
                "out of memory allocating {size} bytes in the sandbox"
            ),
            ptr => Ok(Addr::from(ptr as u32)),
        }
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

    fn generation(&self) -> u64 {
        self.0.generation()
    }

    fn pinned(&self) -> Option<Arc<dyn Memory + Send + Sync>> {
        Some(Arc::new(GuestMemory(
            Arc::clone(&self.0),
            Some(self.1.unwrap_or_else(|| self.0.generation())),
        )))
    }

    fn check_range(&self, addr: Addr, len: u64) -> Result<()> {
        let len = usize::try_from(len)
            .map_err(|_| Error::Memory(format!("{len} bytes do not fit in a wasm32 sandbox")))?;
        let size = usize::try_from(self.size()?).unwrap_or(usize::MAX);
        in_bounds(addr, len, size).map(|_| ())
    }

    fn read(&self, addr: Addr, out: &mut [u8]) -> Result<()> {
        self.with_range(addr, out.len(), |src| out.copy_from_slice(src))
    }

    fn write(&self, addr: Addr, data: &[u8]) -> Result<()> {
        self.with_range(addr, data.len(), |dst| dst.copy_from_slice(data))
    }

    fn read_with(&self, addr: Addr, len: usize, sink: &mut dyn FnMut(&[u8])) -> Result<()> {
        self.with_range(addr, len, |bytes| sink(bytes))
    }

    fn write_with(&self, addr: Addr, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> Result<()> {
        self.with_range(addr, len, fill)
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
        let Some(span) = (hi - lo).checked_add(len) else {
            bail!(Memory, "guest memory access out of bounds");
        };
        self.with_range(lo as Addr, span, |span| {
            span.copy_within(src - lo..src - lo + len, dst - lo);
        })
        .or_else(|e| if len == 0 { Ok(()) } else { Err(e) })
    }

    fn alloc_zeroed(&self, size: u64, align: u64) -> Result<Addr> {
        self.alloc(size, align, true)
    }

    fn alloc_for_overwrite(&self, size: u64, align: u64) -> Result<Addr> {
        self.alloc(size, align, false)
    }

    fn free(&self, addr: Addr, _size: u64, _align: u64) {
        let Ok(addr) = u32::try_from(addr) else {
            return;
        };
        // A live handle frees in the instance of the moment; allocations free
        // through their pinned handle (see `Memory::pinned`), so a block of an
        // earlier instance is never freed in a later one.
        let generation = self.1.unwrap_or_else(|| self.0.generation());
        if addr == 0 || self.check_generation().is_err() {
            return;
        }
        // Never block: the sandbox may be busy running guest code on this thread (a
        // callback) or another one (which may wait for a lock our caller holds, such
        // as Python's GIL). The running call performs the free when it returns.
        match self.0.try_enter() {
            Some(mut live) if self.0.generation() == generation => {
                let _ = live.free_now(addr);
            }
            Some(_) => {}
            None => self.0.defer_free(generation, addr),
        }
    }
}

/// The views of a sandbox's memory.
impl Sandbox {
    /// The sandbox's linear memory as a cdata `Memory`, bound to the current
    /// instance: after a reset it fails (see [`GuestMemory`]).
    pub fn memory(self: &Arc<Self>) -> GuestMemory {
        GuestMemory::new(Arc::clone(self), Some(self.generation()))
    }

    /// The sandbox's linear memory as a cdata `Memory` that follows resets: it
    /// always addresses the current instance (an FFI's memory; its cdata record
    /// the [`Sandbox::generation`] they were made in).
    pub fn live_memory(self: &Arc<Self>) -> GuestMemory {
        GuestMemory::new(Arc::clone(self), None)
    }
}
