//! `FFI`: the object users call `cdef`, `new`, `cast`, `typeof`, … on.
//!
//! The Python class `wasmcffi.FFI` subclasses this one to add the pure-Python
//! conveniences (`NULL`, `error`, `CData`, `CType`, `RTLD_*`, decorators).

use std::sync::{Arc, Mutex};

use pyo3::exceptions::{PyBufferError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use wasmcffi::backend::native::{errno, Library};
use wasmcffi::cdata::{self as core, HostMemory, NoMemory, Value};
use wasmcffi::cdecl::CdefOptions;
use wasmcffi::layout::{follow_path, CKind, CType, PathStep, PrimClass, Target};
use wasmcffi::model::{ConstValue, Decl, Type};

use crate::base::exceptions::type_name;
use crate::base::exceptions::CoreResultExt;
use crate::base::handles;
use crate::marshal::convert::{plain_to_py, string_to_py, to_value, to_value_for};
use crate::memory::allocation::Allocation;
use crate::memory::context::FfiContext;
use crate::objects::cdata::{cdata_arg, offset_addr, BufferSource, Flavor, PyCData};
use crate::objects::ctype::PyCType;
use crate::objects::ffi_object::PyFFI;
use crate::objects::sandbox::PySandbox;
use crate::protocols::buffer::ByteSource;
use crate::protocols::lib_object::PyLib;

/// What `ffi.new` allocates and writes (see `PyFFI::plan_new`).
struct NewPlan {
    /// The type asked for (`T *` or an array type).
    ty: CType,
    /// The type of the data: `T` for `T *`, the array type itself for an array.
    data_type: CType,
    init: Option<Value>,
    size: u64,
    align: u64,
    length: Option<u64>,
}

impl NewPlan {
    /// Writes the initializer (if any) into the block at `addr`.
    fn init_at(&self, ctx: &FfiContext, addr: wasmcffi::cdata::Addr) -> PyResult<()> {
        match &self.init {
            Some(value) => core::write_init(&*ctx.mem, addr, &self.data_type, value).py(),
            None => Ok(()),
        }
    }
}

/// The path of `ffi.offsetof` / `ffi.addressof`: field names and indexes.
fn path_steps(args: &Bound<'_, PyTuple>) -> PyResult<Vec<PathStep>> {
    let mut steps = Vec::new();
    for arg in args.iter() {
        if let Ok(name) = arg.cast::<PyString>() {
            steps.push(PathStep::Field(name.to_str()?.to_owned()));
        } else {
            steps.push(PathStep::Index(arg.extract()?));
        }
    }
    Ok(steps)
}

impl PyFFI {
    /// The type named by a str or given as a CType object.
    pub fn ctype_arg(&self, obj: &Bound<'_, PyAny>) -> PyResult<CType> {
        if let Ok(text) = obj.cast::<PyString>() {
            // A bad type string is `ffi.error` to CFFI's compiled FFI, and a
            // CDefError (or ValueError) to its `cffi.FFI`: both here.
            let ty = self.ctx.parse_ctype(text.to_str()?).map_err(|err| {
                use crate::base::exceptions::{ffi_cdef_error, ffi_value_error, raise};
                match err {
                    wasmcffi::Error::CDef(m) => raise(ffi_cdef_error(obj.py()), m),
                    wasmcffi::Error::Value(m) => raise(ffi_value_error(obj.py()), m),
                    err => crate::base::exceptions::to_py_err(err),
                }
            })?;
            if let CKind::Enum(e) = ty.kind() {
                if e.values.is_empty() {
                    // `enum foo;`: as CFFI, say what it is taken to be.
                    let message = format!(
                        "'{}' has no values explicitly defined; guessing that it is \
                         equivalent to 'unsigned int'",
                        ty.cname()
                    );
                    let category = obj.py().get_type::<pyo3::exceptions::PyUserWarning>();
                    PyErr::warn(obj.py(), &category, &std::ffi::CString::new(message)?, 1)?;
                }
            }
            return Ok(ty);
        }
        if let Ok(t) = obj.cast::<PyCType>() {
            return self.ctx.localize(&t.get().ctype).py();
        }
        Err(PyTypeError::new_err(format!(
            "expected a cdecl string or a ctype object, got {}",
            type_name(obj)
        )))
    }

    /// What `ffi.new(cdecl, init)` makes: its type, the block's size and
    /// alignment, the converted initializer and the length of an open array.
    fn plan_new(
        &self,
        cdecl: &Bound<'_, PyAny>,
        init: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<NewPlan> {
        let ty = self.ctype_arg(cdecl)?;
        let (data_type, item) = match ty.kind() {
            CKind::Pointer(item) => (item.clone(), item.clone()),
            CKind::Array { item, .. } => (ty.clone(), item.clone()),
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "expected a pointer or array ctype, got '{}'",
                    ty.cname()
                )))
            }
        };
        let init = match init {
            Some(obj) if !obj.is_none() => Some(to_value_for(obj, &data_type, self.ctx.target())?),
            _ => None,
        };
        if item.size().is_none() {
            // A record that failed to lay out says why when resolved by itself.
            if let (CKind::Record(_), Err(err)) = (item.kind(), self.ctx.parse_ctype(item.cname()))
            {
                return Err(err).py();
            }
            return Err(Self::unknown_size(cdecl.py(), &item));
        }
        let var_size = match &init {
            Some(value) => core::var_size(&data_type, value).py()?,
            None => None,
        };
        let size = match (var_size, data_type.size()) {
            (Some(size), _) | (None, Some(size)) => size,
            (None, None) => {
                return Err(PyTypeError::new_err(format!(
                    "expected new array length or list/tuple/str, not {}",
                    init.as_ref().map_or("NoneType", Value::type_name)
                )))
            }
        };
        // The item count of `T[]`, or the full byte size of a variable-size struct.
        let length = match (ty.kind(), &init) {
            (CKind::Array { len: None, .. }, Some(value)) => {
                core::open_length(&data_type, value).py()?
            }
            (CKind::Pointer(_), _) => var_size,
            _ => None,
        };
        Ok(NewPlan {
            align: item.align().unwrap_or(1),
            ty,
            data_type,
            init,
            size,
            length,
        })
    }

    /// The owning cdata of `ffi.new` made by `new` in `block`, initialized.
    fn new_in(&self, py: Python<'_>, new: NewPlan, block: Arc<Allocation>) -> PyResult<Py<PyAny>> {
        new.init_at(&self.ctx, block.addr())?;
        PyCData::plain(&self.ctx, new.ty, block.addr())
            .with_length(new.length)
            .with_owner(Some(block))
            .with_flavor(Flavor::Owning)
            .into_py_any(py)
    }

    /// `ffi.new` of `ty` whose size is unknown: VerificationMissing for a `...;`
    /// record not completed yet, `ffi.error` for one the compiler contradicted,
    /// else TypeError (and `ffi.error`).
    fn unknown_size(py: Python<'_>, ty: &CType) -> PyErr {
        if let CKind::Record(r) = ty.kind() {
            if let Some(err) = r.unusable(ty.cname()) {
                return crate::base::exceptions::to_py_err(err);
            }
        }
        crate::base::exceptions::raise(
            crate::base::exceptions::ffi_type_error(py),
            format!("cannot instantiate ctype '{}' of unknown size", ty.cname()),
        )
    }

    /// A Python object for a value returned by the core, turning cdata views into `CData`.
    fn value_to_py(&self, py: Python<'_>, value: Value, keep: &PyCData) -> PyResult<Py<PyAny>> {
        match value {
            Value::CData { ty, addr } if matches!(ty.kind(), CKind::Prim(..) | CKind::Enum(_)) => {
                let mut bytes = vec![0u8; ty.size().unwrap_or(0) as usize];
                self.ctx.mem.read(addr, &mut bytes).py()?;
                PyCData::value(&self.ctx, ty, &bytes)?.into_py_any(py)
            }
            Value::CData { ty, addr } => PyCData::plain(&self.ctx, ty, addr)
                .with_owner(keep.owner.clone())
                .into_py_any(py),
            Value::List(items) => {
                let items = items
                    .into_iter()
                    .map(|v| self.value_to_py(py, v, keep))
                    .collect::<PyResult<Vec<_>>>()?;
                PyList::new(py, items)?.into_py_any(py)
            }
            other => Ok(plain_to_py(py, &other)?.unbind()),
        }
    }
}

