//! `CData`: a C value, pointer, array or struct seen from Python.
//!
//! A cdata is a typed address in one FFI's memory. For pointers and function
//! pointers `addr` is the pointer value; for everything else it is where the
//! data lives (primitive cdata made by `ffi.cast` live in a small host block).
//! All reads and writes go through the core's `cdata` functions.

use std::any::Any;
use std::sync::{Arc, Mutex, OnceLock};

use pyo3::exceptions::{PyAttributeError, PyIndexError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyComplex, PyFloat, PySlice, PyTuple};
use pyo3::IntoPyObjectExt;
use wasmcffi::backend::native::CallPlan;
use wasmcffi::cdata::{self as core, Addr, HostBoxes, HostMemory, Memory, Value};
use wasmcffi::layout::{CKind, CType, FieldLayout, PrimClass, Target};

use crate::context::FfiContext;
use crate::convert::{plain_to_py, to_value, to_value_for};
use crate::exceptions::CoreResultExt;
use crate::handles;
use crate::memory::Allocation;
use crate::memory::SharedMemory;

/// How a cdata came to be, for its repr and for `ffi.release`.
pub enum Flavor {
    /// A view or value: owns nothing visible.
    Plain,
    /// Returned by `ffi.new` (or a struct `p[0]` of one): shows "owning N bytes".
    Owning,
    /// `x[a:b]`: shows "sliced length N".
    Slice,
    /// `ffi.new_handle(obj)`: the handle's key in the handle table.
    Handle(u64),
    /// `ffi.from_buffer(obj)`: keeps the exported buffer until released.
    /// On a host ffi the cdata is the buffer's memory; on a sandboxed one
    /// (`mirror`) it is a copy in guest memory, refreshed from the object before
    /// each read through the cdata and each call taking it, and written back
    /// (writable objects) after each write through it and each such call.
    FromBuffer {
        type_name: String,
        buffer: Mutex<Option<pyo3::buffer::PyBuffer<u8>>>,
        mirror: bool,
    },
    /// `ffi.gc(cdata, destructor)`: calls `destructor(original)` once.
    Gc(Mutex<Option<(PyObject, PyObject)>>),
    /// `ffi.callback(type, function)`: a C function pointer calling `function`.
    Callback(PyObject),
}

/// A C value seen from Python (`ffi.CData`).
#[pyclass(name = "CData", module = "wasmcffi", frozen, weakref)]
pub struct PyCData {
    pub ctx: Arc<FfiContext>,
    pub ctype: CType,
    pub addr: Addr,
    /// Item count of an array whose type has no length (`int[]`), or the full
    /// size in bytes of a struct with a flexible array member made by `ffi.new`.
    pub length: Option<u64>,
    pub owner: Option<Arc<Allocation>>,
    pub flavor: Flavor,
    /// Anything else that must outlive this cdata: the library a function
    /// pointer came from, the closure behind a callback.
    pub keep: Option<Arc<dyn Any + Send + Sync>>,
    /// The call plan of a function pointer, made at its first call.
    pub plan: OnceLock<CallPlan>,
    /// The generation of the FFI's memory this cdata was made in (see
    /// `Memory::generation`): a sandbox's cdata die with its instance.
    pub generation: u64,
}

impl Drop for PyCData {
    fn drop(&mut self) {
        match &self.flavor {
            Flavor::Handle(key) => handles::forget(*key),
            Flavor::Gc(pending) => {
                let pending = pending.lock().unwrap_or_else(|p| p.into_inner()).take();
                if let Some((destructor, original)) = pending {
                    Python::with_gil(|py| {
                        if let Err(err) = destructor.call1(py, (original,)) {
                            err.write_unraisable(py, Some(destructor.bind(py)));
                        }
                    });
                }
            }
            _ => {}
        }
    }
}

/// Memory for the small blocks behind primitive cdata (`ffi.cast("int", 5)`):
/// values, not places in any FFI's address space.
fn value_memory() -> SharedMemory {
    static HOST: std::sync::LazyLock<SharedMemory> =
        std::sync::LazyLock::new(|| Arc::new(HostMemory));
    HOST.clone()
}

