//! `ffi.buffer(cdata)`: a live, mutable bytes view of C memory; and the copies
//! between C memory and Python's bytes-like objects that it and `ffi.memmove` make.
//!
//! Indexing and slicing copy through the FFI's memory (so they work on any
//! address space). On the host target the buffer also exports Python's buffer
//! protocol, which is why this file holds `unsafe` code.
//!
//! Copies go straight between a Python object's storage and a sandbox's linear
//! memory (one copy, see `Memory::read_with`/`write_with`): Python's side is read
//! and written through pyo3's cell slices, which allow for other writers.

use std::os::raw::c_int;

use pyo3::exceptions::{PyBufferError, PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::types::{PyBytes, PySlice};
use pyo3::IntoPyObjectExt;
use wasmcffi::cdata::{Addr, Memory};
use wasmcffi::layout::Target;

use crate::base::exceptions::CoreResultExt;
use crate::objects::cdata::{cdata_arg, PyCData};

/// The bytes of a bytes-like Python object (bytes, bytearray, memoryview, …),
/// borrowed, never copied first.
pub enum ByteSource<'py> {
    Bytes(Bound<'py, PyBytes>),
    /// A C-contiguous buffer, read in place.
    Buffer(pyo3::buffer::PyBuffer<u8>),
}

impl<'py> ByteSource<'py> {
    /// `obj`'s bytes; `TypeError` if it is not bytes-like, `BufferError` if it is
    /// not C-contiguous (as CFFI).
    pub fn of(obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(bytes) = obj.cast::<PyBytes>() {
            return Ok(ByteSource::Bytes(bytes.clone()));
        }
        let Ok(buffer) = byte_buffer(obj) else {
            return Err(PyTypeError::new_err("a bytes-like object is required"));
        };
        if !buffer.is_c_contiguous() {
            return Err(PyBufferError::new_err(
                "memoryview: underlying buffer is not C-contiguous",
            ));
        }
        Ok(ByteSource::Buffer(buffer))
    }

    /// How many bytes there are.
    pub fn len(&self) -> usize {
        match self {
            ByteSource::Bytes(bytes) => bytes.as_bytes().len(),
            ByteSource::Buffer(buffer) => buffer.len_bytes(),
        }
    }

    /// Runs `f` on the bytes, borrowed in place.
    fn with_bytes<R>(&self, _gil: Python<'_>, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            ByteSource::Bytes(bytes) => f(bytes.as_bytes()),
            // Contiguous by construction, so `as_slice_ptr` is `Some`.
            ByteSource::Buffer(buffer) => match buffer.as_slice_ptr() {
                // SAFETY: the view keeps the exporter's memory alive and in place
                // while it exists; we hold the GIL and `f` runs no Python code,
                // so nothing writes to it meanwhile.
                Some(cells) => f(unsafe { cells.as_ref() }),
                None => f(&[]),
            },
        }
    }

    /// Copies the first `out.len()` bytes (at most [`Self::len`]) into `out`.
    pub fn copy_into(&self, py: Python<'_>, out: &mut [u8]) {
        self.with_bytes(py, |src| {
            let n = out.len().min(src.len());
            out[..n].copy_from_slice(&src[..n]);
        });
    }

    /// Writes the first `len` bytes (at most [`Self::len`]) to `addr` of `mem`,
    /// with one copy: in place in a sandbox's memory, by memmove into host
    /// memory (which may be this very object's, through `ffi.from_buffer`).
    pub fn write_to(
        &self,
        py: Python<'_>,
        mem: &dyn Memory,
        addr: Addr,
        len: usize,
    ) -> PyResult<()> {
        if mem.target() == Target::Host {
            return self
                .with_bytes(py, |src| mem.write(addr, &src[..len.min(src.len())]))
                .py();
        }
        mem.write_with(addr, len, &mut |dst| self.copy_into(py, dst))
            .py()
    }
}

/// The buffer of `obj` seen as raw bytes, whatever its item format (as CFFI
/// reads an `array('H')`): directly for byte formats, else through
/// `memoryview(obj).cast('B')`, which keeps `obj`'s buffer exported.
pub fn byte_buffer(obj: &Bound<'_, PyAny>) -> PyResult<pyo3::buffer::PyBuffer<u8>> {
    match pyo3::buffer::PyBuffer::<u8>::get(obj) {
        Ok(buffer) => Ok(buffer),
        Err(err) => {
            let Ok(view) = obj
                .py()
                .get_type::<pyo3::types::PyMemoryView>()
                .call1((obj,))
            else {
                return Err(err);
            };
            let bytes = view.call_method1("cast", ("B",)).map_err(|_| err)?;
            pyo3::buffer::PyBuffer::<u8>::get(&bytes)
        }
    }
}

