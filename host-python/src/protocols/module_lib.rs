//! The `lib` of a compiled `set_source()` module, and its functions.
//!
//! A function is called by one of two routes, chosen once when `lib.f` is
//! first looked up:
//!
//! - **direct**: functions whose parameters and result are scalars go through
//!   the glue's `RET _cffi_d_NAME(T0, …)`, which has the function's own
//!   signature: in the sandbox, a cached guest function called with wasm values
//!   (no guest memory traffic); natively, a function-pointer cdata called
//!   through libffi exactly as in ABI mode.
//! - **glue**: every other signature (structs by value) goes through
//!   `void _cffi_f_NAME(void **args, void *result)`: the arguments are written as
//!   values of their C types (in the sandbox's memory for the wasm target), an
//!   array of pointers to them is passed, and the result is read back.

use std::sync::Arc;

use pyo3::exceptions::{PyAttributeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyString;
use pyo3::IntoPyObjectExt;
use pyo3::{PyTraverseError, PyVisit};
use wasmcffi::backend::native::{ArgBuffer, CallPlan, Library};
use wasmcffi::backend::wasm::abi::vararg_area;
use wasmcffi::backend::wasm::{ExternPythonHandler, GuestFunc, Sandbox, WasmVal};
use wasmcffi::build::GlueBlock;
use wasmcffi::cdata::{self as core, Addr};
use wasmcffi::layout::{CKind, CType, FuncInfo};
use wasmcffi::model::{ConstValue, Decl, GlobalVar, Type};

use crate::base::exceptions::{CoreResultExt, FFIError};
use crate::base::fastcall::{self, FastCall, MethodDef};
use crate::base::keep_alive::KeepAlive;
use crate::calls::call::call_function;
use crate::calls::extern_python::{self, ExternPython};
use crate::marshal::args::{
    check_arity, encode_arg, encode_vararg, value_from_bytes, Args, CallTemps,
};
use crate::marshal::convert::to_value;
use crate::marshal::wasm_values::{direct_signature, from_wasm, to_wasm};
use crate::memory::allocation::Allocation;
use crate::memory::context::FfiContext;
use crate::memory::scratch::Scratch;
use crate::objects::cdata::PyCData;
use crate::objects::ffi_object::PyFFI;
use crate::objects::sandbox::PySandbox;

/// Where a module's code runs.
#[derive(Clone)]
enum Backend {
    Wasm {
        sandbox: Arc<Sandbox>,
        scratch: Arc<Scratch>,
    },
    Native {
        library: Arc<Library>,
        glue_call: Arc<CallPlan>,
    },
}

/// Bytes of a lib's scratch area for the argument blocks of glue calls.
const GLUE_SCRATCH_SIZE: u64 = 1024;

/// What a glue call enters: a guest function, or a native address.
enum Entry<'a> {
    Guest(&'a GuestFunc),
    Address(Addr),
}

impl Backend {
    /// Calls the glue wrapper `entry` with `args` (one value per argument) and
    /// returns `ret_len` bytes of result.
    fn call(
        &self,
        py: Python<'_>,
        ctx: &Arc<FfiContext>,
        entry: &Entry<'_>,
        args: &[Vec<u8>],
        ret_len: usize,
    ) -> PyResult<Vec<u8>> {
        match self {
            Backend::Wasm { sandbox, scratch } => {
                let Entry::Guest(function) = entry else {
                    return Err(PyTypeError::new_err(
                        "a sandboxed function is entered by its export",
                    ));
                };
                let sizes: Vec<usize> = args.iter().map(Vec::len).collect();
                let layout = GlueBlock::new(&sizes, ret_len, 4);
                // The glue's block is taken from the lib's scratch area when it is free.
                let mut lease = scratch.lease(&ctx.mem);
                let mut own_block = None;
                let base = match lease.as_mut().and_then(|l| l.take(layout.size, 8)) {
                    Some(base) => base,
                    None => own_block
                        .insert(Allocation::new(&ctx.mem, layout.size, 8)?)
                        .addr(),
                };
                let outcome = (|| {
                    for (value, offset) in args.iter().zip(&layout.arg_offsets) {
                        ctx.mem.write(base + offset, value).py()?;
                    }
                    ctx.mem.write(base, &layout.pointer_table(base)).py()?;
                    let call_args = [
                        WasmVal::I32(base as i32),
                        WasmVal::I32((base + layout.result_at) as i32),
                    ];
                    crate::base::gil::run_guest(py, || sandbox.call_function(function, &call_args))
                        .py()?;
                    let mut out = vec![0u8; ret_len];
                    ctx.mem.read(base + layout.result_at, &mut out).py()?;
                    Ok(out)
                })();
                drop(lease);
                outcome
            }
            Backend::Native { glue_call, .. } => {
                let Entry::Address(func) = *entry else {
                    return Err(PyTypeError::new_err(
                        "a native function is entered by its address",
                    ));
                };
                let sizes: Vec<usize> = args.iter().map(Vec::len).collect();
                let layout = GlueBlock::new(&sizes, ret_len, 8);
                // The block in host memory, 8-aligned: words, filled byte by byte.
                let mut words = vec![0u64; (layout.size / 8) as usize];
                let base = words.as_mut_ptr() as usize as u64;
                let mut put = |offset: u64, bytes: &[u8]| {
                    for (i, chunk) in bytes.chunks(8).enumerate() {
                        let mut word = [0u8; 8];
                        word[..chunk.len()].copy_from_slice(chunk);
                        words[(offset / 8) as usize + i] = u64::from_le_bytes(word);
                    }
                };
                for (value, &offset) in args.iter().zip(&layout.arg_offsets) {
                    put(offset, value);
                }
                put(0, &layout.pointer_table(base));
                // The address C writes the result through, taken after the last
                // write above (the same address as `base`).
                let block = words.as_mut_ptr() as usize as u64;
                let mut buffer = ArgBuffer::new();
                buffer.push_word(block);
                buffer.push_word(block + layout.result_at);
                py.detach(|| glue_call.call(func, &buffer)).py()?;
                // `words` lived until here: the wrapper read and wrote it during the call.
                let result = &words[(layout.result_at / 8) as usize..];
                Ok(result
                    .iter()
                    .flat_map(|w| w.to_le_bytes())
                    .take(ret_len)
                    .collect())
            }
        }
    }
}

impl Backend {
    /// Calls the glue's `void symbol(void *out)`, which stores a value at `out`.
    fn fill(&self, ctx: &FfiContext, symbol: &str, out: Addr) -> PyResult<()> {
        match self {
            Backend::Wasm { sandbox, .. } => {
                sandbox
                    .call(symbol, &[WasmVal::I32(out as u32 as i32)])
                    .py()?;
            }
            Backend::Native { library, .. } => {
                let void_ptr = ctx.parse_ctype("void *").py()?;
                let void = ctx.parse_ctype("void").py()?;
                let mut args = ArgBuffer::new();
                args.push(&out.to_le_bytes());
                CallPlan::new(&void, &[void_ptr], None)
                    .py()?
                    .call(library.symbol(symbol).py()?, &args)
                    .py()?;
            }
        }
        Ok(())
    }

    /// What the glue's `void *SYMBOL(void)` accessor returns (an address).
    fn accessor(&self, ctx: &FfiContext, symbol: &str) -> PyResult<Addr> {
        match self {
            Backend::Wasm { sandbox, .. } => match sandbox.call(symbol, &[]).py()?.first() {
                Some(WasmVal::I32(addr)) => Ok(u64::from(*addr as u32)),
                other => Err(PyTypeError::new_err(format!("{symbol} returned {other:?}"))),
            },
            Backend::Native { library, .. } => native_pointer(ctx, library, symbol),
        }
    }
}

/// How a module function is entered (see the module docs).
enum Route {
    /// `_cffi_d_NAME` in the sandbox, called with wasm values.
    WasmDirect(GuestFunc),
    /// `_cffi_d_NAME` in the native library, as an ABI-mode function pointer.
    NativeDirect(Py<PyCData>),
    /// `_cffi_f_NAME` in the sandbox.
    WasmGlue(GuestFunc),
    /// `_cffi_f_NAME` in the native library, at this address.
    NativeGlue(Addr),
    /// A variadic function in the sandbox: `_cffi_f_NAME` with the variadic buffer last.
    WasmVariadic(GuestFunc),
}

/// The function pointer of the module function behind `obj`, if there is one
/// (registered with `function_object` for conversion and marshalling).
pub(crate) fn function_pointer_hook(obj: &Bound<'_, PyAny>) -> Option<PyResult<Py<PyAny>>> {
    module_function_of(obj).map(|function| function.get().function_pointer(obj.py()))
}

/// The module function behind `obj`: `lib.f` is a builtin whose `__self__` is it.
pub(crate) fn module_function_of<'py>(
    obj: &Bound<'py, PyAny>,
) -> Option<Bound<'py, PyModuleFunction>> {
    if let Ok(function) = obj.cast::<PyModuleFunction>() {
        return Some(function.clone());
    }
    if !obj.is_instance_of::<pyo3::types::PyCFunction>() {
        return None;
    }
    obj.getattr("__self__")
        .ok()?
        .cast_into::<PyModuleFunction>()
        .ok()
}

