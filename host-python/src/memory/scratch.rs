//! A block of sandbox memory reused by one call at a time for its temporaries
//! (glue argument tables, `char *` copies of bytes), so that a call does not
//! have to `malloc` and `free` in the guest for them.
//!
//! A call leases the whole block ([`Scratch::lease`]) and takes pieces of it in
//! order ([`Lease::take`]); the block is free again when the lease drops. A call
//! that finds it leased (a nested call from a callback, or another thread
//! preparing its arguments) or needs more than it holds allocates its own
//! temporaries as before. After a reset of the sandbox the block is made again
//! in the new instance.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use wasmcffi::cdata::Addr;

use crate::memory::allocation::Allocation;
use crate::memory::allocation::SharedMemory;

/// The alignment of the block: pieces aligned to more are not taken from it.
const BLOCK_ALIGN: u64 = 16;

/// The reusable block of one sandbox memory (made at its first lease).
pub struct Scratch {
    size: u64,
    /// The block and the generation of the memory it was allocated in.
    block: Mutex<Option<(u64, Arc<Allocation>)>>,
    leased: AtomicBool,
}

impl Scratch {
    /// A scratch area of `size` bytes (allocated at the first lease).
    pub fn new(size: u64) -> Scratch {
        Scratch {
            size,
            block: Mutex::new(None),
            leased: AtomicBool::new(false),
        }
    }

    /// The block, for one call, if no other call holds it (and it can be
    /// allocated in `mem`).
    pub fn lease(self: &Arc<Self>, mem: &SharedMemory) -> Option<Lease> {
        if self.leased.swap(true, Ordering::Acquire) {
            return None;
        }
        let generation = mem.generation();
        let mut block = self.block.lock().unwrap_or_else(PoisonError::into_inner);
        if !matches!(&*block, Some((g, _)) if *g == generation) {
            match Allocation::new(mem, self.size, BLOCK_ALIGN) {
                Ok(fresh) => *block = Some((generation, fresh)),
                Err(_) => {
                    self.leased.store(false, Ordering::Release);
                    return None;
                }
            }
        }
        let base = block.as_ref().map(|(_, b)| b.addr())?;
        Some(Lease {
            scratch: Arc::clone(self),
            base,
            used: 0,
        })
    }
}

/// One call's hold on a [`Scratch`] block.
pub struct Lease {
    scratch: Arc<Scratch>,
    base: Addr,
    used: u64,
}

impl Lease {
    /// The address of `size` more bytes aligned to `align` (a power of two), if
    /// they fit in what is left of the block. Their contents are whatever an
    /// earlier call left: the caller overwrites them.
    pub fn take(&mut self, size: u64, align: u64) -> Option<Addr> {
        if align > BLOCK_ALIGN {
            return None;
        }
        let start = self.used.checked_next_multiple_of(align.max(1))?;
        let end = start.checked_add(size)?;
        if end > self.scratch.size {
            return None;
        }
        self.used = end;
        Some(self.base + start)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.scratch.leased.store(false, Ordering::Release);
    }
}
