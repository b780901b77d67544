//! The `lib` returned by `ffi.dlopen()`: the cdef's functions, globals and
//! constants, by name, found in a host library.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pyo3::exceptions::{PyAttributeError, PyNotImplementedError, PyValueError};
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;
use wasmcffi::backend::native::Library;
use wasmcffi::cdata::{self as core, Addr};
use wasmcffi::layout::{CKind, CType};
use wasmcffi::model::{ConstValue, Decl, Type, TypeId};

use crate::base::exceptions::{CoreResultExt, FFIError};
use crate::base::keep_alive::KeepAlive;
use crate::marshal::convert::to_value;
use crate::memory::context::FfiContext;
use crate::objects::cdata::PyCData;
use pyo3::{PyTraverseError, PyVisit};

/// A library object: C names only as attributes. Functions are looked up once
/// and kept in the instance dict; globals are read and written at each access.
#[pyclass(name = "Lib", module = "wasmcffi", frozen, dict, weakref)]
pub struct PyLib {
    ctx: Arc<FfiContext>,
    library: Arc<Library>,
    closed: AtomicBool,
    /// Opened by the `ffi` of an out-of-line ABI module (`set_source(name,
    /// None)`), which behaves as CFFI's compiled FFI object does: its errors are
    /// `ffi.error`, and a `const` global is read from the library as a value.
    out_of_line: bool,
    /// What [`PyLib::_keep_alive`] was given: the FFI that opened it.
    kept: KeepAlive,
}

/// What a lib attribute name refers to.
enum Item {
    Function(CType, Addr),
    Global {
        ty: CType,
        addr: Addr,
        is_const: bool,
    },
    Int(i128),
    /// A `const` global of an out-of-line lib: its value, not a variable.
    Constant {
        ty: CType,
        addr: Addr,
    },
}

impl PyLib {
    /// The lib of `ctx`'s declarations, in `library` (see [`PyLib::out_of_line`]).
    pub fn new(ctx: Arc<FfiContext>, library: Library, out_of_line: bool) -> Self {
        PyLib {
            ctx,
            library: Arc::new(library),
            closed: AtomicBool::new(false),
            out_of_line,
            kept: KeepAlive::default(),
        }
    }

    /// `ffi.dlclose(lib)`: the lib can no longer be used. The library itself is
    /// unloaded when the last function pointer taken from it is gone, so no
    /// cdata is ever left pointing at unmapped code.
    pub fn close(slf: &Bound<'_, Self>) -> PyResult<()> {
        slf.get().closed.store(true, Ordering::Release);
        // Forget the cached functions, so the next use of any name raises.
        slf.as_any().getattr("__dict__")?.call_method0("clear")?;
        Ok(())
    }

    fn check_open(&self) -> PyResult<()> {
        if !self.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        let name = self.library.name();
        Err(if self.out_of_line {
            FFIError::new_err(format!("library '{name}' has been closed"))
        } else {
            PyValueError::new_err(format!("library '{name}' has already been closed"))
        })
    }

    /// The address of `name` in the library; a missing one is `ffi.error` for an
    /// out-of-line lib, AttributeError otherwise (as CFFI's two lib kinds).
    fn symbol(&self, name: &str) -> PyResult<Addr> {
        self.library.symbol(name).map_err(|e| match e {
            wasmcffi::Error::Attribute(m) if self.out_of_line => FFIError::new_err(m),
            e => crate::base::exceptions::to_py_err(e),
        })
    }

    fn resolve_type(&self, id: TypeId) -> PyResult<CType> {
        self.ctx.resolve(id).py()
    }