/// The pointer returned by the native glue accessor `void *symbol(void)`.
fn native_pointer(ctx: &FfiContext, library: &Library, symbol: &str) -> PyResult<Addr> {
    let void_ptr = ctx.parse_ctype("void *").py()?;
    let accessor = CallPlan::new(&void_ptr, &[], None).py()?;
    let bytes = accessor
        .call(library.symbol(symbol).py()?, &ArgBuffer::new())
        .py()?;
    let mut word = [0u8; 8];
    word[..bytes.len()].copy_from_slice(&bytes);
    Ok(u64::from_le_bytes(word))
}

/// A compiled module's `lib`.
#[pyclass(name = "ModuleLib", module = "wasmcffi", frozen, dict, weakref)]
pub struct PyModuleLib {
    ctx: Arc<FfiContext>,
    backend: Backend,
    externs: Arc<ExternPython>,
    /// What [`PyModuleLib::_keep_alive`] was given.
    kept: KeepAlive,
}

/// Where `wasmcffi._pickling` keeps a lib's reference (its `REF_KEY`).
const PICKLE_REF_KEY: &str = "_wasmcffi_ref";

/// A function of a compiled module (`lib.f`).
#[pyclass(name = "ModuleFunction", module = "wasmcffi", frozen)]
pub struct PyModuleFunction {
    ctx: Arc<FfiContext>,
    backend: Backend,
    name: String,
    /// `MODULE.Lib.`, prefixed to the name in arity errors as CFFI does.
    qualifier: String,
    route: Route,
    sig: CType,
    /// The definition of the builtin that `lib.NAME` is (see `fastcall`).
    def: Box<MethodDef>,
    /// What the lib pickles as (`wasmcffi._pickling`'s reference to its module
    /// or instance, or None), taken when the function was made: the function
    /// may outlive its lib object, and holding the lib would be a cycle.
    pickle_ref: Py<PyAny>,
}