/// A new bytes object holding the `len` bytes at `addr` of `mem` (the range is
/// checked before anything is allocated for it).
pub fn bytes_from<'py>(
    py: Python<'py>,
    mem: &dyn Memory,
    addr: Addr,
    len: u64,
) -> PyResult<Bound<'py, PyBytes>> {
    mem.check_range(addr, len).py()?;
    let len = usize::try_from(len).map_err(|_| PyValueError::new_err("buffer too large"))?;
    // One copy, from the memory lent in place (`new_with` would zero the
    // object's bytes before the copy).
    let mut made = None;
    mem.read_with(addr, len, &mut |src| made = Some(PyBytes::new(py, src)))
        .py()?;
    Ok(made.unwrap_or_else(|| PyBytes::new(py, &[])))
}

/// Copies `len` bytes at `addr` of `mem` into the writable bytes-like `dest`.
/// `Ok(false)` when `dest` is not a C-contiguous buffer of bytes (the caller
/// goes another way); `BufferError` if it is read-only (as CFFI), `ValueError`
/// if it is too small.
pub fn read_into(
    _gil: Python<'_>,
    mem: &dyn Memory,
    addr: Addr,
    len: usize,
    dest: &Bound<'_, PyAny>,
) -> PyResult<bool> {
    let Ok(buffer) = byte_buffer(dest) else {
        return Ok(false);
    };
    if buffer.readonly() {
        return Err(PyBufferError::new_err("Object is not writable."));
    }
    let Some(cells) = buffer.as_slice_ptr() else {
        return Ok(false);
    };
    if cells.len() < len {
        return Err(PyValueError::new_err(format!(
            "buffer of {} bytes is too small to receive {len} bytes",
            cells.len()
        )));
    }
    let mut put = |src: &[u8]| {
        // SAFETY: the view of a writable buffer (checked above) keeps its
        // memory alive and in place; we hold the GIL and run no Python code
        // while writing, so no other reference to these bytes is in use; `src`
        // never overlaps them (guest memory, or host memory checked below).
        let out =
            unsafe { std::slice::from_raw_parts_mut(cells.as_ptr().cast::<u8>(), cells.len()) };
        let n = src.len().min(out.len());
        out[..n].copy_from_slice(&src[..n]);
    };
    // Host memory is lent in place: a source overlapping this very buffer (a
    // cdata from `ffi.from_buffer` of it) is copied out first, as memmove would.
    let start = cells.as_ptr().cast::<u8>() as usize as Addr;
    let overlaps = mem.target() == Target::Host
        && addr < start.saturating_add(cells.len() as Addr)
        && start < addr.saturating_add(len as Addr);
    if overlaps {
        put(&mem.read_vec(addr, len as u64).py()?);
    } else {
        mem.read_with(addr, len, &mut put).py()?;
    }
    Ok(true)
}

/// A view of `size` bytes at the start of a cdata's memory.
#[pyclass(name = "buffer", module = "wasmcffi", frozen)]
pub struct PyBuffer {
    cdata: Py<PyCData>,
    addr: u64,
    size: u64,
}

impl PyBuffer {
    /// A view of `size` bytes at `addr`, keeping `cdata` (and its memory) alive.
    pub fn new(cdata: Py<PyCData>, addr: u64, size: u64) -> Self {
        PyBuffer { cdata, addr, size }
    }

    /// The bytes `start..start + len` of the view, as a new bytes object.
    fn read<'py>(&self, py: Python<'py>, start: u64, len: u64) -> PyResult<Bound<'py, PyBytes>> {
        let cdata = self.cdata.get();
        cdata.check_alive()?;
        bytes_from(py, &*cdata.ctx.mem, self.addr + start, len)
    }

    /// Copies all of `data` to the view from `start` on.
    fn write(&self, py: Python<'_>, start: u64, data: &ByteSource<'_>) -> PyResult<()> {
        let cdata = self.cdata.get();
        cdata.check_alive()?;
        data.write_to(py, &*cdata.ctx.mem, self.addr + start, data.len())
    }

    /// `(start, stop)` of a step-1 slice over this buffer.
    fn range(&self, slice: &Bound<'_, PySlice>) -> PyResult<(u64, u64)> {
        let len =
            isize::try_from(self.size).map_err(|_| PyValueError::new_err("buffer too large"))?;
        let idx = slice.indices(len)?;
        if idx.step != 1 {
            return Err(PyValueError::new_err(
                "buffer slices with a step are not supported",
            ));
        }
        let (start, stop) = (idx.start as u64, idx.stop.max(idx.start) as u64);
        Ok((start, stop))
    }

    fn index(&self, index: isize) -> PyResult<u64> {
        let size = self.size as i128;
        let i = if index < 0 {
            index as i128 + size
        } else {
            index as i128
        };
        if i < 0 || i >= size {
            return Err(PyIndexError::new_err("buffer index out of range"));
        }
        Ok(i as u64)
    }
}