#[pymethods]
impl PyFFI {
    /// An FFI with no declarations: for host code (`dlopen`, `target="native"`)
    /// by default; for wasm32 code with `_target="wasm32"`, whose cdata live in
    /// `_sandbox`'s memory (or nowhere: a types-only FFI, for checking a build).
    #[new]
    #[pyo3(signature = (*_args, _target = None, _sandbox = None, _template = None, **_kwargs))]
    fn construct(
        _args: &Bound<'_, PyTuple>,
        _target: Option<&str>,
        _sandbox: Option<&Bound<'_, PySandbox>>,
        _template: Option<&Bound<'_, PyFFI>>,
        _kwargs: Option<&Bound<'_, pyo3::types::PyDict>>,
    ) -> PyResult<Self> {
        let (mem, sandbox): (crate::memory::allocation::SharedMemory, _) = match (_target, _sandbox)
        {
            (None | Some("host"), None) => (Arc::new(HostMemory), None),
            (Some("wasm32"), Some(sandbox)) => {
                let sandbox = sandbox.get().sandbox.clone();
                (Arc::new(sandbox.live_memory()), Some(sandbox))
            }
            (Some("wasm32"), None) => (Arc::new(NoMemory(Target::Wasm32)), None),
            (target, _) => return Err(PyValueError::new_err(format!("bad FFI target {target:?}"))),
        };
        let ctx = match _template {
            Some(template) => FfiContext::forked(mem, sandbox, &template.get().ctx),
            None => FfiContext::with_sandbox(mem, sandbox),
        };
        Ok(PyFFI { ctx })
    }

    /// The glue C of a `set_source()` module built from this FFI's declarations.
    fn _glue(&self) -> PyResult<String> {
        Ok(wasmcffi::build::generate(&self.ctx.types().decls)
            .py()?
            .c_source)
    }

    /// Completes the declarations with the compiler's measurements (the glue's
    /// layout table), checking exact structs against them.
    fn _complete(&self, table: Vec<u64>) -> PyResult<()> {
        self.ctx.complete(&table).py()
    }