impl PyModuleLib {
    /// CFFI's docstring of function `name` of signature `sig`: its C
    /// declaration and where it comes from.
    fn doc_of(&self, name: &str, sig: &CType) -> String {
        // The first `(*)` of a function pointer's name is where its name goes.
        let cname = sig.cname();
        let declaration = match cname.split_once("(*)") {
            Some((head, tail)) if head.ends_with(|c: char| c.is_alphanumeric() || c == '_') => {
                format!("{head} {name}{tail}")
            }
            Some((head, tail)) => format!("{head}{name}{tail}"),
            None => format!("{cname} {name}"),
        };
        format!(
            "{declaration};\n\nCFFI C function from {}.lib",
            self.externs.module_name()
        )
    }

    /// How function `name` of signature `sig` (a function-pointer type) is entered.
    fn route(&self, py: Python<'_>, name: &str, sig: &CType) -> PyResult<Route> {
        let CKind::Function(info) = sig.kind() else {
            return Err(PyTypeError::new_err(format!(
                "lib.{name} is not a function"
            )));
        };
        let direct = format!("_cffi_d_{name}");
        let glue = format!("_cffi_f_{name}");
        if info.variadic {
            return Ok(match &self.backend {
                Backend::Wasm { sandbox, .. } => Route::WasmVariadic(sandbox.function(&glue).py()?),
                Backend::Native { library, .. } => {
                    let addr = native_pointer(&self.ctx, library, &format!("_cffi_v_{name}"))?;
                    let mut cdata = PyCData::plain(&self.ctx, sig.clone(), addr);
                    cdata.keep = Some(library.clone());
                    Route::NativeDirect(Py::new(py, cdata)?)
                }
            });
        }
        Ok(match &self.backend {
            Backend::Wasm { sandbox, .. } => match sandbox.function(&direct) {
                Ok(f) if direct_signature(&info.params, &info.ret, f.params(), f.results()) => {
                    Route::WasmDirect(f)
                }
                _ => Route::WasmGlue(sandbox.function(&glue).py()?),
            },
            // The direct wrapper is called through libffi, which cannot pass
            // everything (complex numbers); the glue can.
            Backend::Native { library, .. } => match library.symbol(&direct) {
                Ok(addr)
                    if wasmcffi::layout::check_libffi_signature(&info.ret, &info.params)
                        .is_ok() =>
                {
                    let mut cdata = PyCData::plain(&self.ctx, sig.clone(), addr);
                    cdata.keep = Some(library.clone());
                    Route::NativeDirect(Py::new(py, cdata)?)
                }
                _ => Route::NativeGlue(library.symbol(&glue).py()?),
            },
        })
    }

