//! Memory the Python layer owns or borrows: an FFI's memory (`SharedMemory`)
//! and the blocks cdata own in it (`Allocation`). Below the contexts and the
//! cdata that use them.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use wasmcffi::cdata::{Addr, Memory};

use crate::base::exceptions::CoreResultExt;

/// An address space shared between cdata objects.
pub type SharedMemory = Arc<dyn Memory + Send + Sync>;

/// A block of memory that cdata own, freed when the last of them is gone
/// (or at once by `ffi.release`).
pub struct Allocation {
    /// The memory to free through: bound to the generation the block was made in
    /// (`Memory::pinned`), so a block of a reset sandbox is never freed in its
    /// new instance.
    mem: SharedMemory,
    generation: u64,
    addr: Addr,
    size: u64,
    align: u64,
    released: AtomicBool,
}

impl Allocation {
    /// Allocates `size` zeroed bytes in `mem`.
    pub fn new(mem: &SharedMemory, size: u64, align: u64) -> PyResult<Arc<Self>> {
        let generation = mem.generation();
        let addr = mem.alloc_zeroed(size, align).py()?;
        Ok(Self::of(mem, generation, addr, size, align))
    }

    /// Allocates `size` bytes in `mem` that the caller overwrites entirely at once
    /// (see `Memory::alloc_for_overwrite`).
    pub fn for_overwrite(mem: &SharedMemory, size: u64, align: u64) -> PyResult<Arc<Self>> {
        let generation = mem.generation();
        let addr = mem.alloc_for_overwrite(size, align).py()?;
        Ok(Self::of(mem, generation, addr, size, align))
    }

    fn of(mem: &SharedMemory, generation: u64, addr: Addr, size: u64, align: u64) -> Arc<Self> {
        Arc::new(Allocation {
            mem: mem.pinned().unwrap_or_else(|| mem.clone()),
            generation,
            addr,
            size,
            align,
            released: AtomicBool::new(false),
        })
    }

    /// The address of the block.
    pub fn addr(&self) -> Addr {
        self.addr
    }

    /// The size of the block in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the block belongs to the current instance of its memory (false
    /// once its sandbox was reset).
    pub fn is_current(&self) -> bool {
        self.mem.generation() == self.generation
    }

    /// Frees the block now; later accesses through any cdata of it raise.
    pub fn release(&self) {
        if !self.released.swap(true, Ordering::AcqRel) {
            self.mem.free(self.addr, self.size, self.align);
        }
    }

    /// An error if the block was released.
    pub fn check_alive(&self) -> PyResult<()> {
        if self.released.load(Ordering::Acquire) {
            return Err(PyRuntimeError::new_err(
                "cdata was released (ffi.release() or 'with'): its memory is gone",
            ));
        }
        Ok(())
    }
}

impl Drop for Allocation {
    fn drop(&mut self) {
        self.release();
    }
}