    /// The names of the declarations only a C compiler can complete (`...`
    /// structs, enums and constants, `typedef int...`, `[...]` lengths): what
    /// an out-of-line ABI-mode module, built with no compiler, cannot have.
    fn _partial_items(&self) -> PyResult<Vec<String>> {
        use wasmcffi::build::{ArrayTarget, Question};
        let plan = wasmcffi::build::plan(&self.ctx.types().decls).py()?;
        let names = plan.questions.into_iter().filter_map(|q| match q {
            Question::Record {
                c_type,
                partial: true,
                ..
            } => Some(c_type),
            Question::Record { partial: false, .. }
            | Question::GlobalSize { .. }
            | Question::EnumRepr { .. }
            | Question::IntConst {
                expected: Some(_), ..
            }
            | Question::Enumerator {
                declared: Some(_), ..
            } => None,
            Question::IntConst {
                name,
                expected: None,
            }
            | Question::Enumerator {
                name,
                declared: None,
                ..
            }
            | Question::IntTypedef { name, .. }
            | Question::FloatTypedef { name, .. } => Some(name),
            Question::ArrayLens { target, .. } => Some(match target {
                ArrayTarget::Global(name) | ArrayTarget::Typedef(name) => name,
                ArrayTarget::Field { c_type, name, .. } => format!("{c_type}.{name}"),
            }),
        });
        Ok(names.collect())
    }

    /// What `lib` declares, without reading it (a global's accessor may run C):
    /// `(name, kind, ctype)` for each name, `kind` being "function" (also
    /// `extern "Python"`), "global" or "constant". A type that cannot be
    /// resolved (an opaque global, a refused type) gives no ctype.
    fn _lib_declarations(&self, py: Python<'_>) -> PyResult<Vec<LibDeclaration>> {
        let items: Vec<(String, &'static str, _)> = {
            let mut types = self.ctx.types();
            let decls = &mut types.decls;
            let mut items = Vec::new();
            for (name, decl) in &decls.lib_items {
                let (kind, ty) = match decl {
                    // As `ffi.typeof(lib.f)`: the function-pointer type.
                    Decl::Function { ty } | Decl::ExternPython { ty, .. } => {
                        ("function", decls.types.intern(Type::Pointer(*ty)))
                    }
                    Decl::Global(global) => ("global", global.ty),
                    Decl::Constant { ty, .. } => ("constant", *ty),
                    Decl::Typedef(_) => continue,
                };
                items.push((name.clone(), kind, ty));
            }
            items
        };
        items
            .into_iter()
            .map(|(name, kind, ty)| {
                let ctype = match self.ctx.resolve(ty) {
                    Ok(ctype) => Some(PyCType::wrap(py, &ctype)?),
                    Err(_) => None,
                };
                Ok((name, kind, ctype))
            })
            .collect()
    }

    /// What the compiler contradicted in this FFI's exact declarations, which
    /// `verify()` refuses (see `Declarations::contradicted`).
    fn _contradictions(&self) -> Vec<String> {
        self.ctx.types().decls.contradicted.clone()
    }

    /// The value of the integer constant `name`: a `#define`, an integer
    /// `static const` or an enumerator.
    fn integer_const(&self, name: &str) -> PyResult<i128> {
        match self.ctx.types().decls.lib_items.get(name) {
            Some(Decl::Constant {
                value: ConstValue::Int(value),
                ..
            }) => Ok(*value),
            _ => Err(pyo3::exceptions::PyAttributeError::new_err(format!(
                "integer constant '{name}' not found"
            ))),
        }
    }

    /// Declares C types, functions, constants and globals; `included_from`
    /// names the compiled module that provides them (see `include`).
    #[pyo3(signature = (csource, r#override = false, packed = false, pack = None, included_from = None))]
    fn cdef(
        &self,
        csource: &str,
        r#override: bool,
        packed: bool,
        pack: Option<u64>,
        included_from: Option<&str>,
    ) -> PyResult<()> {
        if let Some(n) = pack {
            if !n.is_power_of_two() {
                return Err(PyValueError::new_err(format!(
                    "'pack' must be a power of two, not {n}"
                )));
            }
        }
        self.ctx
            .cdef(
                csource,
                &CdefOptions {
                    packed,
                    pack,
                    override_names: r#override,
                },
                included_from,
            )
            .py()
    }

    /// The ctype of a cdecl string, or of a cdata.
    #[pyo3(name = "typeof")]
    fn type_of(&self, py: Python<'_>, cdecl: &Bound<'_, PyAny>) -> PyResult<Py<PyCType>> {
        if let Ok(cdata) = cdecl.cast::<PyCData>() {
            return PyCType::wrap(py, &cdata.get().ctype);
        }
        if let Some(function) = crate::protocols::module_lib::module_function_of(cdecl) {
            // `lib.f` of a compiled module: its function-pointer type, as in CFFI.
            return PyCType::wrap(py, function.get().signature());
        }
        if cdecl.cast::<PyString>().is_err() && cdecl.cast::<PyCType>().is_err() {
            return Err(PyTypeError::new_err(cdecl.get_type().str()?.to_string()));
        }
        let ty = self.ctype_arg(cdecl)?;
        PyCType::wrap(py, &ty)
    }