    /// Finds `name` in the declarations and, when it is a symbol, in the library.
    fn item(&self, name: &str) -> PyResult<Item> {
        self.check_open()?;
        let decl = self.ctx.types().decls.lib_items.get(name).cloned();
        match decl {
            Some(Decl::Constant {
                value: ConstValue::Int(v),
                ty,
            }) => {
                let types = &self.ctx.types().decls.types;
                match types.get(ty) {
                    // An enumerator of `enum e { A, ... }`: only a compiler knows it.
                    Type::Enum(e) if types.enum_def(*e).partial => {
                        Err(crate::base::exceptions::VerificationMissing::new_err(
                            format!("enum {}", types.enum_def(*e).name),
                        ))
                    }
                    _ => Ok(Item::Int(v)),
                }
            }
            Some(Decl::Constant {
                value: ConstValue::Unknown | ConstValue::Disagrees { .. },
                ..
            }) => Err(PyNotImplementedError::new_err(format!(
                "non-integer constant '{name}' cannot be accessed from a dlopen() library"
            ))),
            Some(Decl::Function { ty }) => {
                let pointer = self.ctx.types().decls.types.intern(Type::Pointer(ty));
                let ty = self.resolve_type(pointer)?;
                Ok(Item::Function(ty, self.symbol(name)?))
            }
            Some(Decl::Global(g)) => {
                // CFFI's in-line ABI mode reads such a global as a constant,
                // which a dlopen() lib cannot provide.
                let constant = g.reads_as_constant(&self.ctx.types().decls.types);
                if constant && self.out_of_line {
                    let ty = self.resolve_type(g.ty)?;
                    return Ok(Item::Constant {
                        ty,
                        addr: self.symbol(name)?,
                    });
                }
                if constant {
                    return Err(PyNotImplementedError::new_err(format!(
                        "non-integer constant '{name}' cannot be accessed from a dlopen() library"
                    )));
                }
                let ty = self.resolve_type(g.ty)?;
                Ok(Item::Global {
                    addr: self.symbol(name)?,
                    ty,
                    is_const: g.is_const,
                })
            }
            Some(Decl::ExternPython { .. }) => Err(PyNotImplementedError::new_err(format!(
                "lib.{name}: extern \"Python\" functions need a compiled module (set_source)"
            ))),
            Some(Decl::Typedef(_)) | None => Err(PyAttributeError::new_err(name.to_owned())),
        }
    }

    /// A cdata that keeps this library loaded.
    fn cdata(&self, ty: CType, addr: Addr) -> PyCData {
        let mut cdata = PyCData::plain(&self.ctx, ty, addr);
        cdata.keep = Some(self.library.clone());
        cdata
    }

    /// `ffi.addressof(lib, name)`: a pointer to a global, or a function pointer.
    pub fn address_of(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        match self.item(name)? {
            Item::Function(ty, addr) => self.cdata(ty, addr).into_py_any(py),
            // As in CFFI, the "address" of an array global is the array itself.
            Item::Global { ty, addr, .. } if matches!(ty.kind(), CKind::Array { .. }) => {
                self.cdata(ty, addr).into_py_any(py)
            }
            Item::Global { ty, addr, .. } => {
                let pointer = self.ctx.pointer_to(&ty).py()?;
                self.cdata(pointer, addr).into_py_any(py)
            }
            Item::Int(_) | Item::Constant { .. } => Err(PyAttributeError::new_err(format!(
                "cannot take the address of the constant '{name}'"
            ))),
        }
    }
}

#[pymethods]
impl PyLib {
    fn __getattr__(slf: &Bound<'_, Self>, name: &str) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.get();
        match this.item(name)? {
            Item::Int(v) => v.into_py_any(py),
            Item::Function(ty, addr) => {
                let function = this.cdata(ty, addr).into_py_any(py)?;
                // Cached in the instance dict: the next lookup never reaches __getattr__.
                slf.as_any()
                    .getattr("__dict__")?
                    .set_item(name, function.clone_ref(py))?;
                Ok(function)
            }
            Item::Global { ty, addr, .. } | Item::Constant { ty, addr } => {
                this.cdata(ty, addr).global_value(py)
            }
        }
    }

    fn __setattr__(&self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        match self.item(name)? {
            Item::Global {
                ty,
                addr,
                is_const: false,
            } => {
                let value = to_value(value, self.ctx.target())?;
                core::write_init(&*self.ctx.mem, addr, &ty, &value).py()
            }
            Item::Global { is_const: true, .. } | Item::Constant { .. } => Err(
                PyAttributeError::new_err(format!("cannot write to the constant global '{name}'")),
            ),
            _ => Err(PyAttributeError::new_err(format!(
                "cannot set attribute '{name}': it is not a global variable"
            ))),
        }
    }

    fn __dir__(&self) -> Vec<String> {
        self.ctx.lib_names()
    }

    /// Keeps `obj` alive as long as this lib (the FFI that opened it, which
    /// keeps the lib alive in turn, as CFFI's do).
    fn _keep_alive(&self, obj: Py<PyAny>) {
        self.kept.push(obj);
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.kept.traverse(&visit)
    }

    fn __clear__(&self) {
        self.kept.clear();
    }

    fn __repr__(&self) -> String {
        format!("<Lib object for '{}'>", self.library.name())
    }
}