impl PyCData {
    /// A cdata with no ownership.
    pub fn plain(ctx: &Arc<FfiContext>, ctype: CType, addr: Addr) -> Self {
        PyCData {
            ctx: ctx.clone(),
            ctype,
            addr,
            length: None,
            owner: None,
            flavor: Flavor::Plain,
            keep: None,
            plan: OnceLock::new(),
            generation: ctx.mem.generation(),
        }
    }

    /// A primitive (or pointer-free) value cdata holding `bytes`, as `ffi.cast` makes.
    pub fn value(ctx: &Arc<FfiContext>, ctype: CType, bytes: &[u8]) -> PyResult<Self> {
        let mem = value_memory();
        let block = Allocation::new(&mem, bytes.len() as u64, 16)?;
        mem.write(block.addr(), bytes).py()?;
        let addr = block.addr();
        Ok(PyCData::plain(ctx, ctype, addr).with_owner(Some(block)))
    }

    /// This cdata owning (or keeping alive) `owner`.
    pub fn with_owner(mut self, owner: Option<Arc<Allocation>>) -> Self {
        self.owner = owner;
        self
    }

    /// This cdata with an item count (open arrays) or full size (var-size structs).
    pub fn with_length(mut self, length: Option<u64>) -> Self {
        self.length = length;
        self
    }

