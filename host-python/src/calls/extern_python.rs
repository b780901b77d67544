//! `extern "Python"` functions of a compiled module and `@ffi.def_extern()`.
//!
//! The glue defines each `extern "Python"` function in C (see the core's
//! `build::callbacks`): it copies its arguments into one struct and calls the
//! host with the function's number, the struct's address and a zeroed result
//! slot —
//! through the import `wasmcffi.call_python` in the sandbox, through a function
//! pointer set with `_cffi_set_call_python` natively ([`native_entry`]). Both arrive in
//! [`ExternPython::dispatch`], which runs the attached Python function with
//! CFFI's callback rules ([`CallbackTarget`]).

use std::borrow::Cow;
use std::ffi::c_int;
use std::sync::{Arc, RwLock, Weak};

use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;
use wasmcffi::backend::native::{ArgBuffer, CallPlan, Library};
use wasmcffi::backend::wasm::ExternPythonHandler;
use wasmcffi::cdata::{Addr, HostMemory, Memory};
use wasmcffi::layout::{CKind, CType};
use wasmcffi::model::{Decl, Type};

use crate::base::exceptions::{CoreResultExt, FFIError};
use crate::marshal::args::{ArgBytes, CallbackTarget};
use crate::memory::context::FfiContext;
use crate::objects::cdata::PyCData;

/// One `extern "Python"` function.
struct Entry {
    name: String,
    /// Its function-pointer type (`int(*)(int)`).
    fptr: CType,
    /// Where each argument sits in the glue's argument struct, and its size.
    offsets: Vec<u64>,
    args_size: u64,
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
    /// The name of the module these functions belong to ("" if unknown).
    pub fn module_name(&self) -> &str {
        &self.module_name
    }

    /// The table of `ctx`'s `extern "Python"` declarations (numbered as the glue does).
    pub fn new(ctx: &Arc<FfiContext>, module_name: &str) -> PyResult<Arc<Self>> {
        let names = {
            let types = ctx.types();
            let declared = |d: &Decl| matches!(d, Decl::ExternPython { .. });
            if types.decls.lib_items.values().any(declared) {
                wasmcffi::build::plan(&types.decls).py()?.extern_python
            } else {
                // Most modules have none: no need to plan the whole glue.
                Vec::new()
            }
        };
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
            let fptr = ctx.resolve(fptr).py()?;
            let CKind::Function(sig) = fptr.kind() else {
                continue;
            };
            // Struct members in order, each aligned as its type (C's layout rules).
            let mut offsets = Vec::with_capacity(sig.params.len());
            let mut end: u64 = 0;
            for p in &sig.params {
                let align = p.align().unwrap_or(1).max(1);
                let at = end.div_ceil(align) * align;
                offsets.push(at);
                end = at + p.size().unwrap_or(0);
            }
            entries.push(Entry {
                name,
                fptr: fptr.clone(),
                offsets,
                args_size: end,
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

    /// A call of function number `index` from C with the bytes of the glue's
    /// argument struct; returns the result's bytes (empty for `void` or when
    /// nothing is attached: the glue zeroed the result). Never fails: problems
    /// are reported as CFFI does (the result is then the `error` value).
    fn dispatch(&self, py: Python<'_>, index: u32, args: &[u8]) -> Vec<u8> {
        let Some(entry) = self.entries.get(index as usize) else {
            eprintln!("extern \"Python\": function number {index} called, but the module declares no such function.  Returning 0.");
            return Vec::new();
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
            return Vec::new();
        };
        target.invoke(py, |i, ty| {
            let at = entry.offsets[i] as usize;
            let end = at + ty.size().unwrap_or(0) as usize;
            args.get(at..end)
                .map(|bytes| ArgBytes::Other(Cow::Borrowed(bytes)))
                .ok_or_else(|| {
                    pyo3::exceptions::PyRuntimeError::new_err(
                        "extern \"Python\" arguments cut short",
                    )
                })
        })
    }

    /// The size of function `index`'s argument struct.
    fn args_size_of(&self, index: u32) -> usize {
        self.entries
            .get(index as usize)
            .map_or(0, |e| e.args_size as usize)
    }

    /// Points a native module's `_cffi_set_call_python` at [`native_entry`] with
    /// a token naming this table. The table is registered weakly: once the
    /// module's `lib` is gone, its calls print a message and return 0.
    pub fn install_native(self: &Arc<Self>, library: &Library) -> PyResult<()> {
        let Ok(setter) = library.symbol("_cffi_set_call_python") else {
            return Ok(()); // no extern "Python" functions in this module
        };
        let token = {
            let mut tables = NATIVE_TABLES.write().unwrap_or_else(|p| p.into_inner());
            tables.push(Arc::downgrade(self));
            tables.len() as u64 - 1
        };
        let void = self.ctx.parse_ctype("void").py()?;
        let void_ptr = self.ctx.parse_ctype("void *").py()?;
        let entry: NativeEntry = native_entry;
        let mut buffer = ArgBuffer::new();
        buffer.push_word(entry as usize as u64);
        buffer.push_word(token);
        CallPlan::new(&void, &[void_ptr.clone(), void_ptr], None)
            .py()?
            .call(setter, &buffer)
            .py()?;
        Ok(())
    }
}

/// The tables of the native modules loaded so far, by token.
static NATIVE_TABLES: RwLock<Vec<Weak<ExternPython>>> = RwLock::new(Vec::new());

type NativeEntry = extern "C" fn(usize, c_int, usize, usize);

/// What a native module's `extern "Python"` functions call:
/// `(token, index, args, result)`, the pointers as addresses.
extern "C" fn native_entry(token: usize, index: c_int, args: usize, result: usize) {
    let table = NATIVE_TABLES
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(token)
        .and_then(Weak::upgrade);
    let Some(table) = table else {
        eprintln!("extern \"Python\": function number {index} called after its module was unloaded.  Returning 0.");
        return;
    };
    // A panic must not unwind into C.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let index = index as u32;
        let mut bytes = vec![0u8; table.args_size_of(index)];
        crate::base::gil::with_gil(|py| {
            if !bytes.is_empty() {
                if let Err(err) = HostMemory.read(args as Addr, &mut bytes).py() {
                    return err.write_unraisable(py, None);
                }
            }
            let out = table.dispatch(py, index, &bytes);
            if result != 0 && !out.is_empty() {
                if let Err(err) = HostMemory.write(result as Addr, &out).py() {
                    err.write_unraisable(py, None);
                }
            }
        });
    }));
}

impl ExternPythonHandler for ExternPython {
    fn args_size(&self, index: u32) -> usize {
        self.args_size_of(index)
    }

    fn call(&self, index: u32, args: &[u8]) -> Vec<u8> {
        crate::base::gil::with_gil(|py| self.dispatch(py, index, args))
    }
}

/// `lib.NAME` / `ffi.addressof(lib, "NAME")` of a function: a function-pointer
/// cdata of type `fptr` at `addr`.
pub fn function_pointer(
    py: Python<'_>,
    ctx: &Arc<FfiContext>,
    fptr: CType,
    addr: Addr,
) -> PyResult<Py<PyAny>> {
    PyCData::plain(ctx, fptr, addr).into_py_any(py)
}