    /// The address of global `name`, from its glue accessor `void *_cffi_g_NAME(void)`.
    fn item_addr(&self, name: &str) -> PyResult<Addr> {
        global_addr(&self.ctx, &self.backend, name)
    }

    /// The module's `extern "Python"` functions.
    pub(crate) fn externs(&self) -> &ExternPython {
        &self.externs
    }

    /// `ffi.addressof(lib, name)`: a function pointer for a function or an
    /// `extern "Python"` function, a pointer to a global variable.
    pub(crate) fn address_of(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        address_of(py, &self.ctx, &self.backend, name)
    }

    /// `ffi.addressof(lib, name)`. A constant function pointer (`int (*const
    /// f)(int)`, usually the function `f` itself in C) gives its value, as in CFFI.
    pub(crate) fn address_of_item(slf: &Bound<'_, Self>, name: &str) -> PyResult<Py<PyAny>> {
        let this = slf.get();
        let constant_function_pointer = {
            let types = this.ctx.types();
            match types.decls.lib_items.get(name) {
                Some(Decl::Global(g)) => {
                    let table = &types.decls.types;
                    g.reads_as_constant(table) && table.is_function_pointer(g.ty)
                }
                _ => false,
            }
        };
        if constant_function_pointer {
            return Ok(slf.getattr(name)?.unbind());
        }
        this.address_of(slf.py(), name)
    }
}

/// The address of global `name` of a module running on `backend`.
fn global_addr(ctx: &Arc<FfiContext>, backend: &Backend, name: &str) -> PyResult<Addr> {
    match backend.accessor(ctx, &format!("_cffi_g_{name}"))? {
        // A macro global (`#define v (*get_v())`) whose function failed.
        0 => Err(FFIError::new_err(format!(
            "global variable '{name}' is at address NULL"
        ))),
        addr => Ok(addr),
    }
}

/// `ffi.addressof(lib, name)` of a module running on `backend`.
fn address_of(
    py: Python<'_>,
    ctx: &Arc<FfiContext>,
    backend: &Backend,
    name: &str,
) -> PyResult<Py<PyAny>> {
    let decl = ctx.types().decls.lib_items.get(name).cloned();
    match decl {
        Some(Decl::Function { ty } | Decl::ExternPython { ty, .. }) => {
            let pointer = ctx.types().decls.types.intern(Type::Pointer(ty));
            let fptr = ctx.resolve(pointer).py()?;
            let addr = backend.accessor(ctx, &format!("_cffi_fp_{name}"))?;
            extern_python::function_pointer(py, ctx, fptr, addr)
        }
        Some(Decl::Global(g)) if !g.reads_as_constant(&ctx.types().decls.types) => {
            let ty = ctx.resolve(g.ty).py()?;
            let pointer = ctx.pointer_to(&ty).py()?;
            let addr = global_addr(ctx, backend, name)?;
            PyCData::plain(ctx, pointer, addr).into_py_any(py)
        }
        _ => Err(PyAttributeError::new_err(format!(
            "cannot take the address of lib.{name}: not a function or global variable"
        ))),
    }
}

