//! The Python protocols of `CData` (indexing, fields, arithmetic,
//! comparisons, calls, repr) and its reads and writes of values as Python
//! sees them: above conversion and calls, which the struct itself does not use.

use crate::base::exceptions::CoreResultExt;
use crate::marshal::convert::{plain_to_py, to_value, to_value_for};
use crate::objects::cdata::{compare, offset_addr, Flavor, PyCData};
use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyComplex, PyFloat, PySlice, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use wasmcffi::cdata::{self as core, Addr, Value};
use wasmcffi::layout::{CKind, CType, FieldLayout, PrimClass};

/// `object.__getattribute__`: the generic attribute lookup, looked up once.
fn generic_getattr(py: Python<'_>) -> PyResult<&Py<PyAny>> {
    static GENERIC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    GENERIC.get_or_try_init(py, || {
        Ok(py.get_type::<PyAny>().getattr("__getattribute__")?.unbind())
    })
}

impl PyCData {
    /// The value of a global variable this cdata designates (its type at its
    /// address): arrays and structs as views, everything else read now.
    pub fn global_value(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.ctype.kind() {
            // `T name[]`: CFFI gives the address, typed `T *`.
            CKind::Array { item, len: None } => {
                let pointer = self.ctx.pointer_to(item).py()?;
                PyCData::plain(&self.ctx, pointer, self.addr).into_py_any(py)
            }
            // A global of an opaque type: only its address can be taken.
            CKind::Record(r) if r.usable_layout().is_none() => {
                match r.unusable(self.ctype.cname()) {
                    Some(err) => Err(err).py(),
                    None => Err(PyTypeError::new_err(format!(
                        "cdata '{}' is opaque",
                        self.ctype.cname()
                    ))),
                }
            }
            CKind::Array { .. } | CKind::Record(_) => self.into_py_any(py),
            _ => {
                let ty = self.ctype.clone();
                self.load(py, &ty, self.addr)
            }
        }
    }

    /// Reads the value of type `ty` at `addr` as Python sees it: a Python value
    /// for primitives, a new cdata for pointers, a view for arrays and records.
    pub fn load(&self, py: Python<'_>, ty: &CType, addr: Addr) -> PyResult<Py<PyAny>> {
        self.refresh_mirror(py)?;
        let mem = &*self.ctx.mem;
        match ty.kind() {
            CKind::Prim(_, layout) if layout.class == PrimClass::LongDouble => {
                let mut bytes = vec![0u8; layout.size as usize];
                mem.read(addr, &mut bytes).py()?;
                PyCData::value(&self.ctx, ty.clone(), &bytes)?.into_py_any(py)
            }
            CKind::Prim(..) | CKind::Enum(_) => {
                Ok(plain_to_py(py, &core::read_prim(mem, addr, ty).py()?)?.unbind())
            }
            CKind::Pointer(_) | CKind::Function(_) => {
                let value = core::read_pointer(mem, addr).py()?;
                PyCData::plain(&self.ctx, ty.clone(), value).into_py_any(py)
            }
            CKind::Array { .. } | CKind::Record(_) => self
                .derived(ty.clone(), addr, None, Flavor::Plain)
                .into_py_any(py),
            CKind::Void => Err(PyTypeError::new_err("cannot read a value of type 'void'")),
        }
    }

    /// Writes `value` into the object of type `ty` at `addr` (assignment rules).
    pub fn store(&self, ty: &CType, addr: Addr, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = value.py();
        let value = to_value_for(value, ty, self.ctx.target())?;
        self.refresh_mirror(py)?;
        core::write_init(&*self.ctx.mem, addr, ty, &value).py()?;
        self.write_back_mirror(py)
    }

    fn read_field(&self, py: Python<'_>, base: Addr, field: &FieldLayout) -> PyResult<Py<PyAny>> {
        if field.bitsize >= 0 {
            return Ok(
                plain_to_py(py, &core::read_field(&*self.ctx.mem, base, field).py()?)?.unbind(),
            );
        }
        let addr = base + field.offset;
        // An open array member of a struct made by ffi.new has a known length:
        // what the block (or the struct) holds past the member's offset.
        let block_size = self
            .length
            .or_else(|| match (&self.flavor, self.ctype.kind()) {
                (Flavor::Owning, CKind::Pointer(record)) => record.size(),
                (Flavor::Owning, CKind::Record(_)) => self.ctype.size(),
                _ => None,
            });
        if let (CKind::Array { item, len: None }, Some(total)) = (field.ty.kind(), block_size) {
            if let Some(item_size) = item.size().filter(|s| *s > 0) {
                let n = total.saturating_sub(field.offset) / item_size;
                return self
                    .derived(field.ty.clone(), addr, Some(n), Flavor::Plain)
                    .into_py_any(py);
            }
        }
        // Otherwise a `T x[]` or `T x[0]` member reads as CFFI reads it: `T *`.
        if let CKind::Array {
            item,
            len: None | Some(0),
        } = field.ty.kind()
        {
            let pointer = self.ctx.pointer_to(item).py()?;
            return self
                .derived(pointer, addr, None, Flavor::Plain)
                .into_py_any(py);
        }
        self.load(py, &field.ty, addr)
    }
}