    /// Size in bytes of a type or of a cdata's data.
    fn sizeof(&self, cdecl: &Bound<'_, PyAny>) -> PyResult<u64> {
        let ty = match cdecl.cast::<PyCData>() {
            Ok(cdata) => {
                let cdata = cdata.get();
                if let Some(size) = cdata.data_size() {
                    return Ok(size);
                }
                cdata.ctype.clone()
            }
            Err(_) => self.ctype_arg(cdecl)?,
        };
        match ty.sizeof() {
            // `ffi.error` as CFFI's compiled FFI, ValueError as its `cffi.FFI`.
            Err(wasmcffi::Error::Value(message)) => Err(crate::base::exceptions::raise(
                crate::base::exceptions::ffi_value_error(cdecl.py()),
                message,
            )),
            other => other.py(),
        }
    }

    /// Alignment in bytes of a type.
    fn alignof(&self, cdecl: &Bound<'_, PyAny>) -> PyResult<u64> {
        let ty = match cdecl.cast::<PyCData>() {
            Ok(cdata) => cdata.get().ctype.clone(),
            Err(_) => self.ctype_arg(cdecl)?,
        };
        ty.align().ok_or_else(|| {
            PyValueError::new_err(format!("ctype '{}' is of unknown alignment", ty.cname()))
        })
    }

    /// Byte offset of a (nested) field or array item: `offsetof("struct s", "a.b", 3)`.
    #[pyo3(signature = (cdecl, *fields_or_indexes))]
    fn offsetof(
        &self,
        cdecl: &Bound<'_, PyAny>,
        fields_or_indexes: &Bound<'_, PyTuple>,
    ) -> PyResult<u64> {
        let ty = self.ctype_arg(cdecl)?;
        Ok(follow_path(&ty, &path_steps(fields_or_indexes)?, true)
            .py()?
            .1)
    }