/// The size of a function's result (0 for `void`).
fn result_len(sig: &FuncInfo) -> usize {
    match sig.ret.kind() {
        CKind::Void => 0,
        _ => sig.ret.size().unwrap_or(0) as usize,
    }
}

#[pymethods]
impl PyModuleLib {
    /// The lib of `ffi` (already completed) whose code runs in `sandbox`, or
    /// natively in the shared library at `native_path`.
    /// `module_name` qualifies names in messages (as CFFI's `mod.func()`).
    #[new]
    #[pyo3(signature = (ffi, sandbox, native_path, module_name = ""))]
    fn new(
        ffi: &Bound<'_, PyFFI>,
        sandbox: Option<&Bound<'_, PySandbox>>,
        native_path: Option<&str>,
        module_name: &str,
    ) -> PyResult<Self> {
        let ctx = ffi.get().ctx.clone();
        let externs = ExternPython::new(&ctx, module_name)?;
        let backend = match (sandbox, native_path) {
            (Some(sb), None) => {
                let sandbox = sb.get().sandbox.clone();
                let handler: Arc<dyn ExternPythonHandler> = externs.clone();
                sandbox.set_extern_python(&handler).py()?;
                Backend::Wasm {
                    sandbox,
                    scratch: Arc::new(Scratch::new(GLUE_SCRATCH_SIZE)),
                }
            }
            (None, Some(path)) => {
                let library = Arc::new(Library::open(Some(path), 0).py()?);
                let void_ptr = ctx.parse_ctype("void *").py()?;
                let void = ctx.parse_ctype("void").py()?;
                let glue_call =
                    Arc::new(CallPlan::new(&void, &[void_ptr.clone(), void_ptr], None).py()?);
                externs.install_native(&library)?;
                Backend::Native { library, glue_call }
            }
            _ => {
                return Err(PyTypeError::new_err(
                    "ModuleLib needs exactly one of a sandbox or a native library path",
                ))
            }
        };
        Ok(PyModuleLib {
            ctx,
            backend,
            externs,
            kept: KeepAlive::default(),
        })
    }

