//! The [`Memory`] trait, and [`HostMemory`]: the process's own address space.

use crate::error::Result;
use crate::layout::Target;

/// An address in one address space: a host pointer value, or an offset into a
/// sandbox's linear memory (which the wasm backend checks against its size).
pub type Addr = u64;

/// An address space that cdata live in.
///
/// Implementations check what they can: every implementation refuses address 0
/// (`Error::Runtime`, "cannot dereference NULL"-style messages are made by callers);
/// a sandbox memory also refuses any range outside its current size (`Error::Memory`).
pub trait Memory {
    /// The data model of code that uses this memory.
    fn target(&self) -> Target;

    /// Copies `out.len()` bytes starting at `addr` into `out`.
    ///
    /// # Errors
    /// `Error::Memory` if the range is not readable in this address space.
    fn read(&self, addr: Addr, out: &mut [u8]) -> Result<()>;

    /// Copies `data` to `addr`.
    ///
    /// # Errors
    /// `Error::Memory` if the range is not writable in this address space.
    fn write(&self, addr: Addr, data: &[u8]) -> Result<()>;

    /// Allocates `size` zeroed bytes aligned to `align` (a power of two).
    /// A zero `size` still returns a unique, non-NULL address.
    ///
    /// # Errors
    /// `Error::Memory` when the space is exhausted.
    fn alloc_zeroed(&self, size: u64, align: u64) -> Result<Addr>;

    /// [`Memory::alloc_zeroed`] for a block the caller overwrites entirely at once:
    /// a sandbox skips zeroing it (the default zeroes anyway).
    ///
    /// # Errors
    /// As [`Memory::alloc_zeroed`].
    fn alloc_for_overwrite(&self, size: u64, align: u64) -> Result<Addr> {
        self.alloc_zeroed(size, align)
    }

    /// Frees a block returned by [`Memory::alloc_zeroed`] with the same `size` and `align`.
    fn free(&self, addr: Addr, size: u64, align: u64);

    /// Which incarnation of the address space is current. A sandbox reset starts a
    /// new one, in which addresses taken earlier mean nothing; spaces that are never
    /// replaced (the host's) stay at 0.
    fn generation(&self) -> u64 {
        0
    }

    /// A handle bound to the current generation, through which a block allocated
    /// now must be freed (so a block of an earlier generation is never freed in a
    /// later one). `None` for spaces with one generation.
    fn pinned(&self) -> Option<std::sync::Arc<dyn Memory + Send + Sync>> {
        None
    }

    /// Checks that `len` bytes at `addr` could be accessed, before the caller
    /// allocates host memory for them. Only a sandbox's memory can tell (the host's
    /// is trusted, as in CFFI).
    ///
    /// # Errors
    /// `Error::Memory` when the range lies outside the address space.
    fn check_range(&self, _addr: Addr, _len: u64) -> Result<()> {
        Ok(())
    }

    /// `len` bytes from `addr` in a new vector, the range checked before any host
    /// memory is allocated for it (a length supplied by a guest cannot make the
    /// host allocate more than the guest's memory holds).
    ///
    /// # Errors
    /// As [`Memory::check_range`] and [`Memory::read`]; `Error::Memory` for a length
    /// beyond the host's address space.
    fn read_vec(&self, addr: Addr, len: u64) -> Result<Vec<u8>> {
        self.check_range(addr, len)?;
        let len = usize::try_from(len)
            .map_err(|_| crate::error::Error::Memory(format!("{len} bytes is too large")))?;
        let mut buf = vec![0u8; len];
        self.read(addr, &mut buf)?;
        Ok(buf)
    }

    /// Hands the `len` bytes at `addr` to `sink` to read. A sandbox's memory lends
    /// them in place; the default reads them into a vector first.
    ///
    /// # Errors
    /// As [`Memory::read_vec`].
    fn read_with(&self, addr: Addr, len: usize, sink: &mut dyn FnMut(&[u8])) -> Result<()> {
        sink(&self.read_vec(addr, len as u64)?);
        Ok(())
    }

    /// Has `fill` overwrite the `len` bytes at `addr`. A sandbox's memory lends them
    /// in place (so big copies into it are one copy); the default fills a zeroed
    /// vector and writes it.
    ///
    /// # Errors
    /// As [`Memory::write`].
    fn write_with(&self, addr: Addr, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> Result<()> {
        self.check_range(addr, len as u64)?;
        let mut buf = vec![0u8; len];
        fill(&mut buf);
        self.write(addr, &buf)
    }

    /// Copies `len` bytes from `src` to `dst`; the ranges may overlap (`memmove`).
    ///
    /// # Errors
    /// As [`Memory::read`] and [`Memory::write`].
    fn copy(&self, dst: Addr, src: Addr, len: u64) -> Result<()> {
        let len = usize::try_from(len).map_err(|_| {
            crate::error::Error::Memory(format!("copy of {len} bytes is too large"))
        })?;
        let mut buf = vec![0u8; len];
        self.read(src, &mut buf)?;
        self.write(dst, &buf)
    }
}

/// The host process's address space, where cdata of `dlopen` and `target="native"`
/// FFIs live.
///
/// As in CFFI, a host pointer is trusted: only NULL is refused. A wild pointer
/// made with `ffi.cast` can crash the process, exactly as it would in C; this is
/// the one place where that trust is written down.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostMemory;

impl HostMemory {
    fn check(addr: Addr, len: usize) -> Result<()> {
        if addr == 0 && len > 0 {
            return Err(crate::error::Error::Runtime(
                "cannot access memory at NULL".into(),
            ));
        }
        if addr.checked_add(len as u64).is_none() {
            return Err(crate::error::Error::Memory(format!(
                "range of {len} bytes at {addr:#x} wraps around"
            )));
        }
        Ok(())
    }
}

impl Memory for HostMemory {
    fn target(&self) -> Target {
        Target::Host
    }

