//! `CType` and `CField`: Python views of resolved types, one object per type.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use pyo3::exceptions::PyAttributeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple, PyWeakrefMethods, PyWeakrefReference};
use wasmcffi::layout::{CKind, CType, FieldLayout, RecordLayout, Target};
use wasmcffi::model::RecordKind;

/// Which C type a `CType` object stands for: a structural type
/// ([`CType::is_structural`]) by its target and name, so every FFI shares it as
/// in CFFI; any other by its descriptor's identity.
#[derive(PartialEq, Eq, Hash)]
enum CTypeKey {
    Structural(Target, String),
    Descriptor(usize),
}

/// The living `CType` objects, held weakly so that a type nobody uses any more
/// is freed (as CFFI's are), while one in use is always the same object
/// (`ffi.typeof("int *") is ffi.typeof("int*")`).
static CTYPE_OBJECTS: LazyLock<Mutex<HashMap<CTypeKey, Py<PyWeakrefReference>>>> =
    LazyLock::new(Default::default);

/// The size of `CTYPE_OBJECTS` after its last sweep of dead entries.
static SWEPT_LEN: AtomicUsize = AtomicUsize::new(0);

/// A C type (`ffi.typeof(...)`).
#[pyclass(name = "CType", module = "wasmcffi", frozen, weakref)]
pub struct PyCType {
    pub ctype: CType,
    /// A pointer's or an array's item type object, kept alive by this one, as
    /// CFFI's are (`typeof("int **")` keeps `typeof("int *")` alive).
    item: Option<Py<PyCType>>,
}

/// One field of a struct or union type (`ctype.fields`).
#[pyclass(name = "CField", module = "wasmcffi", frozen)]
pub struct PyCField {
    #[pyo3(get, name = "type")]
    ty: Py<PyCType>,
    #[pyo3(get)]
    offset: u64,
    #[pyo3(get)]
    bitshift: i32,
    #[pyo3(get)]
    bitsize: i32,
    #[pyo3(get)]
    flags: u32,
}

impl PyCType {
    /// The one Python object for `ctype`.
    pub fn wrap(py: Python<'_>, ctype: &CType) -> PyResult<Py<PyCType>> {
        let key = if ctype.is_structural() {
            CTypeKey::Structural(ctype.data().target, ctype.cname().to_owned())
        } else {
            // The object keeps the descriptor alive, so its address is unique
            // while the weak reference can be upgraded.
            CTypeKey::Descriptor(Arc::as_ptr(&ctype.0) as usize)
        };
        let table = || CTYPE_OBJECTS.lock().unwrap_or_else(|p| p.into_inner());
        let living = |objects: &HashMap<CTypeKey, Py<PyWeakrefReference>>| {
            let alive = objects.get(&key).and_then(|w| w.bind(py).upgrade())?;
            alive.cast_into::<PyCType>().ok().map(Bound::unbind)
        };
        if let Some(obj) = living(&table()) {
            return Ok(obj);
        }
        // Made without the lock: allocating may run the garbage collector, and
        // with it finalizers that ask for ctypes too.
        let item = match ctype.kind() {
            CKind::Pointer(item) | CKind::Array { item, .. } => Some(PyCType::wrap(py, item)?),
            _ => None,
        };
        let obj = Bound::new(
            py,
            PyCType {
                ctype: ctype.clone(),
                item,
            },
        )?;
        let weak = PyWeakrefReference::new(&obj)?.unbind();
        let mut objects = table();
        if let Some(made_meanwhile) = living(&objects) {
            return Ok(made_meanwhile);
        }
        // Dead entries are dropped when the table has doubled since the last sweep.
        if objects.len() >= 2 * SWEPT_LEN.load(Ordering::Relaxed).max(64) {
            objects.retain(|_, w| w.bind(py).upgrade().is_some());
            SWEPT_LEN.store(objects.len(), Ordering::Relaxed);
        }
        objects.insert(key, weak);
        Ok(obj.unbind())
    }

    fn record_layout(&self) -> Option<(RecordKind, &RecordLayout)> {
        match self.ctype.kind() {
            CKind::Record(r) => r.usable_layout().map(|l| (r.kind, l)),
            _ => None,
        }
    }
}

/// CFFI's name for the kind of a type.
pub fn kind_name(ctype: &CType) -> &'static str {
    match ctype.kind() {
        CKind::Void => "void",
        CKind::Prim(..) => "primitive",
        CKind::Pointer(_) => "pointer",
        CKind::Array { .. } => "array",
        CKind::Function(_) => "function",
        CKind::Record(r) => match r.kind {
            RecordKind::Struct => "struct",
            RecordKind::Union => "union",
        },
        CKind::Enum(_) => "enum",
    }
}

fn field_object(py: Python<'_>, field: &FieldLayout) -> PyResult<Py<PyCField>> {
    Py::new(
        py,
        PyCField {
            ty: PyCType::wrap(py, &field.ty)?,
            offset: field.offset,
            bitshift: field.bitshift,
            bitsize: field.bitsize,
            flags: u32::from(field.skip_in_positional_init),
        },
    )
}

fn not_for_kind(ctype: &CType, attr: &str) -> PyErr {
    PyAttributeError::new_err(format!(
        "ctype '{}' of kind '{}' has no attribute '{attr}'",
        ctype.cname(),
        kind_name(ctype)
    ))
}

