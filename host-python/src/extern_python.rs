//! `extern "Python"` functions of a compiled module and `@ffi.def_extern()`.
//!
//! The glue defines each `extern "Python"` function in C (see the core's
//! `build::callbacks`): it packs pointers to its arguments and calls the host
//! with the function's number, the argument array and a zeroed result slot —
//! through the import `wasmcffi.call_python` in the sandbox, through a function
//! pointer set with `_cffi_set_call_python` natively. Both arrive in
//! [`ExternPython::dispatch`], which runs the attached Python function with
//! CFFI's callback rules ([`CallbackTarget`]).

use std::sync::{Arc, RwLock};

use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;
use wasmcffi::backend::native::{ArgBuffer, CallPlan, Closure, Library};
use wasmcffi::backend::wasm::ExternPythonHandler;
use wasmcffi::cdata::{self as core, Addr, HostMemory, Memory};
use wasmcffi::layout::CType;
use wasmcffi::model::{Decl, Type};

use crate::call::CallbackTarget;
use crate::cdata::PyCData;
use crate::context::FfiContext;
use crate::exceptions::{CoreResultExt, FFIError};

/// One `extern "Python"` function.
struct Entry {
    name: String,
    /// Its function-pointer type (`int(*)(int)`).
    fptr: CType,
    attached: RwLock<Option<Arc<CallbackTarget>>>,
}

/// The `extern "Python"` functions of one loaded module, by glue number.
pub struct ExternPython {
    ctx: Arc<FfiContext>,
    /// The module's name, qualifying function names in messages.
    module_name: String,
    entries: Vec<Entry>,
}

impl ExternPython {
    /// The table of `ctx`'s `extern "Python"` declarations (numbered as the glue does).
    pub fn new(ctx: &Arc<FfiContext>, module_name: &str) -> PyResult<Arc<Self>> {
        let names = wasmcffi::build::plan(&ctx.types().decls).py()?.extern_python;
        let mut entries = Vec::with_capacity(names.len());
        for name in names {
            let fptr = {
                let mut types = ctx.types();
                let Some(Decl::ExternPython { ty, .. }) = types.decls.lib_items.get(&name).cloned()
                else {
                    continue;
                };
                types.decls.types.intern(Type::Pointer(ty))
            };
            entries.push(Entry {
                name,
                fptr: ctx.resolve(fptr).py()?,
                attached: RwLock::new(None),
            });
        }
        Ok(Arc::new(ExternPython {
            ctx: ctx.clone(),
            module_name: module_name.to_owned(),
            entries,
        }))
    }

    /// `@ffi.def_extern(name, error, onerror)` applied to `function`.
    pub fn attach(
        &self,
        name: &str,
        function: &Bound<'_, PyAny>,
        error: Option<&Bound<'_, PyAny>>,
        onerror: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let Some(entry) = self.entries.iter().find(|e| e.name == name) else {
            return Err(FFIError::new_err(format!(
                "ffi.def_extern('{name}'): no 'extern \"Python\"' function with this name"
            )));
        };
        let target = CallbackTarget::new(&self.ctx, &entry.fptr, true, function, error, onerror)?;
        *entry.attached.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(target));
        Ok(())
    }

    /// A call of function number `index` from C: `args` is the address of an
    /// array of pointers to the arguments, `result` of the zeroed result slot (0
    /// for `void`), both in the FFI's memory. Never fails: problems are reported
    /// as CFFI does and the result stays as it is (zero or the `error` value).
    fn dispatch(&self, py: Python<'_>, index: u32, args: Addr, result: Addr) {
        let Some(entry) = self.entries.get(index as usize) else {
            eprintln!("extern \"Python\": function number {index} called, but the module declares no such function.  Returning 0.");
            return;
        };
        let target = entry
            .attached
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some(target) = target else {
            let dot = if self.module_name.is_empty() { "" } else { "." };
            eprintln!(
                "extern \"Python\": function {}{dot}{}() called, but no code was attached to it yet with @ffi.def_extern().  Returning 0.",
                self.module_name, entry.name
            );
            return;
        };
        let mem = &*self.ctx.mem;
        let width = self.ctx.target().pointer_size();
        let bytes = target.invoke(py, |i, ty| {
            let pointer = core::read_pointer(mem, args + width * i as u64).py()?;
            let mut bytes = vec![0u8; ty.size().unwrap_or(0) as usize];
            mem.read(pointer, &mut bytes).py()?;
            Ok(bytes)
        });
        if result != 0 && !bytes.is_empty() {
            if let Err(err) = mem.write(result, &bytes).py() {
                err.write_unraisable(py, None);
            }
        }
    }

    /// Points a native module's `_cffi_set_call_python` at this table. The
    /// closure stays alive for the rest of the process: the library's code may
    /// keep the pointer as long as it is loaded (and a library is loaded once
    /// per process, so a later load of the same module replaces it).
    pub fn install_native(self: &Arc<Self>, library: &Library) -> PyResult<()> {
        let Ok(setter) = library.symbol("_cffi_set_call_python") else {
            return Ok(()); // no extern "Python" functions in this module
        };
        let void = self.ctx.parse_ctype("void").py()?;
        let int = self.ctx.parse_ctype("int").py()?;
        let void_ptr = self.ctx.parse_ctype("void *").py()?;
        let plan = CallPlan::new(&void, &[int, void_ptr.clone(), void_ptr.clone()], None).py()?;
        let table = Arc::clone(self);
        let closure = Closure::new(
            plan,
            Box::new(move |args, _result| {
                let word = |i: usize, size: usize| {
                    let mut bytes = [0u8; 8];
                    let _ = HostMemory.read(args[i] as usize as Addr, &mut bytes[..size]);
                    u64::from_le_bytes(bytes)
                };
                let (index, argv, result) = (word(0, 4) as u32, word(1, 8), word(2, 8));
                Python::with_gil(|py| table.dispatch(py, index, argv, result));
            }),
        )
        .py()?;
        let mut buffer = ArgBuffer::new();
        buffer.push_word(closure.code_ptr());
        CallPlan::new(&void, &[void_ptr], None)
            .py()?
            .call(setter, &buffer)
            .py()?;
        std::mem::forget(closure);
        Ok(())
    }
}

impl ExternPythonHandler for ExternPython {
    fn call(&self, index: u32, args: u32, result: u32) {
        Python::with_gil(|py| self.dispatch(py, index, Addr::from(args), Addr::from(result)));
    }
}

/// `lib.NAME` / `ffi.addressof(lib, "NAME")` of a function: a function-pointer
/// cdata of type `fptr` at `addr`.
pub fn function_pointer(
    py: Python<'_>,
    ctx: &Arc<FfiContext>,
    fptr: CType,
    addr: Addr,
) -> PyResult<PyObject> {
    PyCData::plain(ctx, fptr, addr).into_py_any(py)
}

/// `ffi.def_extern()`'s decorator body: attaches `function` to `lib`'s
/// `extern "Python"` function `name`.
#[pyfunction]
#[pyo3(signature = (lib, name, function, error = None, onerror = None))]
pub fn _def_extern(
    lib: &Bound<'_, crate::module_lib::PyModuleLib>,
    name: &str,
    function: &Bound<'_, PyAny>,
    error: Option<&Bound<'_, PyAny>>,
    onerror: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    lib.get().externs().attach(name, function, error, onerror)
}