    /// This cdata with `flavor`.
    pub fn with_flavor(mut self, flavor: Flavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// Whether `addr` is a pointer value (pointers) or a data address (the rest).
    pub fn is_pointer_like(&self) -> bool {
        self.ctype.is_pointer_like()
    }

    /// The memory this cdata's data is read from: primitive cdata (made by
    /// `ffi.cast`, or `long double` values read out of memory) hold their bytes in
    /// a host value block; everything else lives in the FFI's memory.
    pub fn data_memory(&self) -> &dyn Memory {
        match self.ctype.kind() {
            CKind::Prim(..) | CKind::Enum(_) => match self.ctype.data().target {
                Target::Host => &HostMemory,
                Target::Wasm32 => &HostBoxes(Target::Wasm32),
            },
            _ => &*self.ctx.mem,
        }
    }

    /// Raises if the memory behind this cdata was released.
    pub fn check_alive(&self) -> PyResult<()> {
        let host_value = matches!(self.ctype.kind(), CKind::Prim(..) | CKind::Enum(_));
        if !host_value && self.generation != self.ctx.mem.generation() {
            return Err(crate::exceptions::SandboxError::new_err(
                "this cdata belongs to a sandbox instance that was reset: its memory is gone",
            ));
        }
        match &self.owner {
            Some(owner) => owner.check_alive(),
            None => Ok(()),
        }
    }

    /// Number of items of an array cdata.
    pub fn array_len(&self) -> Option<u64> {
        match self.ctype.kind() {
            CKind::Array { len: Some(n), .. } => Some(*n),
            CKind::Array { len: None, .. } => self.length,
            _ => None,
        }
    }

    /// Size in bytes of the data this cdata stands for (`ffi.sizeof(cdata)`).
    pub fn data_size(&self) -> Option<u64> {
        match self.ctype.kind() {
            CKind::Array { item, .. } => self.array_len()?.checked_mul(item.size()?),
            CKind::Record(_) => self.length.or_else(|| self.ctype.size()),
            _ => self.ctype.size(),
        }
    }

    /// This cdata as an initializer or argument value for `target`.
    pub fn as_value(&self, target: Target) -> PyResult<Value> {
        self.check_target(target)?;
        self.check_alive()?;
        match self.ctype.kind() {
            CKind::Prim(..) | CKind::Enum(_) => {
                core::read_prim(self.data_memory(), self.addr, &self.ctype).py()
            }
            _ => Ok(Value::CData {
                ty: self.ctype.clone(),
                addr: self.addr,
            }),
        }
    }

    /// The address and size of the data a pointer or array cdata designates.
    pub fn pointed_data(&self) -> PyResult<(u64, Option<u64>)> {
        match self.ctype.kind() {
            CKind::Pointer(item) => Ok((self.addr, item.size())),
            CKind::Array { .. } | CKind::Record(_) => Ok((self.addr, self.data_size())),
            _ => Err(PyTypeError::new_err(format!(
                "expected a pointer or array cdata, got '{}'",
                self.ctype.cname()
            ))),
        }
    }

    /// TypeError unless this cdata is of `target`: a value is never copied
    /// silently between the host and a sandbox.
    pub fn check_target(&self, target: Target) -> PyResult<()> {
        if self.ctype.data().target != target {
            return Err(PyTypeError::new_err(format!(
                "cdata '{}' belongs to the {} target and cannot be used with a {} ffi",
                self.ctype.cname(),
                target_name(self.ctype.data().target),
                target_name(target)
            )));
        }
        Ok(())
    }

    /// A derived cdata that keeps this one's memory alive.
    fn derived(&self, ctype: CType, addr: Addr, length: Option<u64>, flavor: Flavor) -> PyCData {
        PyCData {
            ctx: self.ctx.clone(),
            ctype,
            addr,
            length,
            owner: self.owner.clone(),
            flavor,
            keep: self.keep.clone(),
            plan: OnceLock::new(),
            generation: self.generation,
        }
    }

    /// The pointed-to (or item) type and the address items start at, for indexing.
    fn item_base(&self) -> PyResult<(CType, Addr)> {
        match self.ctype.kind() {
            CKind::Pointer(item) | CKind::Array { item, .. } => Ok((item.clone(), self.addr)),
            _ => Err(PyTypeError::new_err(format!(
                "cdata of type '{}' cannot be indexed",
                self.ctype.cname()
            ))),
        }
    }

    /// The address of item `index` (checked against the array length).
    fn item_addr(&self, index: i64) -> PyResult<(CType, Addr)> {
        let (item, base) = self.item_base()?;
        if let Some(len) = self.array_len() {
            if index < 0 {
                return Err(PyIndexError::new_err("negative index"));
            }
            if index as u64 >= len {
                return Err(PyIndexError::new_err(format!(
                    "index too large for cdata '{}' (expected {index} < {len})",
                    self.ctype.cname()
                )));
            }
        } else if matches!(self.flavor, Flavor::Owning) && index != 0 {
            return Err(PyIndexError::new_err(format!(
                "cdata '{}' can only be indexed by 0",
                self.ctype.cname()
            )));
        }
        if base == 0 {
            return Err(PyRuntimeError::new_err(format!(
                "cannot dereference null pointer from cdata '{}'",
                self.ctype.cname()
            )));
        }
        let size = item
            .size()
            .ok_or_else(|| PyTypeError::new_err(format!("cdata '{}' is opaque", item.cname())))?;
        let addr = offset_addr(base, index, size)?;
        Ok((item, addr))
    }

    /// The struct or union this cdata designates, with its address.
    fn record(&self) -> Option<(&CType, Addr)> {
        match self.ctype.kind() {
            CKind::Record(_) => Some((&self.ctype, self.addr)),
            CKind::Pointer(target) if matches!(target.kind(), CKind::Record(_)) => {
                Some((target, self.addr))
            }
            _ => None,
        }
    }

    fn find_field<'a>(&self, record: &'a CType, name: &str) -> PyResult<&'a FieldLayout> {
        let CKind::Record(r) = record.kind() else {
            unreachable!("record() returns records")
        };
        let layout = r
            .checked_layout(record.cname(), || {
                wasmcffi::Error::Attribute(format!(
                    "cdata '{}' points to an incomplete type",
                    self.ctype.cname()
                ))
            })
            .py()?;
        layout
            .fields
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| {
                PyAttributeError::new_err(format!(
                    "cdata '{}' has no field '{name}'",
                    self.ctype.cname()
                ))
            })
    }

    /// The field `name` of the struct this cdata designates, and the struct's
    /// address, checked for `p.name` access (live memory, no NULL).
    fn field_place(&self, name: &str) -> PyResult<(&FieldLayout, Addr)> {
        let Some((record, base)) = self.record() else {
            return Err(PyAttributeError::new_err(format!(
                "cdata '{}' has no attribute '{name}'",
                self.ctype.cname()
            )));
        };
        let field = self.find_field(record, name)?;
        self.check_alive()?;
        if base == 0 {
            return Err(PyRuntimeError::new_err(format!(
                "cannot dereference null pointer from cdata '{}'",
                self.ctype.cname()
            )));
        }
        Ok((field, base))
    }

    /// The value of a global variable this cdata designates (its type at its
    /// address): arrays and structs as views, everything else read now.
    pub fn global_value(self, py: Python<'_>) -> PyResult<PyObject> {
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
    pub fn load(&self, py: Python<'_>, ty: &CType, addr: Addr) -> PyResult<PyObject> {
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

    /// The Python buffer behind a sandboxed `from_buffer` cdata (see [`Flavor::FromBuffer`]).
    fn mirrored(&self) -> Option<&Mutex<Option<pyo3::buffer::PyBuffer<u8>>>> {
        match &self.flavor {
            Flavor::FromBuffer {
                buffer,
                mirror: true,
                ..
            } => Some(buffer),
            _ => None,
        }
    }

    /// Whether this cdata is a guest copy of a Python buffer.
    pub fn is_mirror(&self) -> bool {
        self.mirrored().is_some()
    }

    /// Copies the Python object's bytes into a sandboxed `from_buffer` cdata's
    /// guest copy (nothing for other cdata, or once released).
    pub fn refresh_mirror(&self, py: Python<'_>) -> PyResult<()> {
        let Some(buffer) = self.mirrored() else {
            return Ok(());
        };
        let guard = buffer.lock().unwrap_or_else(|p| p.into_inner());
        let Some(buf) = guard.as_ref() else {
            return Ok(());
        };
        let bytes = buf.to_vec(py)?;
        self.ctx.mem.write(self.addr, &bytes).py()
    }

    /// Copies a sandboxed `from_buffer` cdata's guest copy back into its Python
    /// object, if the object is writable (nothing for other cdata).
    pub fn write_back_mirror(&self, py: Python<'_>) -> PyResult<()> {
        let Some(buffer) = self.mirrored() else {
            return Ok(());
        };
        let guard = buffer.lock().unwrap_or_else(|p| p.into_inner());
        let Some(buf) = guard.as_ref().filter(|b| !b.readonly()) else {
            return Ok(());
        };
        let mut bytes = vec![0u8; buf.len_bytes()];
        self.ctx.mem.read(self.addr, &mut bytes).py()?;
        buf.copy_from_slice(py, &bytes)
    }

    fn read_field(&self, py: Python<'_>, base: Addr, field: &FieldLayout) -> PyResult<PyObject> {
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

    /// `ffi.release(cdata)` / leaving a `with` block.
    pub fn release(&self, py: Python<'_>) -> PyResult<()> {
        match &self.flavor {
            Flavor::Owning => {
                if let Some(owner) = &self.owner {
                    owner.release();
                }
            }
            Flavor::FromBuffer { buffer, .. } => {
                if let Some(buf) = buffer.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    buf.release(py);
                }
                if let Some(owner) = &self.owner {
                    owner.release();
                }
            }
            Flavor::Gc(pending) => {
                let pending = pending.lock().unwrap_or_else(|p| p.into_inner()).take();
                if let Some((destructor, original)) = pending {
                    destructor.call1(py, (original,))?;
                }
            }
            Flavor::Plain | Flavor::Slice | Flavor::Handle(_) | Flavor::Callback(_) => {
                return Err(pyo3::exceptions::PyValueError::new_err(
                    "only 'cdata' object from ffi.new(), ffi.gc(), ffi.from_buffer() or ffi.new_allocator()() can be used with the 'with' keyword or ffi.release()",
                ))
            }
        }
        Ok(())
    }

    /// The value of a primitive cdata.
    fn prim_value(&self) -> PyResult<Option<Value>> {
        match self.ctype.kind() {
            CKind::Prim(..) | CKind::Enum(_) => {
                self.check_alive()?;
                Ok(Some(
                    core::read_prim(self.data_memory(), self.addr, &self.ctype).py()?,
                ))
            }
            _ => Ok(None),
        }
    }

    fn class(&self) -> Option<PrimClass> {
        match self.ctype.kind() {
            CKind::Prim(_, l) => Some(l.class),
            CKind::Enum(_) => Some(PrimClass::Int { signed: true }),
            _ => None,
        }
    }

    fn unsupported(&self, what: &str) -> PyErr {
        PyTypeError::new_err(format!(
            "{what} not supported on cdata '{}'",
            self.ctype.cname()
        ))
    }

    /// `p + n` for pointers and arrays (arrays decay to `T *`).
    fn offset_by(&self, n: i64) -> PyResult<PyCData> {
        let (item, base) = self.item_base()?;
        let ptr_type = match self.ctype.kind() {
            CKind::Array { item, .. } => self.ctx.pointer_to(item).py()?,
            _ => self.ctype.clone(),
        };
        let size = item.size().ok_or_else(|| {
            PyTypeError::new_err(format!(
                "ctype '{}' points to items of unknown size",
                self.ctype.cname()
            ))
        })?;
        Ok(self.derived(ptr_type, offset_addr(base, n, size)?, None, Flavor::Plain))
    }

    /// The repr suffix after the type name.
    fn repr_detail(&self, py: Python<'_>) -> PyResult<String> {
        let alive = self.check_alive().is_ok();
        Ok(match &self.flavor {
            Flavor::Owning => {
                format!(
                    "owning {} bytes",
                    self.owner.as_ref().map_or(0, |o| o.size())
                )
            }
            Flavor::Slice => format!("sliced length {}", self.length.unwrap_or(0)),
            Flavor::Handle(key) => {
                let target = handles::get(py, *key)
                    .map(|o| o.bind(py).repr().map(|r| r.to_string()))
                    .transpose()?;
                format!("handle to {}", target.unwrap_or_else(|| "?".into()))
            }
            Flavor::FromBuffer { type_name, .. } => match self.array_len() {
                Some(n) => format!("buffer len {n} from '{type_name}' object"),
                None => format!("buffer from '{type_name}' object"),
            },
            Flavor::Callback(function) => format!("calling {}", function.bind(py).repr()?),
            Flavor::Plain | Flavor::Gc(_) if !alive => "released".to_owned(),
            Flavor::Plain | Flavor::Gc(_) if self.addr == 0 => "NULL".to_owned(),
            Flavor::Plain | Flavor::Gc(_) => format!("{:#x}", self.addr),
        })
    }
}

fn target_name(target: Target) -> &'static str {
    match target {
        Target::Host => "host",
        Target::Wasm32 => "wasm32 sandbox",
    }
}