#[pymethods]
impl PyCType {
    /// A type pickles by name: a structural one (`int`, `char *`) in any FFI of
    /// its target, a declared one as the type of that name in a compiled module.
    fn __reduce__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        crate::base::pickling::reduce_with(slf.py(), "reduce_ctype", (slf,))
    }

    /// The target the type was laid out for: `"host"` or `"wasm32"`.
    #[getter]
    fn _target(&self) -> &'static str {
        match self.ctype.data().target {
            Target::Host => "host",
            Target::Wasm32 => "wasm32",
        }
    }

    /// Whether every FFI of its target shares this type (it names no declaration).
    #[getter]
    fn _structural(&self) -> bool {
        self.ctype.is_structural()
    }

    /// `'primitive'`, `'pointer'`, `'array'`, `'struct'`, `'union'`, `'enum'`, `'function'` or `'void'`.
    #[getter]
    fn kind(&self) -> &'static str {
        kind_name(&self.ctype)
    }

    /// The C spelling of the type.
    #[getter]
    fn cname(&self) -> &str {
        self.ctype.cname()
    }

    /// The pointed-to type of a pointer, or the item type of an array.
    #[getter]
    fn item(&self, py: Python<'_>) -> PyResult<Py<PyCType>> {
        match &self.item {
            Some(item) => Ok(item.clone_ref(py)),
            None => Err(not_for_kind(&self.ctype, "item")),
        }
    }

    /// The length of an array type, `None` for `T[]`.
    #[getter]
    fn length(&self) -> PyResult<Option<u64>> {
        match self.ctype.kind() {
            CKind::Array { len, .. } => Ok(*len),
            _ => Err(not_for_kind(&self.ctype, "length")),
        }
    }

    /// `[(name, CField), ...]` of a struct or union, `None` while it is incomplete.
    #[getter]
    fn fields(&self, py: Python<'_>) -> PyResult<Option<Py<PyList>>> {
        if !matches!(self.ctype.kind(), CKind::Record(_)) {
            return Err(not_for_kind(&self.ctype, "fields"));
        }
        let Some((_, layout)) = self.record_layout() else {
            return Ok(None);
        };
        let items = layout
            .fields
            .iter()
            .map(|f| {
                PyTuple::new(
                    py,
                    [
                        f.name.clone().into_pyobject(py)?.into_any(),
                        field_object(py, f)?.into_bound(py).into_any(),
                    ],
                )
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Some(PyList::new(py, items)?.unbind()))
    }

    /// Parameter types of a function type.
    #[getter]
    fn args(&self, py: Python<'_>) -> PyResult<Py<PyTuple>> {
        match self.ctype.kind() {
            CKind::Function(f) => {
                let args = f
                    .params
                    .iter()
                    .map(|p| PyCType::wrap(py, p))
                    .collect::<PyResult<Vec<_>>>()?;
                Ok(PyTuple::new(py, args)?.unbind())
            }
            _ => Err(not_for_kind(&self.ctype, "args")),
        }
    }

    /// Return type of a function type.
    #[getter]
    fn result(&self, py: Python<'_>) -> PyResult<Py<PyCType>> {
        match self.ctype.kind() {
            CKind::Function(f) => PyCType::wrap(py, &f.ret),
            _ => Err(not_for_kind(&self.ctype, "result")),
        }
    }

    /// True for a variadic function type.
    #[getter]
    fn ellipsis(&self) -> PyResult<bool> {
        match self.ctype.kind() {
            CKind::Function(f) => Ok(f.variadic),
            _ => Err(not_for_kind(&self.ctype, "ellipsis")),
        }
    }

    /// The calling convention of a function type (always the default, 2 as in CFFI).
    #[getter]
    fn abi(&self) -> PyResult<i32> {
        match self.ctype.kind() {
            CKind::Function(_) => Ok(2),
            _ => Err(not_for_kind(&self.ctype, "abi")),
        }
    }

    /// `{value: name}` of an enum type.
    #[getter]
    fn elements<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let CKind::Enum(e) = self.ctype.kind() else {
            return Err(not_for_kind(&self.ctype, "elements"));
        };
        let dict = PyDict::new(py);
        for (name, value) in e.values.iter().rev() {
            dict.set_item(value, name)?;
        }
        Ok(dict)
    }

    /// `{name: value}` of an enum type.
    #[getter]
    fn relements<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let CKind::Enum(e) = self.ctype.kind() else {
            return Err(not_for_kind(&self.ctype, "relements"));
        };
        let dict = PyDict::new(py);
        for (name, value) in &e.values {
            dict.set_item(name, value)?;
        }
        Ok(dict)
    }

    fn __repr__(&self) -> String {
        format!("<ctype '{}'>", self.ctype.cname())
    }

    fn __dir__(&self) -> Vec<&'static str> {
        let mut names = vec!["kind", "cname"];
        names.extend_from_slice(match self.ctype.kind() {
            CKind::Pointer(_) => &["item"][..],
            CKind::Array { .. } => &["item", "length"],
            CKind::Record(_) => &["fields"],
            CKind::Function(_) => &["args", "result", "ellipsis", "abi"],
            CKind::Enum(_) => &["elements", "relements"],
            CKind::Void | CKind::Prim(..) => &[],
        });
        names
    }
}

#[pymethods]
impl PyCField {
    fn __repr__(&self) -> String {
        format!(
            "<CField type='{}' offset={}>",
            self.ty.get().ctype.cname(),
            self.offset
        )
    }
}