#[pymethods]
impl PyCData {
    /// A primitive value pickles as a cast of its value to its type; a pointer,
    /// array, struct or function refuses (its memory is one process's).
    fn __reduce__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let ctype = crate::objects::ctype::PyCType::wrap(py, &slf.get().ctype)?;
        crate::base::pickling::reduce_with(py, "reduce_cdata", (slf, ctype))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        if self.check_alive().is_ok() {
            match self.class() {
                // Enums show their name and long doubles C's `%LE`: the core formats those.
                Some(PrimClass::LongDouble) => {
                    return core::cdata_repr(self.data_memory(), &self.ctype, self.addr).py()
                }
                _ if matches!(self.ctype.kind(), CKind::Enum(_)) => {
                    return core::cdata_repr(self.data_memory(), &self.ctype, self.addr).py()
                }
                // Other values print as Python prints them (Python knows which
                // characters are printable).
                Some(_) => {
                    let value = self.prim_value()?.unwrap_or(Value::None);
                    let text = plain_to_py(py, &value)?.repr()?.to_string();
                    return Ok(format!("<cdata '{}' {text}>", self.ctype.cname()));
                }
                None => {}
            }
        }
        let name = match (self.ctype.kind(), &self.flavor) {
            (CKind::Record(_), Flavor::Plain) => format!("{} &", self.ctype.cname()),
            _ => self.ctype.cname().to_owned(),
        };
        Ok(format!("<cdata '{name}' {}>", self.repr_detail(py)?))
    }

    fn __bool__(&self) -> PyResult<bool> {
        Ok(match self.prim_value()? {
            Some(Value::Int(v)) => v != 0,
            Some(Value::Bool(b)) => b,
            Some(Value::Float(f)) => f != 0.0,
            Some(Value::Complex(re, im)) => re != 0.0 || im != 0.0,
            Some(Value::Bytes(b)) => b.first().is_some_and(|c| *c != 0),
            Some(Value::Str(s)) => s.first().is_some_and(|c| *c != 0),
            Some(_) => true,
            None if self.is_pointer_like() => self.addr != 0,
            None => true,
        })
    }

    fn __int__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.prim_value()? {
            Some(Value::Int(v)) => v.into_py_any(py),
            Some(Value::Bool(b)) => i64::from(b).into_py_any(py),
            Some(Value::Float(f)) => PyFloat::new(py, f)
                .call_method0("__int__")
                .map(Bound::unbind),
            Some(Value::Bytes(b)) => i64::from(b.first().copied().unwrap_or(0)).into_py_any(py),
            Some(Value::Str(s)) => i64::from(s.first().copied().unwrap_or(0)).into_py_any(py),
            _ => Err(self.unsupported("int()")),
        }
    }

    fn __float__(&self) -> PyResult<f64> {
        match (self.class(), self.prim_value()?) {
            (Some(PrimClass::Float | PrimClass::LongDouble), Some(Value::Float(f))) => Ok(f),
            _ => Err(self.unsupported("float()")),
        }
    }

    fn __complex__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyComplex>> {
        match (self.class(), self.prim_value()?) {
            (Some(PrimClass::Complex), Some(Value::Complex(re, im))) => {
                Ok(PyComplex::from_doubles(py, re, im))
            }
            _ => Err(self.unsupported("complex()")),
        }
    }

    fn __len__(&self) -> PyResult<usize> {
        match self.array_len() {
            Some(n) => Ok(n as usize),
            None => Err(PyTypeError::new_err(format!(
                "cdata of type '{}' has no len()",
                self.ctype.cname()
            ))),
        }
    }

    fn __iter__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let Some(len) = this.array_len() else {
            return Err(PyTypeError::new_err(format!(
                "cdata '{}' does not support iteration",
                this.ctype.cname()
            )));
        };
        this.check_alive()?;
        let items = (0..len).map(|i| {
            let (item, addr) = this.item_addr(i as i64)?;
            this.load(py, &item, addr)
        });
        let items = items.collect::<PyResult<Vec<_>>>()?;
        Ok(pyo3::types::PyList::new(py, items)?
            .try_iter()?
            .into_any()
            .unbind())
    }

    fn __getitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.check_alive()?;
        if let Ok(slice) = key.cast::<PySlice>() {
            let (start, stop) = self.slice_bounds(slice)?;
            let (item, base) = self.item_base()?;
            let size = item.size().unwrap_or(0);
            let array_type = self.ctx.open_array_of(&item).py()?;
            let addr = offset_addr(base, start, size)?;
            return self
                .derived(array_type, addr, Some((stop - start) as u64), Flavor::Slice)
                .into_py_any(py);
        }
        let index: i64 = key.extract()?;
        let (item, addr) = self.item_addr(index)?;
        // A struct p[0] of an owning `struct s *` co-owns the memory, as in CFFI.
        if index == 0
            && matches!(self.flavor, Flavor::Owning)
            && matches!(item.kind(), CKind::Record(_))
        {
            return self
                .derived(item, addr, self.length, Flavor::Owning)
                .into_py_any(py);
        }
        self.load(py, &item, addr)
    }

    fn __setitem__(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.check_alive()?;
        if let Ok(slice) = key.cast::<PySlice>() {
            let (start, stop) = self.slice_bounds(slice)?;
            let (item, base) = self.item_base()?;
            let addr = offset_addr(base, start, item.size().unwrap_or(0))?;
            let value = self.slice_source(value)?;
            return core::write_slice(&*self.ctx.mem, addr, &item, (stop - start) as u64, &value)
                .py();
        }
        let index: i64 = key.extract()?;
        let (item, addr) = self.item_addr(index)?;
        self.store(&item, addr, value)
    }

    /// Fields first, as in CFFI: `p.x` of a struct (or a pointer to one) reads
    /// the field without first failing the generic lookup (which would build an
    /// AttributeError, its message formatted, for every field read).
    fn __getattribute__(slf: &Bound<'_, Self>, name: &Bound<'_, PyString>) -> PyResult<Py<PyAny>> {
        let this = slf.get();
        if let Some((field, base)) = name.to_str().ok().and_then(|key| this.known_field(key)) {
            this.check_record_place(base)?;
            return this.read_field(slf.py(), base, field);
        }
        generic_getattr(slf.py())?.call1(slf.py(), (slf, name))
    }

    /// What the generic lookup does not find: a field (with CFFI's messages
    /// for a missing field, an incomplete type or a NULL pointer).
    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        let (field, base) = self.field_place(name)?;
        self.read_field(py, base, field)
    }

    fn __setattr__(&self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let (field, base) = self.field_place(name)?;
        let value = to_value(value, self.ctx.target())?;
        core::write_field(&*self.ctx.mem, base, field, &value).py()
    }

    fn __dir__(&self) -> Vec<String> {
        let Some((record, _)) = self.record() else {
            return Vec::new();
        };
        match record.kind() {
            CKind::Record(r) => r
                .usable_layout()
                .map(|l| l.fields.iter().map(|f| f.name.clone()).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    fn __add__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        if !matches!(self.ctype.kind(), CKind::Pointer(_) | CKind::Array { .. }) {
            return Err(PyTypeError::new_err(format!(
                "cannot add a cdata '{}' and a number",
                self.ctype.cname()
            )));
        }
        match other.extract::<i64>() {
            Ok(n) if !other.is_instance_of::<PyCData>() => self.offset_by(n)?.into_py_any(py),
            _ => Ok(py.NotImplemented()),
        }
    }

    fn __radd__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.__add__(other)
    }

    fn __sub__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        if let Ok(that) = other.cast::<PyCData>() {
            let that = that.get();
            let (item, base) = self.item_base()?;
            // A pointer minus a pointer of its type, or minus an array decaying to it.
            let compatible = match (self.ctype.kind(), that.ctype.kind()) {
                (CKind::Pointer(_), _) if self.ctype == that.ctype => true,
                (CKind::Pointer(mine), CKind::Array { item: theirs, .. }) => mine == theirs,
                _ => false,
            };
            if !compatible {
                return Err(PyTypeError::new_err(format!(
                    "cannot subtract cdata '{}' and cdata '{}'",
                    self.ctype.cname(),
                    that.ctype.cname()
                )));
            }
            let size = item.size().unwrap_or(1).max(1) as i128;
            let diff = (i128::from(base) - i128::from(that.addr)) / size;
            return diff.into_py_any(py);
        }
        match other.extract::<i64>() {
            Ok(n) => self
                .offset_by(
                    n.checked_neg()
                        .ok_or_else(|| PyIndexError::new_err("offset out of range"))?,
                )?
                .into_py_any(py),
            Err(_) => Ok(py.NotImplemented()),
        }
    }

    fn __richcmp__(
        &self,
        other: &Bound<'_, PyAny>,
        op: pyo3::basic::CompareOp,
    ) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let mine = self.prim_value()?;
        let theirs = match other.cast::<PyCData>() {
            Ok(that) => {
                let that = that.get();
                match (that.prim_value()?, &mine) {
                    (Some(v), Some(_)) => Some(v),
                    (None, None) => return compare(self.addr, that.addr, op).into_py_any(py),
                    _ => return matches!(op, pyo3::basic::CompareOp::Ne).into_py_any(py),
                }
            }
            Err(_) => None,
        };
        let Some(mine) = mine else {
            return Ok(py.NotImplemented());
        };
        let mine = plain_to_py(py, &mine)?;
        let theirs = match theirs {
            Some(v) => plain_to_py(py, &v)?,
            None => other.clone(),
        };
        mine.rich_compare(theirs, op).map(Bound::unbind)
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        match self.prim_value()? {
            Some(v) => plain_to_py(py, &v)?.hash(),
            None => Ok(self.addr as isize),
        }
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc_info))]
    fn __exit__(&self, py: Python<'_>, _exc_info: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.release(py)?;
        Ok(false)
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, pyo3::types::PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        crate::calls::call::call_function(py, self, crate::marshal::args::Args::Tuple(args), kwargs)
    }
}