    fn __getattr__(slf: &Bound<'_, Self>, name: &str) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let included = this.ctx.types().decls.included.get(name).cloned();
        if let Some(module) = included {
            // From an `ffi.include()` of another compiled module: its lib's
            // object itself (`lib.f is parent_lib.f`), as in CFFI.
            let value = py.import(module.as_str())?.getattr("lib")?.getattr(name)?;
            slf.as_any().getattr("__dict__")?.set_item(name, &value)?;
            return Ok(value.unbind());
        }
        let decl = this.ctx.types().decls.lib_items.get(name).cloned();
        match decl {
            Some(Decl::Constant {
                value: ConstValue::Int(v),
                ..
            }) => v.into_py_any(py),
            Some(Decl::Constant {
                value: value @ ConstValue::Disagrees { .. },
                ..
            }) => Err(FFIError::new_err(value.disagreement(name))),
            Some(Decl::Function { ty }) => {
                let pointer = this.ctx.types().decls.types.intern(Type::Pointer(ty));
                let sig = this.ctx.resolve(pointer).py()?;
                let function = PyModuleFunction {
                    ctx: this.ctx.clone(),
                    backend: this.backend.clone(),
                    name: name.to_owned(),
                    qualifier: match this.externs.module_name() {
                        "" => String::new(),
                        module => format!("{module}.Lib."),
                    },
                    route: this.route(py, name, &sig)?,
                    def: MethodDef::new::<PyModuleFunction>(name, Some(&this.doc_of(name, &sig)))?,
                    sig,
                    pickle_ref: slf
                        .getattr("__dict__")?
                        .get_item(PICKLE_REF_KEY)
                        .unwrap_or_else(|_| py.None().into_bound(py))
                        .unbind(),
                };
                let function = Bound::new(py, function)?;
                let module = PyString::new(py, this.externs.module_name());
                let function =
                    fastcall::builtin(py, &function, &function.get().def, Some(&module))?;
                slf.as_any()
                    .getattr("__dict__")?
                    .set_item(name, function.clone_ref(py))?;
                Ok(function)
            }
            Some(Decl::Global(g)) if !g.reads_as_constant(&this.ctx.types().decls.types) => {
                let ty = this.ctx.resolve(g.ty).py()?;
                let addr = this.item_addr(name)?;
                PyCData::plain(&this.ctx, ty, addr).global_value(py)
            }
            // `static const T NAME;` of a non-integer type, or a `const` scalar
            // global: the glue's `_cffi_c_NAME(out)` stores the value, read
            // once and kept.
            Some(
                Decl::Constant {
                    ty,
                    value: ConstValue::Unknown,
                }
                | Decl::Global(GlobalVar { ty, .. }),
            ) => {
                let ty = this.ctx.resolve(ty).py()?;
                let size = ty.sizeof().map_err(|_| {
                    FFIError::new_err(format!(
                        "constant '{name}' is of type '{}', whose size is not known",
                        ty.cname()
                    ))
                })?;
                let block = Allocation::new(&this.ctx.mem, size, ty.align().unwrap_or(1))?;
                this.backend
                    .fill(&this.ctx, &format!("_cffi_c_{name}"), block.addr())?;
                let value = PyCData::plain(&this.ctx, ty, block.addr())
                    .with_owner(Some(block))
                    .global_value(py)?;
                slf.as_any()
                    .getattr("__dict__")?
                    .set_item(name, value.clone_ref(py))?;
                Ok(value)
            }
            // A function pointer that never changes, whatever def_extern attaches (LIB-12).
            Some(Decl::ExternPython { .. }) => {
                let pointer = this.address_of(py, name)?;
                slf.as_any()
                    .getattr("__dict__")?
                    .set_item(name, pointer.clone_ref(py))?;
                Ok(pointer)
            }
            Some(Decl::Typedef(_)) | None => Err(PyAttributeError::new_err(format!(
                "lib has no attribute '{name}'"
            ))),
        }
    }

    fn __setattr__(&self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let decl = self.ctx.types().decls.lib_items.get(name).cloned();
        match decl {
            Some(Decl::Global(g)) if !g.is_const => {
                let ty = self.ctx.resolve(g.ty).py()?;
                let addr = self.item_addr(name)?;
                let value = to_value(value, self.ctx.target())?;
                core::write_init(&*self.ctx.mem, addr, &ty, &value).py()
            }
            _ => Err(PyAttributeError::new_err(format!(
                "cannot set lib.{name}: not a writable global variable"
            ))),
        }
    }

    fn __dir__(&self) -> Vec<String> {
        self.ctx.lib_names()
    }

    /// A lib pickles by reference: to its module's lib, or to a fresh instance
    /// of the module with the same options (`wasmcffi._pickling`).
    fn __reduce__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        crate::base::pickling::reduce_with(slf.py(), "reduce_lib", (slf,))
    }

    /// What `from module.lib import *` imports: functions and constants.
    #[getter]
    fn __all__(&self) -> Vec<String> {
        self.ctx.lib_exports()
    }

    fn __repr__(&self) -> String {
        format!("<Lib object for '{}'>", self.externs.module_name())
    }

    /// `MODULE.lib`, as CFFI names a module's lib.
    #[getter]
    fn __name__(&self) -> String {
        format!("{}.lib", self.externs.module_name())
    }

    /// `types.ModuleType`, as CFFI's libs claim (so that `help(lib)` and
    /// `isinstance(lib, types.ModuleType)` treat a lib as the module it acts as).
    #[getter]
    fn __class__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("types")?.getattr("ModuleType")
    }

    /// None: a lib is not imported by a loader of its own.
    #[getter]
    fn __loader__(&self) -> Option<Py<PyAny>> {
        None
    }

    /// None, as for `__loader__`.
    #[getter]
    fn __spec__(&self) -> Option<Py<PyAny>> {
        None
    }

    /// Keeps `obj` alive as long as this lib (`verify()`'s FFI, which keeps the
    /// lib alive in turn: the cycle is visible to the garbage collector).
    fn _keep_alive(&self, obj: Py<PyAny>) {
        self.kept.push(obj);
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.kept.traverse(&visit)
    }

    fn __clear__(&self) {
        self.kept.clear();
    }
}