/// `base + index * size` in the target's address arithmetic, refusing wrap-around.
pub fn offset_addr(base: Addr, index: i64, size: u64) -> PyResult<Addr> {
    let delta = i128::from(index) * i128::from(size);
    u64::try_from(i128::from(base) + delta).map_err(|_| {
        PyIndexError::new_err(format!(
            "pointer arithmetic out of range ({index} items of {size} bytes)"
        ))
    })
}

/// Compares two orderable values with a Python comparison operator.
fn compare<T: PartialOrd>(a: T, b: T, op: pyo3::basic::CompareOp) -> bool {
    op.matches(a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Less))
}

#[pymethods]
impl PyCData {
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

    fn __int__(&self, py: Python<'_>) -> PyResult<PyObject> {
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

    fn __iter__(slf: &Bound<'_, Self>) -> PyResult<PyObject> {
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

    fn __getitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        self.check_alive()?;
        if let Ok(slice) = key.downcast::<PySlice>() {
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
        if let Ok(slice) = key.downcast::<PySlice>() {
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

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<PyObject> {
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

    fn __add__(&self, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
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

    fn __radd__(&self, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        self.__add__(other)
    }

    fn __sub__(&self, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        let py = other.py();
        if let Ok(that) = other.downcast::<PyCData>() {
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
    ) -> PyResult<PyObject> {
        let py = other.py();
        let mine = self.prim_value()?;
        let theirs = match other.downcast::<PyCData>() {
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
    ) -> PyResult<PyObject> {
        crate::call::call_function(py, self, crate::call::Args::Tuple(args), kwargs)
    }
}

impl PyCData {
    /// The values to assign to a slice: an array cdata's items, bytes or str as
    /// they are, and any other iterable listed.
    fn slice_source(&self, value: &Bound<'_, PyAny>) -> PyResult<Value> {
        if let Ok(source) = value.downcast::<PyCData>() {
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
        if let Ok(bytes) = value.downcast::<pyo3::types::PyByteArray>() {
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

/// `obj` as a cdata, or TypeError naming the `what` that needed one.
pub(crate) fn cdata_arg<'a, 'py>(
    obj: &'a Bound<'py, PyAny>,
    what: &str,
) -> PyResult<&'a Bound<'py, PyCData>> {
    obj.downcast::<PyCData>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what}: expected a cdata, got {}",
            crate::convert::type_name(obj)
        ))
    })
}
