//! The `lib` of a compiled `set_source()` module, and its functions.
//!
//! Every cdef function `f` is called through its glue wrapper
//! `void _cffi_f_f(void **args, void *result)`: the arguments are written as
//! values of their C types (in the sandbox's memory for the wasm target), an
//! array of pointers to them is passed, and the result is read back. One
//! convention covers every signature, structs by value included.

use std::sync::Arc;

use pyo3::exceptions::{PyAttributeError, PyNotImplementedError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::IntoPyObjectExt;
use wasmcffi::backend::native::{ArgBuffer, CallPlan, Library};
use wasmcffi::backend::wasm::{Sandbox, WasmVal};
use wasmcffi::cdata::{self as core, Addr};
use wasmcffi::layout::{CKind, CType, FuncInfo};
use wasmcffi::model::{ConstValue, Decl, Type};

use crate::call::{encode_arg, value_from_bytes};
use crate::cdata::{Allocation, PyCData};
use crate::context::FfiContext;
use crate::convert::to_value;
use crate::exceptions::CoreResultExt;
use crate::ffi::PyFFI;
use crate::sandbox::PySandbox;

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

/// A block of guest memory reused for the arguments of calls that fit in it,
/// so a call does not have to allocate in the guest (taken by one call at a
/// time; nested or concurrent calls allocate their own).
#[derive(Default)]
struct Scratch {
    block: std::sync::OnceLock<Arc<Allocation>>,
    busy: std::sync::atomic::AtomicBool,
}

impl Scratch {
    const SIZE: u64 = 1024;

    /// The scratch block if it is free and `size` fits, marked busy until `release`.
    fn take(&self, ctx: &FfiContext, size: u64) -> Option<Addr> {
        use std::sync::atomic::Ordering;
        if size > Self::SIZE || self.busy.swap(true, Ordering::Acquire) {
            return None;
        }
        // A block of an instance that was reset is not ours any more.
        if self.block.get().is_some_and(|b| !b.is_current()) {
            self.busy.store(false, Ordering::Release);
            return None;
        }
        if self.block.get().is_none() {
            match Allocation::new(&ctx.mem, Self::SIZE, 8) {
                Ok(block) => {
                    let _ = self.block.set(block);
                }
                Err(_) => {
                    self.busy.store(false, Ordering::Release);
                    return None;
                }
            }
        }
        self.block.get().map(|b| b.addr())
    }

    fn release(&self) {
        self.busy.store(false, std::sync::atomic::Ordering::Release);
    }
}

/// What a function call enters: a wasm export by name, or a native address.
enum Entry<'a> {
    Export(&'a str),
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
                let Entry::Export(symbol) = entry else {
                    return Err(PyTypeError::new_err(
                        "a sandboxed function is entered by its export name",
                    ));
                };
                // One guest block: [pointer table | result | argument values], 8-aligned.
                let table = 4 * args.len() as u64;
                let result_at = table.div_ceil(8) * 8;
                let mut at = result_at + (ret_len.max(8) as u64).div_ceil(8) * 8;
                let mut offsets = Vec::with_capacity(args.len());
                for value in args {
                    offsets.push(at);
                    at += (value.len().max(1) as u64).div_ceil(8) * 8;
                }
                let mut own_block = None;
                let base = match scratch.take(ctx, at) {
                    Some(base) => base,
                    None => own_block.insert(Allocation::new(&ctx.mem, at, 8)?).addr(),
                };
                let outcome = (|| {
                    let mut pointers = Vec::with_capacity(args.len() * 4);
                    for (value, off) in args.iter().zip(&offsets) {
                        ctx.mem.write(base + off, value).py()?;
                        pointers.extend_from_slice(&((base + off) as u32).to_le_bytes());
                    }
                    ctx.mem.write(base, &pointers).py()?;
                    let call_args = [
                        WasmVal::I32(base as i32),
                        WasmVal::I32((base + result_at) as i32),
                    ];
                    crate::gil::run_guest(py, || sandbox.call(symbol, &call_args)).py()?;
                    let mut out = vec![0u8; ret_len];
                    ctx.mem.read(base + result_at, &mut out).py()?;
                    Ok(out)
                })();
                if own_block.is_none() {
                    scratch.release();
                }
                outcome
            }
            Backend::Native { glue_call, .. } => {
                let Entry::Address(func) = *entry else {
                    return Err(PyTypeError::new_err(
                        "a native function is entered by its address",
                    ));
                };
                let mut words: Vec<u64> = Vec::new();
                let mut offsets = Vec::with_capacity(args.len());
                for value in args {
                    offsets.push(words.len());
                    words.extend(value.chunks(8).map(|c| {
                        let mut w = [0u8; 8];
                        w[..c.len()].copy_from_slice(c);
                        u64::from_le_bytes(w)
                    }));
                    if value.is_empty() {
                        words.push(0);
                    }
                }
                let base = words.as_ptr() as usize as u64;
                let pointers: Vec<u64> = offsets.iter().map(|&i| base + 8 * i as u64).collect();
                let mut ret = vec![0u64; ret_len.max(8).div_ceil(8)];
                let mut buffer = ArgBuffer::new();
                buffer.push_word(pointers.as_ptr() as usize as u64);
                buffer.push_word(ret.as_mut_ptr() as usize as u64);
                py.allow_threads(|| glue_call.call(func, &buffer)).py()?;
                // `words` and `pointers` lived until here: the wrapper read them during the call.
                drop((words, pointers));
                Ok(ret
                    .iter()
                    .flat_map(|w| w.to_le_bytes())
                    .take(ret_len)
                    .collect())
            }
        }
    }
}