    /// A pointer to a struct, array, or one of their (nested) fields or items.
    #[pyo3(signature = (cdata, *fields_or_indexes))]
    fn addressof(
        &self,
        py: Python<'_>,
        cdata: &Bound<'_, PyAny>,
        fields_or_indexes: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<PyAny>> {
        if let Ok(lib) = cdata.cast::<PyLib>() {
            let name: String = fields_or_indexes.get_item(0)?.extract()?;
            return lib.get().address_of(py, &name);
        }
        if let Ok(lib) = cdata.cast::<crate::protocols::module_lib::PyModuleLib>() {
            let name: String = fields_or_indexes.get_item(0)?.extract()?;
            return crate::protocols::module_lib::PyModuleLib::address_of_item(lib, &name);
        }
        let cdata = cdata_arg(cdata, "addressof()")?.get();
        let steps = path_steps(fields_or_indexes)?;
        match cdata.ctype.kind() {
            CKind::Record(_) | CKind::Array { .. } => {}
            CKind::Pointer(_) if !steps.is_empty() => {}
            CKind::Pointer(_) => return Err(PyTypeError::new_err("addressof(pointer)")),
            _ => {
                return Err(PyTypeError::new_err(
                    "expected a cdata struct/union/array/pointer object",
                ))
            }
        }
        let (ty, offset) = follow_path(&cdata.ctype, &steps, true).py()?;
        let pointer = self.ctx.pointer_to(&ty).py()?;
        let addr = offset_addr(cdata.addr, offset as i64, 1)?;
        PyCData::plain(&self.ctx, pointer, addr)
            .with_owner(cdata.owner.clone())
            .into_py_any(py)
    }

    /// Allocates a zeroed `T` (for `"T *"`) or array (for `"T[N]"` / `"T[]"`), then
    /// applies `init`. The result owns the memory.
    #[pyo3(name = "new", signature = (cdecl, init = None))]
    fn new_cdata(
        &self,
        py: Python<'_>,
        cdecl: &Bound<'_, PyAny>,
        init: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let new = self.plan_new(cdecl, init)?;
        let block = Allocation::new(&self.ctx.mem, new.size, new.align)?;
        self.new_in(py, new, block)
    }

    /// `ffi.new_allocator(alloc, free, should_clear_after_alloc)(cdecl, init)`:
    /// as `new`, with the memory from `alloc(size)` (a cdata pointer; without
    /// `alloc`, this FFI's own allocator), given to `free(that pointer)` when
    /// the result dies or is released, and zeroed first if `clear`.
    #[pyo3(signature = (cdecl, init, alloc, free, clear))]
    fn _new_allocated(
        &self,
        py: Python<'_>,
        cdecl: &Bound<'_, PyAny>,
        init: Option<&Bound<'_, PyAny>>,
        alloc: Option<&Bound<'_, PyAny>>,
        free: Option<&Bound<'_, PyAny>>,
        clear: bool,
    ) -> PyResult<Py<PyAny>> {
        let new = self.plan_new(cdecl, init)?;
        let Some(alloc) = alloc else {
            // This FFI's allocator, without zeroing where the memory can skip it.
            let block = if clear {
                Allocation::new(&self.ctx.mem, new.size, new.align)?
            } else {
                Allocation::for_overwrite(&self.ctx.mem, new.size, new.align)?
            };
            return self.new_in(py, new, block);
        };
        let raw = alloc.call1((new.size,))?;
        let Ok(raw_cdata) = raw.cast::<PyCData>() else {
            return Err(PyTypeError::new_err(format!(
                "alloc() must return a cdata object (got {})",
                type_name(&raw)
            )));
        };
        let raw_cdata = raw_cdata.get();
        if !matches!(
            raw_cdata.ctype.kind(),
            CKind::Pointer(_) | CKind::Array { .. }
        ) {
            return Err(PyTypeError::new_err(format!(
                "alloc() must return a cdata pointer, not '{}'",
                raw_cdata.ctype.cname()
            )));
        }
        if !Arc::ptr_eq(&raw_cdata.ctx.mem, &self.ctx.mem) && self.ctx.target() != Target::Host {
            return Err(PyTypeError::new_err(
                "alloc() must return memory of this ffi's sandbox",
            ));
        }
        if raw_cdata.addr == 0 {
            return Err(pyo3::exceptions::PyMemoryError::new_err(
                "alloc() returned NULL",
            ));
        }
        let addr = raw_cdata.addr;
        if clear {
            let size =
                usize::try_from(new.size).map_err(|_| PyValueError::new_err("size too large"))?;
            self.ctx.mem.write(addr, &vec![0u8; size]).py()?;
        }
        new.init_at(&self.ctx, addr)?;
        let result = PyCData::plain(&self.ctx, new.ty, addr)
            .with_length(new.length)
            .with_owner(raw_cdata.owner.clone());
        match free {
            // `free(raw)` once, at death or release; until then `raw` stays alive.
            Some(free) => result.with_flavor(Flavor::Gc(Box::new(Mutex::new(Some((
                free.clone().unbind(),
                raw.clone().unbind(),
            )))))),
            // Nothing to call: keeping what `raw` owns is all there is to do.
            None => result,
        }
        .into_py_any(py)
    }

    /// A C cast of a number, char or cdata to a primitive or pointer type.
    fn cast(
        &self,
        py: Python<'_>,
        cdecl: &Bound<'_, PyAny>,
        source: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let ty = self.ctype_arg(cdecl)?;
        let bytes = match source.cast::<PyCData>() {
            // A primitive cdata is cast from its bytes (a wide char of no code
            // point, -1, is still an integer), read where its value box is.
            Ok(cdata) if matches!(cdata.get().ctype.kind(), CKind::Prim(..) | CKind::Enum(_)) => {
                let cdata = cdata.get();
                cdata.check_target(self.ctx.target())?;
                let value = Value::CData {
                    ty: cdata.ctype.clone(),
                    addr: cdata.addr,
                };
                core::cast_value(&ty, &value, cdata.data_memory()).py()?
            }
            _ => {
                let to_bool = matches!(ty.kind(), CKind::Prim(_, l) if l.class == PrimClass::Bool);
                let integral = ty.is_pointer_like()
                    || matches!(ty.kind(), CKind::Enum(_))
                    || matches!(ty.kind(), CKind::Prim(_, l) if !matches!(l.class,
                        PrimClass::Float | PrimClass::LongDouble | PrimClass::Complex));
                let mut value = to_value(source, self.ctx.target())?;
                let mut source = source.clone();
                if integral && matches!(value, Value::Other(_)) && source.hasattr("__int__")? {
                    // As CFFI: an object with `__int__` casts to an integer type.
                    source = source.call_method0("__int__")?;
                    value = to_value(&source, self.ctx.target())?;
                }
                let value = match value {
                    // A huge integer is non-zero: a true `_Bool`.
                    Value::HugeInt(_) if to_bool => Value::Int(1),
                    // Only the low bits of a huge integer matter to another C cast.
                    Value::HugeInt(_) => {
                        let low = source
                            .call_method1("__and__", (u128::MAX,))?
                            .extract::<u128>()?;
                        Value::Int(low as i128)
                    }
                    value => value,
                };
                core::cast_value(&ty, &value, &*self.ctx.mem).py()?
            }
        };
        if ty.is_pointer_like() || matches!(ty.kind(), CKind::Array { .. }) {
            let mut raw = [0u8; 8];
            raw[..bytes.len().min(8)].copy_from_slice(&bytes[..bytes.len().min(8)]);
            let owner = source
                .cast::<PyCData>()
                .ok()
                .and_then(|c| c.get().owner.clone());
            return PyCData::plain(&self.ctx, ty, u64::from_le_bytes(raw))
                .with_owner(owner)
                .into_py_any(py);
        }
        PyCData::value(&self.ctx, ty, &bytes)?.into_py_any(py)
    }

    /// The bytes (or str) a `char *` / `wchar_t *` / array designates, or an enum's name.
    #[pyo3(signature = (cdata, maxlen = -1))]
    fn string(&self, py: Python<'_>, cdata: &Bound<'_, PyAny>, maxlen: i64) -> PyResult<Py<PyAny>> {
        let cdata = cdata_arg(cdata, "string()")?.get();
        cdata.check_alive()?;
        let mut limit = u64::try_from(maxlen).ok();
        if let Some(n) = cdata.array_len() {
            limit = Some(limit.map_or(n, |l| l.min(n)));
        }
        // A `T *` that ffi.new made holds one T: reading stops at its end.
        if matches!(cdata.flavor, Flavor::Owning) && matches!(cdata.ctype.kind(), CKind::Pointer(_))
        {
            limit = Some(limit.map_or(1, |l| l.min(1)));
        }
        let res = core::string(cdata.data_memory(), &cdata.ctype, cdata.addr, limit).py()?;
        Ok(string_to_py(py, &res)?.unbind())
    }

    /// `length` items from a pointer or array: bytes, str, or a list.
    fn unpack(&self, py: Python<'_>, cdata: &Bound<'_, PyAny>, length: i64) -> PyResult<Py<PyAny>> {
        let cdata = cdata_arg(cdata, "unpack()")?.get();
        cdata.check_alive()?;
        let item = match cdata.ctype.kind() {
            CKind::Pointer(item) | CKind::Array { item, .. } => item.clone(),
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "expected a pointer or array, got '{}'",
                    cdata.ctype.cname()
                )))
            }
        };
        let length =
            u64::try_from(length).map_err(|_| PyValueError::new_err("negative array length"))?;
        if let Some(n) = cdata.array_len() {
            if length > n {
                return Err(pyo3::exceptions::PyIndexError::new_err(format!(
                    "index too large (expected {length} <= {n})"
                )));
            }
        }
        let value = core::unpack(&*self.ctx.mem, &item, cdata.addr, length).py()?;
        self.value_to_py(py, value, cdata)
    }

    /// A cdata over a Python buffer's memory (`ffi.from_buffer([cdecl,] obj, require_writable=False)`).
    #[pyo3(signature = (cdecl, python_buffer = None, require_writable = false))]
    #[allow(clippy::wrong_self_convention, reason = "CFFI's method name")]
    fn from_buffer(
        &self,
        py: Python<'_>,
        cdecl: &Bound<'_, PyAny>,
        python_buffer: Option<&Bound<'_, PyAny>>,
        require_writable: bool,
    ) -> PyResult<Py<PyAny>> {
        let (ty, obj) = match python_buffer {
            Some(obj) => (self.ctype_arg(cdecl)?, obj.clone()),
            None => (self.ctx.parse_ctype("char[]").py()?, cdecl.clone()),
        };
        let buf = crate::protocols::buffer::byte_buffer(&obj)?;
        if require_writable && buf.readonly() {
            return Err(PyBufferError::new_err("Object is not writable."));
        }
        let nbytes = buf.len_bytes() as u64;
        // A sandbox never sees host memory: it gets a copy, kept in step with the
        // object (see `Flavor::FromBuffer`).
        let mirror = self.ctx.target() != Target::Host;
        let (addr, owner) = if mirror {
            let block = Allocation::new(&self.ctx.mem, nbytes.max(1), 16)?;
            self.ctx.mem.write(block.addr(), &buf.to_vec(py)?).py()?;
            (block.addr(), Some(block))
        } else {
            (buf.buf_ptr() as usize as u64, None)
        };
        let length = match ty.kind() {
            CKind::Array { item, len } => {
                let item_size = item
                    .size()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| Self::unknown_size(py, item))?;
                match len {
                    Some(n) if n * item_size > nbytes => {
                        return Err(PyValueError::new_err(format!(
                            "buffer is too small ({nbytes} bytes) for '{}' ({} bytes)",
                            ty.cname(),
                            n * item_size
                        )))
                    }
                    Some(_) => None,
                    None => Some(nbytes / item_size),
                }
            }
            CKind::Pointer(_) => None,
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "expected a pointer or array ctype, got '{}'",
                    ty.cname()
                )))
            }
        };
        let flavor = Flavor::FromBuffer(Box::new(BufferSource {
            type_name: type_name(&obj),
            buffer: Mutex::new(Some(buf)),
            mirror,
        }));
        PyCData::plain(&self.ctx, ty, addr)
            .with_owner(owner)
            .with_length(length)
            .with_flavor(flavor)
            .into_py_any(py)
    }

    /// Copies `n` bytes between cdata and/or Python buffers (`memmove`).
    fn memmove(
        &self,
        py: Python<'_>,
        dest: &Bound<'_, PyAny>,
        src: &Bound<'_, PyAny>,
        n: u64,
    ) -> PyResult<()> {
        let len = usize::try_from(n)
            .map_err(|_| PyValueError::new_err(format!("cannot copy {n} bytes")))?;
        let source = match src.cast::<PyCData>() {
            Ok(src) => {
                let src = src.get();
                src.check_alive()?;
                // A sandboxed `from_buffer` cdata: its guest copy as the object is now.
                src.refresh_mirror(py)?;
                CopySource::Memory(Arc::clone(&src.ctx.mem), src.pointed_data()?.0)
            }
            Err(_) => CopySource::Python(ByteSource::of(src)?),
        };
        if let CopySource::Python(bytes) = &source {
            if bytes.len() < len {
                return Err(PyValueError::new_err(format!(
                    "buffer of {} bytes is too small to copy {n} bytes",
                    bytes.len()
                )));
            }
        }
        if let Ok(dest) = dest.cast::<PyCData>() {
            let dest = dest.get();
            dest.check_alive()?;
            let (addr, _) = dest.pointed_data()?;
            let mem = &*dest.ctx.mem;
            dest.refresh_mirror(py)?;
            match source {
                CopySource::Memory(src_mem, src_addr) if Arc::ptr_eq(&src_mem, &dest.ctx.mem) => {
                    mem.copy(addr, src_addr, n).py()?
                }
                CopySource::Memory(src_mem, src_addr) => {
                    mem.write(addr, &src_mem.read_vec(src_addr, n).py()?).py()?
                }
                CopySource::Python(bytes) => bytes.write_to(py, mem, addr, len)?,
            };
            // Into a sandboxed `from_buffer` cdata: the object sees the bytes at once.
            return dest.write_back_mirror(py);
        }
        // Into a Python object: straight into its storage when it is a plain
        // writable buffer, otherwise through a memoryview slice assignment.
        let data = match source {
            CopySource::Memory(src_mem, src_addr) => {
                if crate::protocols::buffer::read_into(py, &*src_mem, src_addr, len, dest)? {
                    return Ok(());
                }
                PyBytes::new(py, &src_mem.read_vec(src_addr, n).py()?)
            }
            CopySource::Python(bytes) => PyBytes::new_with(py, len, |out| {
                bytes.copy_into(py, out);
                Ok(())
            })?,
        };
        let view = py
            .import("builtins")?
            .getattr("memoryview")?
            .call1((dest,))?
            .call_method1("cast", ("B",))?;
        if view.getattr("readonly")?.is_truthy()? {
            return Err(PyBufferError::new_err("Object is not writable."));
        }
        let slice = pyo3::types::PySlice::new(py, 0, n as isize, 1);
        view.set_item(slice, data)
    }

    /// A copy of `cdata` that calls `destructor(cdata)` when it dies (or
    /// `ffi.release`); with `destructor=None`, removes the destructor of an
    /// `ffi.gc()` result (and returns None).
    #[pyo3(signature = (cdata, destructor, size = 0))]
    fn gc(
        &self,
        py: Python<'_>,
        cdata: &Bound<'_, PyAny>,
        destructor: &Bound<'_, PyAny>,
        size: u64,
    ) -> PyResult<Py<PyAny>> {
        let _ = size;
        let bound = cdata_arg(cdata, "gc()")?;
        let this = bound.get();
        if destructor.is_none() {
            // As CFFI: only removes the destructor of an `ffi.gc()` result.
            let Flavor::Gc(pending) = &this.flavor else {
                return Err(PyTypeError::new_err(
                    "Can remove destructor only on a object previously returned by ffi.gc()",
                ));
            };
            pending.lock().unwrap_or_else(|p| p.into_inner()).take();
            return Ok(py.None());
        }
        let pending = Mutex::new(Some((
            destructor.clone().unbind(),
            bound.clone().into_any().unbind(),
        )));
        PyCData::plain(&this.ctx, this.ctype.clone(), this.addr)
            .with_length(this.length)
            .with_owner(this.owner.clone())
            .with_flavor(Flavor::Gc(Box::new(pending)))
            .into_py_any(py)
    }

    /// Frees what a cdata from `new`, `gc` or `from_buffer` holds, now.
    fn release(&self, py: Python<'_>, cdata: &Bound<'_, PyAny>) -> PyResult<()> {
        cdata_arg(cdata, "release()")?.get().release(py)
    }

    /// A `void *` cdata standing for a Python object, for C `void *userdata`.
    fn new_handle(&self, py: Python<'_>, obj: Py<PyAny>) -> PyResult<Py<PyAny>> {
        let key = handles::insert(obj);
        let ty = self.ctx.parse_ctype("void *").py()?;
        PyCData::plain(&self.ctx, ty, key)
            .with_flavor(Flavor::Handle(key))
            .into_py_any(py)
    }

    /// The object behind a handle made by `new_handle`.
    #[allow(clippy::wrong_self_convention, reason = "CFFI's method name")]
    fn from_handle(&self, py: Python<'_>, cdata: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let cdata = cdata_arg(cdata, "from_handle()")?.get();
        if !cdata.is_pointer_like() {
            return Err(PyTypeError::new_err(format!(
                "expected a 'cdata' object with a 'void *' out of new_handle(), got '{}'",
                cdata.ctype.cname()
            )));
        }
        if cdata.addr == 0 {
            return Err(PyRuntimeError::new_err(
                "cannot use from_handle() on NULL pointer",
            ));
        }
        handles::get(py, cdata.addr).ok_or_else(|| {
            PyRuntimeError::new_err(
                "from_handle(): this pointer is not a live handle made by new_handle()",
            )
        })
    }

    /// The C spelling of a type, with `replace_with` as the declarator.
    #[pyo3(signature = (cdecl, replace_with = ""))]
    fn getctype(&self, cdecl: &Bound<'_, PyAny>, replace_with: &str) -> PyResult<String> {
        let ty = self.ctype_arg(cdecl)?;
        let marked = self
            .ctx
            .types()
            .decls
            .types
            .c_name_marked(ty.data().model_id);
        let replace = replace_with.trim();
        let replace = if replace.starts_with('*') && marked.contains("&[") {
            format!("({replace})")
        } else if !replace.is_empty() && !replace.starts_with(['[', '(']) {
            format!(" {replace}")
        } else {
            replace.to_owned()
        };
        Ok(marked.replace('&', &replace))
    }

    /// `(typedef names, struct names, union names)`, each sorted.
    fn list_types(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let types = self.ctx.types();
        let decls = &types.decls;
        (
            decls.typedefs.keys().cloned().collect(),
            decls.struct_tags.keys().cloned().collect(),
            decls.union_tags.keys().cloned().collect(),
        )
    }

    /// Loads a host library (`None`: the running program and the C library);
    /// `out_of_line` for the `ffi` of an out-of-line ABI module (see `PyLib`).
    #[pyo3(signature = (name, flags = 0, out_of_line = false))]
    fn dlopen(
        &self,
        py: Python<'_>,
        name: Option<&str>,
        flags: i32,
        out_of_line: bool,
    ) -> PyResult<Py<PyAny>> {
        if self.ctx.target() != Target::Host {
            return Err(PyTypeError::new_err(
                "ffi.dlopen() loads host libraries: use an FFI() of the host target",
            ));
        }
        let library = py.detach(|| Library::open(name, flags)).py()?;
        PyLib::new(self.ctx.clone(), library, out_of_line).into_py_any(py)
    }

    /// Closes a library from `dlopen`: its lib can no longer be used.
    fn dlclose(&self, lib: &Bound<'_, PyLib>) -> PyResult<()> {
        PyLib::close(lib)
    }

    /// `ffi.callback(cdecl, python_callable, error, onerror)` (the decorator form
    /// is added by the Python class).
    #[pyo3(signature = (cdecl, python_callable, error = None, onerror = None))]
    fn _callback(
        &self,
        py: Python<'_>,
        cdecl: &Bound<'_, PyAny>,
        python_callable: &Bound<'_, PyAny>,
        error: Option<&Bound<'_, PyAny>>,
        onerror: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let fptr = match cdecl.cast::<PyString>() {
            Ok(text) => self.ctx.parse_function_pointer(text.to_str()?).py()?,
            Err(_) => self.ctype_arg(cdecl)?,
        };
        crate::calls::call::make_callback(py, &self.ctx, fptr, python_callable, error, onerror)
    }

    /// The `errno` of this thread's last C call, passed to its next one.
    #[getter]
    fn get_errno(&self) -> i32 {
        errno::saved()
    }

    #[setter]
    fn set_errno(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value: i32 = value
            .extract()
            .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("errno value too large"))?;
        errno::set_saved(value);
        Ok(())
    }

    /// Adds every declaration of another FFI to this one; `module`: the
    /// compiled module whose `lib` provides `other`'s functions and globals.
    #[pyo3(signature = (other, module = None))]
    fn include(&self, other: &Bound<'_, PyFFI>, module: Option<&str>) -> PyResult<()> {
        let other = other.get();
        if Arc::ptr_eq(&self.ctx, &other.ctx) {
            return Err(PyValueError::new_err("an FFI cannot include itself"));
        }
        if other.ctx.target() != self.ctx.target() {
            return Err(PyTypeError::new_err(
                "cannot include an FFI of another target",
            ));
        }
        let theirs = other.ctx.types().decls.clone();
        self.ctx.include(&theirs, module).py()
    }

    /// The `typedef int... t;` and `typedef float... t;` declarations, as
    /// `(name, is_float)`: what CFFI's `verify()` does not support.
    fn _dotdotdot_primitives(&self) -> Vec<(String, bool)> {
        let types = self.ctx.types();
        let table = &types.decls.types;
        types
            .decls
            .typedefs
            .iter()
            .filter_map(|(name, &id)| match table.get(id) {
                Type::UnknownPrim { name: n, float } if n == name => Some((name.clone(), *float)),
                _ => None,
            })
            .collect()
    }

    /// Makes this a compiled module's ffi: type strings naming undeclared
    /// structs or unions are refused, as CFFI's compiled FFIs refuse them.
    fn _refuse_unknown_tags(&self) {
        self.ctx.refuse_unknown_tags();
    }

    /// Shares `other`'s type objects for the names both declare (see
    /// `FfiContext::adopt_named_types`).
    fn _adopt_types(&self, other: &Bound<'_, PyFFI>) {
        self.ctx.adopt_named_types(&other.get().ctx);
    }

    /// Size of `long` etc. on this FFI's target, for tests: `"wasm32"` or `"host"`.
    #[getter]
    fn _target(&self) -> &'static str {
        match self.ctx.target() {
            Target::Host => "host",
            Target::Wasm32 => "wasm32",
        }
    }
}

/// One `lib` name for `FFI._lib_declarations`: (name, kind, ctype if resolvable).
type LibDeclaration = (String, &'static str, Option<Py<PyCType>>);

/// Where `ffi.memmove` copies from.
enum CopySource<'py> {
    /// C memory: an address in a memory.
    Memory(
        crate::memory::allocation::SharedMemory,
        wasmcffi::cdata::Addr,
    ),
    /// A Python bytes-like object.
    Python(ByteSource<'py>),
}
