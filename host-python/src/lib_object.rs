//! The `lib` returned by `ffi.dlopen(None)`: the cdef's constants by name.

use std::sync::Arc;

use pyo3::exceptions::{PyAttributeError, PyNotImplementedError};
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;
use wasmcffi::model::{ConstValue, Decl};

use crate::context::FfiContext;

/// A library object: C names only as attributes.
#[pyclass(name = "Lib", module = "wasmcffi", frozen)]
pub struct PyLib {
    ctx: Arc<FfiContext>,
    name: String,
}

impl PyLib {
    /// The lib of `ctx` loaded as `name`.
    pub fn new(ctx: Arc<FfiContext>, name: String) -> Self {
        PyLib { ctx, name }
    }
}

#[pymethods]
impl PyLib {
    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<PyObject> {
        let decl = self.ctx.types().decls.lib_items.get(name).cloned();
        match decl {
            Some(Decl::Constant { value: ConstValue::Int(v), .. }) => v.into_py_any(py),
            Some(Decl::Constant { value: ConstValue::Unknown, .. }) => Err(PyNotImplementedError::new_err(format!(
                "lib.{name}: the value of this constant comes from a compiled module or a library symbol, which dlopen() cannot read yet"
            ))),
            Some(Decl::Function { .. } | Decl::ExternPython { .. }) => Err(PyNotImplementedError::new_err(format!(
                "lib.{name}: calling C functions through ffi.dlopen() is not implemented yet (it needs the libffi call path)"
            ))),
            Some(Decl::Global(_)) => Err(PyNotImplementedError::new_err(format!(
                "lib.{name}: global variables of a dlopen()ed library are not implemented yet"
            ))),
            Some(Decl::Typedef(_)) | None => Err(PyAttributeError::new_err(name.to_owned())),
        }
    }

    fn __dir__(&self) -> Vec<String> {
        let types = self.ctx.types();
        types
            .decls
            .lib_items
            .iter()
            .filter(|(_, d)| !matches!(d, Decl::Typedef(_)))
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn __repr__(&self) -> String {
        format!("<Lib object for '{}'>", self.name)
    }
}