/// A compiled module's `lib`.
#[pyclass(name = "ModuleLib", module = "wasmcffi", frozen, dict)]
pub struct PyModuleLib {
    ctx: Arc<FfiContext>,
    backend: Backend,
}

/// A function of a compiled module (`lib.f`).
#[pyclass(name = "ModuleFunction", module = "wasmcffi", frozen)]
pub struct PyModuleFunction {
    ctx: Arc<FfiContext>,
    backend: Backend,
    name: String,
    /// The glue wrapper's export name (wasm).
    symbol: String,
    /// The glue wrapper's address, found once (native).
    address: Addr,
    sig: CType,
}

impl PyModuleLib {
    /// The address of global `name`, from its glue accessor `void *_cffi_g_NAME(void)`.
    fn item_addr(&self, name: &str) -> PyResult<Addr> {
        let symbol = format!("_cffi_g_{name}");
        match &self.backend {
            Backend::Wasm { sandbox, .. } => match sandbox.call(&symbol, &[]).py()?.first() {
                Some(WasmVal::I32(addr)) => Ok(u64::from(*addr as u32)),
                other => Err(PyTypeError::new_err(format!("{symbol} returned {other:?}"))),
            },
            Backend::Native { library, .. } => {
                let void_ptr = self.ctx.parse_ctype("void *").py()?;
                let accessor = CallPlan::new(&void_ptr, &[], None).py()?;
                let bytes = accessor
                    .call(library.symbol(&symbol).py()?, &ArgBuffer::new())
                    .py()?;
                let mut word = [0u8; 8];
                word[..bytes.len()].copy_from_slice(&bytes);
                Ok(u64::from_le_bytes(word))
            }
        }
    }
}

#[pymethods]
impl PyModuleLib {
    /// The lib of `ffi` (already completed) whose code runs in `sandbox`, or
    /// natively in the shared library at `native_path`.
    #[new]
    #[pyo3(signature = (ffi, sandbox, native_path))]
    fn new(
        ffi: &Bound<'_, PyFFI>,
        sandbox: Option<&Bound<'_, PySandbox>>,
        native_path: Option<&str>,
    ) -> PyResult<Self> {
        let ctx = ffi.get().ctx.clone();
        let backend = match (sandbox, native_path) {
            (Some(sb), None) => Backend::Wasm {
                sandbox: sb.get().sandbox.clone(),
                scratch: Arc::default(),
            },
            (None, Some(path)) => {
                let library = Arc::new(Library::open(Some(path), 0).py()?);
                let void_ptr = ctx.parse_ctype("void *").py()?;
                let void = ctx.parse_ctype("void").py()?;
                let glue_call =
                    Arc::new(CallPlan::new(&void, &[void_ptr.clone(), void_ptr], None).py()?);
                Backend::Native { library, glue_call }
            }
            _ => {
                return Err(PyTypeError::new_err(
                    "ModuleLib needs exactly one of a sandbox or a native library path",
                ))
            }
        };
        Ok(PyModuleLib { ctx, backend })
    }

