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
use wasmcffi::backend::native::CallPlan;
use wasmcffi::cdata::{self as core, Addr, HostBoxes, HostMemory, Memory, Value};
use wasmcffi::layout::{CKind, CType, FieldLayout, PrimClass, Target};

use crate::base::exceptions::CoreResultExt;
use crate::base::handles;
use crate::memory::allocation::Allocation;
use crate::memory::allocation::SharedMemory;
use crate::memory::context::FfiContext;

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
    /// (Boxed, as the `Gc` state is: the rare flavors keep every cdata small
    /// enough to be moved without a `memcpy` call.)
    FromBuffer(Box<BufferSource>),
    /// `ffi.gc(cdata, destructor)`: calls `destructor(original)` once.
    Gc(Box<PendingDestructor>),
    /// `ffi.callback(type, function)`: a C function pointer calling `function`.
    Callback(Py<PyAny>),
}

/// `(destructor, original)` of an `ffi.gc` cdata, until the destructor has run.
pub type PendingDestructor = Mutex<Option<(Py<PyAny>, Py<PyAny>)>>;

/// The Python object behind an `ffi.from_buffer` cdata (see [`Flavor::FromBuffer`]).
pub struct BufferSource {
    pub type_name: String,
    /// The exported buffer, until released.
    pub buffer: Mutex<Option<pyo3::buffer::PyBuffer<u8>>>,
    /// A guest copy of the buffer (a sandboxed ffi), not the buffer's memory.
    pub mirror: bool,
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
    /// The call plan of a function pointer, made at its first call (boxed: most
    /// cdata are not function pointers, and every cdata is made with room for it).
    pub plan: OnceLock<Box<CallPlan>>,
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
                    Python::attach(|py| {
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
            return Err(crate::base::exceptions::SandboxError::new_err(
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
    pub(crate) fn derived(
        &self,
        ctype: CType,
        addr: Addr,
        length: Option<u64>,
        flavor: Flavor,
    ) -> PyCData {
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
    pub(crate) fn item_base(&self) -> PyResult<(CType, Addr)> {
        match self.ctype.kind() {
            CKind::Pointer(item) | CKind::Array { item, .. } => Ok((item.clone(), self.addr)),
            _ => Err(PyTypeError::new_err(format!(
                "cdata of type '{}' cannot be indexed",
                self.ctype.cname()
            ))),
        }
    }

    /// The address of item `index` (checked against the array length).
    pub(crate) fn item_addr(&self, index: i64) -> PyResult<(CType, Addr)> {
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
    pub(crate) fn record(&self) -> Option<(&CType, Addr)> {
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

    /// The field `name` of this struct or union (or pointer to one) when its
    /// type is complete and has one, and the record's address: what attribute
    /// reads look up first. `None` otherwise ([`Self::field_place`] says why).
    pub(crate) fn known_field(&self, name: &str) -> Option<(&FieldLayout, Addr)> {
        let (record, base) = self.record()?;
        let CKind::Record(r) = record.kind() else {
            return None;
        };
        let field = r.usable_layout()?.fields.iter().find(|f| f.name == name)?;
        Some((field, base))
    }

    /// The record at `base` can be read or written through this cdata: alive, not NULL.
    pub(crate) fn check_record_place(&self, base: Addr) -> PyResult<()> {
        self.check_alive()?;
        if base == 0 {
            return Err(PyRuntimeError::new_err(format!(
                "cannot dereference null pointer from cdata '{}'",
                self.ctype.cname()
            )));
        }
        Ok(())
    }

    /// The field `name` of the struct this cdata designates, and the struct's
    /// address, checked for `p.name` access (live memory, no NULL).
    pub(crate) fn field_place(&self, name: &str) -> PyResult<(&FieldLayout, Addr)> {
        let Some((record, base)) = self.record() else {
            return Err(PyAttributeError::new_err(format!(
                "cdata '{}' has no attribute '{name}'",
                self.ctype.cname()
            )));
        };
        let field = self.find_field(record, name)?;
        self.check_record_place(base)?;
        Ok((field, base))
    }

    /// The Python buffer behind a sandboxed `from_buffer` cdata (see [`Flavor::FromBuffer`]).
    fn mirrored(&self) -> Option<&Mutex<Option<pyo3::buffer::PyBuffer<u8>>>> {
        match &self.flavor {
            Flavor::FromBuffer(source) if source.mirror => Some(&source.buffer),
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

    /// `ffi.release(cdata)` / leaving a `with` block.
    pub fn release(&self, py: Python<'_>) -> PyResult<()> {
        match &self.flavor {
            Flavor::Owning => {
                if let Some(owner) = &self.owner {
                    owner.release();
                }
            }
            Flavor::FromBuffer(source) => {
                // Dropping the buffer view releases it (we hold the GIL).
                drop(source.buffer.lock().unwrap_or_else(|p| p.into_inner()).take());
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
    pub(crate) fn prim_value(&self) -> PyResult<Option<Value>> {
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

    pub(crate) fn class(&self) -> Option<PrimClass> {
        match self.ctype.kind() {
            CKind::Prim(_, l) => Some(l.class),
            CKind::Enum(_) => Some(PrimClass::Int { signed: true }),
            _ => None,
        }
    }

    pub(crate) fn unsupported(&self, what: &str) -> PyErr {
        PyTypeError::new_err(format!(
            "{what} not supported on cdata '{}'",
            self.ctype.cname()
        ))
    }

    /// `p + n` for pointers and arrays (arrays decay to `T *`).
    pub(crate) fn offset_by(&self, n: i64) -> PyResult<PyCData> {
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
    pub(crate) fn repr_detail(&self, py: Python<'_>) -> PyResult<String> {
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
            Flavor::FromBuffer(source) => match self.array_len() {
                Some(n) => format!("buffer len {n} from '{}' object", source.type_name),
                None => format!("buffer from '{}' object", source.type_name),
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
pub(crate) fn compare<T: PartialOrd>(a: T, b: T, op: pyo3::basic::CompareOp) -> bool {
    op.matches(a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Less))
}

/// `obj` as a cdata, or TypeError naming the `what` that needed one.
pub(crate) fn cdata_arg<'a, 'py>(
    obj: &'a Bound<'py, PyAny>,
    what: &str,
) -> PyResult<&'a Bound<'py, PyCData>> {
    obj.cast::<PyCData>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what}: expected a cdata, got {}",
            crate::base::exceptions::type_name(obj)
        ))
    })
}