#[pymethods]
impl PyBuffer {
    /// `ffi.buffer(cdata, size=-1)`: a mutable bytes view of the memory a
    /// pointer or array cdata designates (as in CFFI, `ffi.buffer` is this type).
    #[new]
    #[pyo3(signature = (cdata, size = -1))]
    fn py_new(cdata: &Bound<'_, PyAny>, size: i64) -> PyResult<Self> {
        let bound = cdata_arg(cdata, "buffer()")?;
        let this = bound.get();
        let (addr, natural) = this.pointed_data()?;
        let size = match u64::try_from(size) {
            Ok(n) => n,
            Err(_) => natural.ok_or_else(|| {
                PyTypeError::new_err(format!(
                    "ctype '{}' points to items of unknown size",
                    this.ctype.cname()
                ))
            })?,
        };
        this.check_alive()?;
        Ok(PyBuffer::new(bound.clone().unbind(), addr, size))
    }

    fn __len__(&self) -> usize {
        self.size as usize
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        if let Ok(slice) = key.cast::<PySlice>() {
            let (start, stop) = self.range(slice)?;
            return self.read(py, start, stop - start);
        }
        let i = self.index(key.extract()?)?;
        self.read(py, i, 1)
    }

    fn __setitem__(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = key.py();
        let data = ByteSource::of(value)?;
        if let Ok(slice) = key.cast::<PySlice>() {
            let (start, stop) = self.range(slice)?;
            if data.len() as u64 != stop - start {
                return Err(PyValueError::new_err(format!(
                    "right operand length must match slice length: got {} for {}",
                    data.len(),
                    stop - start
                )));
            }
            return self.write(py, start, &data);
        }
        let i = self.index(key.extract()?)?;
        if data.len() != 1 {
            return Err(PyTypeError::new_err("a single byte is required"));
        }
        self.write(py, i, &data)
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.read(py, 0, self.size)
    }

    /// Compares the bytes with those of another buffer or bytes-like object.
    fn __richcmp__(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        op: CompareOp,
    ) -> PyResult<Py<PyAny>> {
        let theirs = if let Ok(that) = other.cast::<PyBuffer>() {
            let that = that.get();
            that.read(py, 0, that.size)?.as_bytes().to_vec()
        } else {
            match ByteSource::of(other) {
                Ok(source) => {
                    let mut bytes = vec![0u8; source.len()];
                    source.copy_into(py, &mut bytes);
                    bytes
                }
                Err(_) => return Ok(py.NotImplemented()),
            }
        };
        let mine = self.read(py, 0, self.size)?;
        op.matches(mine.as_bytes().cmp(theirs.as_slice()))
            .into_py_any(py)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        format!("<wasmcffi.buffer object at {:#x}>", slf.as_ptr() as usize)
    }

    /// Exports the memory itself (host target only: a sandbox's memory can move).
    ///
    /// # Safety
    /// Called by CPython with a valid `view` to fill.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut pyo3::ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let this = slf.get();
        let cdata = this.cdata.get();
        if cdata.ctx.target() != Target::Host {
            return Err(PyBufferError::new_err(
                "a sandbox's memory cannot be exported as a buffer: use buf[:] to copy it",
            ));
        }
        cdata.check_alive()?;
        let len =
            isize::try_from(this.size).map_err(|_| PyBufferError::new_err("buffer too large"))?;
        // SAFETY: `view` comes from CPython. The pointer is host memory owned by (or
        // reachable through) `cdata`, which `slf` keeps alive, and `PyBuffer_FillInfo`
        // stores a new reference to `slf` in the view, so the memory outlives the export.
        let rc = unsafe {
            pyo3::ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                this.addr as usize as *mut std::ffi::c_void,
                len,
                0,
                flags,
            )
        };
        if rc == -1 {
            return Err(PyErr::fetch(slf.py()));
        }
        Ok(())
    }
}