    fn __getattr__(slf: &Bound<'_, Self>, name: &str) -> PyResult<PyObject> {
        let py = slf.py();
        let this = slf.get();
        let decl = this.ctx.types().decls.lib_items.get(name).cloned();
        match decl {
            Some(Decl::Constant {
                value: ConstValue::Int(v),
                ..
            }) => v.into_py_any(py),
            Some(Decl::Function { ty }) => {
                let pointer = this.ctx.types().decls.types.intern(Type::Pointer(ty));
                let sig = this.ctx.resolve(pointer).py()?;
                if matches!(sig.kind(), CKind::Function(FuncInfo { variadic: true, .. })) {
                    return Err(PyNotImplementedError::new_err(format!(
                        "lib.{name}: calling variadic functions of a compiled module is not implemented yet"
                    )));
                }
                let symbol = format!("_cffi_f_{name}");
                let address = match &this.backend {
                    Backend::Native { library, .. } => library.symbol(&symbol).py()?,
                    Backend::Wasm { .. } => 0,
                };
                let function = PyModuleFunction {
                    ctx: this.ctx.clone(),
                    backend: this.backend.clone(),
                    name: name.to_owned(),
                    symbol,
                    address,
                    sig,
                }
                .into_py_any(py)?;
                slf.as_any()
                    .getattr("__dict__")?
                    .set_item(name, function.clone_ref(py))?;
                Ok(function)
            }
            Some(Decl::Global(g)) => {
                let ty = this.ctx.resolve(g.ty).py()?;
                let addr = this.item_addr(name)?;
                PyCData::plain(&this.ctx, ty, addr).global_value(py)
            }
            Some(Decl::Constant {
                value: ConstValue::Unknown,
                ..
            }) => Err(PyAttributeError::new_err(format!(
                "lib.{name}: its value was not measured by the compiler"
            ))),
            Some(Decl::ExternPython { .. }) => Err(PyNotImplementedError::new_err(format!(
                "lib.{name}: extern \"Python\" functions are not implemented yet"
            ))),
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

    fn __repr__(&self) -> String {
        let what = match self.backend {
            Backend::Wasm { .. } => "sandboxed wasm32 module",
            Backend::Native { .. } => "native module",
        };
        format!("<Lib object for a {what}>")
    }
}

impl PyModuleFunction {
    fn entry(&self) -> Entry<'_> {
        match self.backend {
            Backend::Wasm { .. } => Entry::Export(&self.symbol),
            Backend::Native { .. } => Entry::Address(self.address),
        }
    }
}

#[pymethods]
impl PyModuleFunction {
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyObject> {
        let CKind::Function(sig) = self.sig.kind() else {
            return Err(PyTypeError::new_err("not a function"));
        };
        if kwargs.is_some_and(|k| !k.is_empty()) {
            return Err(PyTypeError::new_err(format!(
                "{}() takes no keyword arguments",
                self.name
            )));
        }
        if args.len() != sig.params.len() {
            return Err(PyTypeError::new_err(format!(
                "{}() takes exactly {} arguments ({} given)",
                self.name,
                sig.params.len(),
                args.len()
            )));
        }
        let mut temps = Vec::new();
        let values = sig
            .params
            .iter()
            .zip(args.iter())
            .map(|(param, arg)| encode_arg(&self.ctx, param, &arg, &mut temps))
            .collect::<PyResult<Vec<_>>>()?;
        let ret_len = if matches!(sig.ret.kind(), CKind::Void) {
            0
        } else {
            sig.ret.size().unwrap_or(0) as usize
        };
        let bytes = self
            .backend
            .call(py, &self.ctx, &self.entry(), &values, ret_len)?;
        drop(temps);
        value_from_bytes(py, &self.ctx, &sig.ret, &bytes)
    }

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
}