    fn read(&self, addr: Addr, out: &mut [u8]) -> Result<()> {
        Self::check(addr, out.len())?;
        if out.is_empty() {
            return Ok(());
        }
        // SAFETY: host cdata addresses are trusted as CFFI trusts them (see the type's
        // docs); NULL and wrap-around were refused above, and `out` is a distinct Rust buffer.
        unsafe { std::ptr::copy(addr as usize as *const u8, out.as_mut_ptr(), out.len()) };
        Ok(())
    }

    /// Lends the bytes in place: a string or buffer read copies them once, into
    /// the Python object, not first into a vector.
    fn read_with(&self, addr: Addr, len: usize, sink: &mut dyn FnMut(&[u8])) -> Result<()> {
        Self::check(addr, len)?;
        if len == 0 {
            sink(&[]);
            return Ok(());
        }
        // SAFETY: trusted host addresses as in `read` (NULL and wrap-around refused
        // above); the slice lives only for the `sink` call, which only reads it.
        sink(unsafe { std::slice::from_raw_parts(addr as usize as *const u8, len) });
        Ok(())
    }

    fn write(&self, addr: Addr, data: &[u8]) -> Result<()> {
        Self::check(addr, data.len())?;
        if data.is_empty() {
            return Ok(());
        }
        // SAFETY: as in `read`; `copy` tolerates `data` overlapping the destination.
        unsafe { std::ptr::copy(data.as_ptr(), addr as usize as *mut u8, data.len()) };
        Ok(())
    }

    fn alloc_zeroed(&self, size: u64, align: u64) -> Result<Addr> {
        let layout = host_layout(size, align)?;
        // SAFETY: `host_layout` never returns a zero-sized layout.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            return Err(crate::error::Error::Memory(format!(
                "out of memory allocating {size} bytes"
            )));
        }
        Ok(ptr as usize as Addr)
    }

    fn free(&self, addr: Addr, size: u64, align: u64) {
        if let Ok(layout) = host_layout(size, align) {
            // SAFETY: the caller returns a block from `alloc_zeroed` with the same size
            // and alignment, so `layout` is the one it was allocated with.
            unsafe { std::alloc::dealloc(addr as usize as *mut u8, layout) };
        }
    }

    fn copy(&self, dst: Addr, src: Addr, len: u64) -> Result<()> {
        let len = usize::try_from(len)
            .map_err(|_| crate::error::Error::Memory("copy too large".into()))?;
        Self::check(dst, len)?;
        Self::check(src, len)?;
        if len > 0 {
            // SAFETY: trusted host addresses as in `read`; `copy` is memmove.
            unsafe { std::ptr::copy(src as usize as *const u8, dst as usize as *mut u8, len) };
        }
        Ok(())
    }
}

/// Host memory holding values of another target's types: the boxes behind the
/// primitive cdata of a sandboxed ffi (a `long double` result, `p[0]`), whose
/// bytes are in that target's formats (a wasm32 `long double` is binary128, the
/// host's x87). Reads and writes are [`HostMemory`]'s.
#[derive(Clone, Copy, Debug)]
pub struct HostBoxes(pub Target);

impl Memory for HostBoxes {
    fn target(&self) -> Target {
        self.0
    }

    fn read(&self, addr: Addr, out: &mut [u8]) -> Result<()> {
        HostMemory.read(addr, out)
    }

    fn write(&self, addr: Addr, data: &[u8]) -> Result<()> {
        HostMemory.write(addr, data)
    }

    fn alloc_zeroed(&self, size: u64, align: u64) -> Result<Addr> {
        HostMemory.alloc_zeroed(size, align)
    }

    fn free(&self, addr: Addr, size: u64, align: u64) {
        HostMemory.free(addr, size, align);
    }

    fn copy(&self, dst: Addr, src: Addr, len: u64) -> Result<()> {
        HostMemory.copy(dst, src, len)
    }
}

/// The allocator layout for a host block: at least one byte, alignment at least 1.
fn host_layout(size: u64, align: u64) -> Result<std::alloc::Layout> {
    let size = usize::try_from(size.max(1))
        .map_err(|_| crate::error::Error::Memory(format!("cannot allocate {size} bytes")))?;
    let align = usize::try_from(align.max(1)).unwrap_or(usize::MAX);
    std::alloc::Layout::from_size_align(size, align).map_err(|_| {
        crate::error::Error::Memory(format!("cannot allocate {size} bytes aligned to {align}"))
    })
}

/// An address space with no memory at all: an FFI that only describes types
/// (a module's declarations checked at build time) uses it. Every access fails.
#[derive(Clone, Copy, Debug)]
pub struct NoMemory(pub Target);

impl Memory for NoMemory {
    fn target(&self) -> Target {
        self.0
    }

    fn read(&self, _addr: Addr, _out: &mut [u8]) -> Result<()> {
        Err(crate::error::Error::Memory(
            "this ffi has no memory (it only describes types)".into(),
        ))
    }

    fn write(&self, _addr: Addr, _data: &[u8]) -> Result<()> {
        Err(crate::error::Error::Memory(
            "this ffi has no memory (it only describes types)".into(),
        ))
    }

    fn alloc_zeroed(&self, _size: u64, _align: u64) -> Result<Addr> {
        Err(crate::error::Error::Memory(
            "this ffi has no memory (it only describes types)".into(),
        ))
    }

    fn free(&self, _addr: Addr, _size: u64, _align: u64) {}
}