impl PyModuleFunction {
    /// The function-pointer type of this function.
    pub(crate) fn signature(&self) -> &CType {
        &self.sig
    }

    /// The C function pointer of this function, when passed where C expects one.
    pub(crate) fn function_pointer(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        address_of(py, &self.ctx, &self.backend, &self.name)
    }

    /// A call of `_cffi_d_NAME` in the sandbox: arguments as wasm values.
    fn call_direct(
        &self,
        py: Python<'_>,
        function: &GuestFunc,
        sig: &FuncInfo,
        args: &[&Bound<'_, PyAny>],
    ) -> PyResult<Py<PyAny>> {
        let Backend::Wasm { sandbox, .. } = &self.backend else {
            return Err(PyTypeError::new_err("a direct wasm call needs a sandbox"));
        };
        const INLINE: usize = 8;
        let mut temps = CallTemps::default();
        let mut inline = [WasmVal::I32(0); INLINE];
        let mut spilled = Vec::new();
        let values: &mut [WasmVal] = if args.len() <= INLINE {
            &mut inline[..args.len()]
        } else {
            spilled.resize(args.len(), WasmVal::I32(0));
            &mut spilled
        };
        let params = sig.params.iter().zip(function.params());
        for ((slot, (param, ty)), arg) in values.iter_mut().zip(params).zip(args) {
            *slot = to_wasm(&self.ctx, param, *ty, arg, &mut temps)?;
        }
        let result =
            crate::base::gil::run_guest(py, || sandbox.call_function(function, values)).py()?;
        temps.finish(py)?;
        from_wasm(py, &self.ctx, &sig.ret, result)
    }

    /// A call of a variadic function's `_cffi_f_NAME` in the sandbox: the fixed
    /// arguments as for [`Self::call_glue`], then the variadic values in the
    /// wasm32 variadic area (`abi::vararg_area`), behind one pointer.
    fn call_variadic(
        &self,
        py: Python<'_>,
        function: &GuestFunc,
        sig: &FuncInfo,
        args: &[&Bound<'_, PyAny>],
    ) -> PyResult<Py<PyAny>> {
        // CFFI calls a variadic function through libffi, on both targets.
        wasmcffi::layout::check_libffi_signature(&sig.ret, &sig.params).py()?;
        let mut temps = CallTemps::default();
        let fixed = sig.params.len();
        let mut values = self.encode_fixed(sig, args, &mut temps)?;
        let mut varargs = Vec::with_capacity(args.len().saturating_sub(fixed));
        for (i, arg) in args.iter().enumerate().skip(fixed) {
            let (ty, bytes) = encode_vararg(&self.ctx, i, arg)?;
            wasmcffi::layout::check_libffi_by_value(&ty, wasmcffi::layout::Place::Argument).py()?;
            varargs.push((ty, bytes));
        }
        let types: Vec<CType> = varargs.iter().map(|(ty, _)| ty.clone()).collect();
        let (slots, size) = vararg_area(&types);
        let block = Allocation::new(&self.ctx.mem, size.max(1), 16)?;
        for ((ty, bytes), slot) in varargs.iter().zip(&slots) {
            let at = block.addr() + slot.offset;
            if slot.by_pointer {
                let align = ty.align().unwrap_or(4).max(4);
                let copy = Allocation::new(&self.ctx.mem, bytes.len() as u64, align)?;
                self.ctx.mem.write(copy.addr(), bytes).py()?;
                self.ctx
                    .mem
                    .write(at, &(copy.addr() as u32).to_le_bytes())
                    .py()?;
                temps.keep(copy);
            } else {
                self.ctx.mem.write(at, bytes).py()?;
            }
        }
        values.push((block.addr() as u32).to_le_bytes().to_vec());
        temps.keep(block);
        let bytes = self.backend.call(
            py,
            &self.ctx,
            &Entry::Guest(function),
            &values,
            result_len(sig),
        )?;
        temps.finish(py)?;
        value_from_bytes(py, &self.ctx, &sig.ret, &bytes)
    }

    /// The bytes of the fixed arguments of a glue call.
    fn encode_fixed(
        &self,
        sig: &FuncInfo,
        args: &[&Bound<'_, PyAny>],
        temps: &mut CallTemps,
    ) -> PyResult<Vec<Vec<u8>>> {
        sig.params
            .iter()
            .zip(args)
            .map(|(param, arg)| encode_arg(&self.ctx, param, arg, temps))
            .collect()
    }

    /// A call of `_cffi_f_NAME`: arguments and result through memory.
    fn call_glue(
        &self,
        py: Python<'_>,
        entry: &Entry<'_>,
        sig: &FuncInfo,
        args: &[&Bound<'_, PyAny>],
    ) -> PyResult<Py<PyAny>> {
        let mut temps = CallTemps::default();
        let values = self.encode_fixed(sig, args, &mut temps)?;
        let bytes = self
            .backend
            .call(py, &self.ctx, entry, &values, result_len(sig))?;
        temps.finish(py)?;
        value_from_bytes(py, &self.ctx, &sig.ret, &bytes)
    }
}

impl FastCall for PyModuleFunction {
    fn call_fast(&self, py: Python<'_>, args: &[&Bound<'_, PyAny>]) -> PyResult<Py<PyAny>> {
        let CKind::Function(sig) = self.sig.kind() else {
            return Err(PyTypeError::new_err("not a function"));
        };
        if sig.variadic {
            check_arity(&self.sig, sig, args.len())?;
        } else if args.len() != sig.params.len() {
            let (name, given, expected) = (&self.name, args.len(), sig.params.len());
            let message = match expected {
                0 => format!(
                    "{}{name}() takes no arguments ({given} given)",
                    self.qualifier
                ),
                1 => format!(
                    "{}{name}() takes exactly one argument ({given} given)",
                    self.qualifier
                ),
                _ => format!("{name} expected {expected} arguments, got {given}"),
            };
            return Err(PyTypeError::new_err(message));
        }
        match &self.route {
            Route::WasmDirect(function) => self.call_direct(py, function, sig, args),
            Route::WasmGlue(function) => self.call_glue(py, &Entry::Guest(function), sig, args),
            Route::NativeGlue(address) => self.call_glue(py, &Entry::Address(*address), sig, args),
            Route::NativeDirect(function) => {
                call_function(py, function.get(), Args::Slice(args), None)
            }
            Route::WasmVariadic(function) => self.call_variadic(py, function, sig, args),
        }
    }
}

#[pymethods]
impl PyModuleFunction {
    fn __repr__(&self) -> String {
        format!(
            "<wasmcffi function '{}' of type '{}'>",
            self.name,
            self.sig.cname()
        )
    }

    #[getter]
    fn __name__(&self) -> &str {
        &self.name
    }

    /// CPython pickles the builtin `lib.NAME` as `getattr(its __self__, NAME)`,
    /// its `__self__` being this object: so this object pickles as its lib.
    fn __reduce__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let module = self.qualifier.trim_end_matches(".Lib.");
        crate::base::pickling::reduce_with(
            py,
            "reduce_lib_ref",
            (
                &self.pickle_ref,
                module,
                format!("function '{}'", self.name),
            ),
        )
    }
}

/// `ffi.def_extern()`'s decorator body: attaches `function` to `lib`'s
/// `extern "Python"` function `name`.
#[pyfunction]
#[pyo3(signature = (lib, name, function, error = None, onerror = None))]
pub fn _def_extern(
    lib: &Bound<'_, PyModuleLib>,
    name: &str,
    function: &Bound<'_, PyAny>,
    error: Option<&Bound<'_, PyAny>>,
    onerror: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    lib.get().externs().attach(name, function, error, onerror)
}