impl PyCData {
    /// The values to assign to a slice: an array cdata's items, bytes or str as
    /// they are, and any other iterable listed.
    fn slice_source(&self, value: &Bound<'_, PyAny>) -> PyResult<Value> {
        if let Ok(source) = value.cast::<PyCData>() {
            let source = source.get();
            if let (Some(len), CKind::Array { item, .. }) =
                (source.array_len(), source.ctype.kind())
            {
                source.check_alive()?;
                let size = item.size().unwrap_or(0);
                let items = (0..len)
                    .map(|i| core::read_value(&*source.ctx.mem, source.addr + i * size, item))
                    .collect::<wasmcffi::Result<Vec<_>>>()
                    .py()?;
                return Ok(Value::List(items));
            }
        }
        // `p[a:b] = bytearray(...)` copies the bytes (CFFI's memcpy case).
        if let Ok(bytes) = value.cast::<pyo3::types::PyByteArray>() {
            return Ok(Value::Bytes(bytes.to_vec()));
        }
        let listable = !(value.is_instance_of::<pyo3::types::PyBytes>()
            || value.is_instance_of::<pyo3::types::PyString>()
            || value.is_instance_of::<pyo3::types::PyList>()
            || value.is_instance_of::<PyTuple>());
        if listable && value.try_iter().is_ok() {
            let items = value.try_iter()?.collect::<PyResult<Vec<_>>>()?;
            return to_value(
                pyo3::types::PyList::new(value.py(), items)?.as_any(),
                self.ctx.target(),
            );
        }
        to_value(value, self.ctx.target())
    }

    /// The `start` and `stop` of `x[start:stop]`, checked as CFFI checks them.
    fn slice_bounds(&self, slice: &Bound<'_, PySlice>) -> PyResult<(i64, i64)> {
        let start = slice.getattr("start")?;
        let stop = slice.getattr("stop")?;
        if start.is_none() {
            return Err(PyIndexError::new_err("slice start must be specified"));
        }
        if stop.is_none() {
            return Err(PyIndexError::new_err("slice stop must be specified"));
        }
        if !slice.getattr("step")?.is_none() {
            return Err(PyIndexError::new_err("slice with step not supported"));
        }
        let (start, stop): (i64, i64) = (start.extract()?, stop.extract()?);
        if start > stop {
            return Err(PyIndexError::new_err("slice start > stop"));
        }
        if let Some(len) = self.array_len() {
            if start < 0 {
                return Err(PyIndexError::new_err("negative index"));
            }
            if stop as u64 > len {
                return Err(PyIndexError::new_err(format!(
                    "index too large (expected {stop} <= {len})"
                )));
            }
        }
        self.item_base()?;
        Ok((start, stop))
    }
}
