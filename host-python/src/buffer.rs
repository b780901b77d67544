//! `ffi.buffer(cdata)`: a live, mutable bytes view of C memory.
//!
//! Indexing and slicing copy through the FFI's memory (so they work on any
//! address space). On the host target the buffer also exports Python's buffer
//! protocol, which is why this file holds `unsafe` code.

use std::os::raw::c_int;

use pyo3::exceptions::{PyBufferError, PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PySlice};
use wasmcffi::layout::Target;

use crate::cdata::PyCData;
use crate::exceptions::CoreResultExt;

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

    fn read(&self, py: Python<'_>, start: u64, len: u64) -> PyResult<Vec<u8>> {
        let cdata = self.cdata.get();
        cdata.check_alive()?;
        let _ = py;
        cdata.ctx.mem.read_vec(self.addr + start, len).py()
    }

    fn write(&self, start: u64, data: &[u8]) -> PyResult<()> {
        let cdata = self.cdata.get();
        cdata.check_alive()?;
        cdata.ctx.mem.write(self.addr + start, data).py()
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
    fn __len__(&self) -> usize {
        self.size as usize
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        if let Ok(slice) = key.downcast::<PySlice>() {
            let (start, stop) = self.range(slice)?;
            return Ok(PyBytes::new(py, &self.read(py, start, stop - start)?));
        }
        let i = self.index(key.extract()?)?;
        Ok(PyBytes::new(py, &self.read(py, i, 1)?))
    }

    fn __setitem__(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let data: Vec<u8> = if let Ok(b) = value.downcast::<PyBytes>() {
            b.as_bytes().to_vec()
        } else if let Ok(buf) = pyo3::buffer::PyBuffer::<u8>::get(value) {
            buf.to_vec(value.py())?
        } else {
            return Err(PyTypeError::new_err("a bytes-like object is required"));
        };
        if let Ok(slice) = key.downcast::<PySlice>() {
            let (start, stop) = self.range(slice)?;
            if data.len() as u64 != stop - start {
                return Err(PyValueError::new_err(format!(
                    "right operand length must match slice length: got {} for {}",
                    data.len(),
                    stop - start
                )));
            }
            return self.write(start, &data);
        }
        let i = self.index(key.extract()?)?;
        if data.len() != 1 {
            return Err(PyTypeError::new_err("a single byte is required"));
        }
        self.write(i, &data)
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.read(py, 0, self.size)?))
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let mine = self.read(py, 0, self.size)?;
        if let Ok(b) = other.downcast::<PyBytes>() {
            return Ok(b.as_bytes() == mine.as_slice());
        }
        if let Ok(that) = other.downcast::<PyBuffer>() {
            let that = that.get();
            return Ok(that.read(py, 0, that.size)? == mine);
        }
        Ok(false)
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
