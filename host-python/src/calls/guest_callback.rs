//! Function pointers of a sandboxed module's ffi: `ffi.callback()` as a host
//! function in a slot of the guest's function table, and Python calls of guest
//! function pointers (table indices) through the sandbox.
//!
//! The wasm32 C ABI of the signatures (which wasm type carries which C type) is
//! the core's `backend::wasm::abi`.

use std::borrow::Cow;
use std::sync::Arc;

use pyo3::exceptions::PyNotImplementedError;
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;
use wasmcffi::backend::wasm::{abi, Sandbox, TableCallback, WasmVal};
use wasmcffi::layout::{CType, FuncInfo};

use crate::base::exceptions::CoreResultExt;
use crate::marshal::args::{
    encode_arg, value_from_bytes, ArgBytes, Args, CallTemps, CallbackTarget,
};
use crate::memory::allocation::Allocation;
use crate::memory::context::FfiContext;
use crate::objects::cdata::{Flavor, PyCData};

/// Frees the table slot of an `ffi.callback()` when its cdata dies.
struct SlotGuard {
    sandbox: Arc<Sandbox>,
    generation: u64,
    slot: u32,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.sandbox.remove_callback(self.generation, self.slot);
    }
}

/// `ffi.callback()` on a sandboxed module's ffi: a function pointer (a slot of
/// the guest's function table) that runs `target` when guest code calls it.
pub(crate) fn make(
    py: Python<'_>,
    ctx: &Arc<FfiContext>,
    sandbox: &Arc<Sandbox>,
    fptr: CType,
    target: CallbackTarget,
) -> PyResult<Py<PyAny>> {
    let signature = abi::signature(target.ret(), target.params()).py()?;
    // The hidden result pointer, then each parameter's wasm values.
    let shape = abi::ArgShape::new(target.ret(), target.params()).py()?;
    let callable = target.function().clone_ref(py);
    let target = Arc::new(target);
    let mem = ctx.mem.clone();
    let callback: TableCallback = Arc::new(move |args: &[WasmVal]| {
        // A struct (or `long double`) result goes where the hidden first argument points.
        let (result_at, values) = shape.split(args);
        crate::base::gil::with_gil(|py| {
            let bytes = target.invoke(py, |i, ty| match values.get(i).copied() {
                Some(&[WasmVal::I32(at)]) if abi::is_indirect(ty) => {
                    ArgBytes::read(&*mem, u64::from(at as u32), ty.size().unwrap_or(0) as usize)
                }
                // One wasm value: a scalar or pointer, its bytes those of the value.
                Some(&[value]) => Ok(ArgBytes::word(
                    abi::word_of(value),
                    ty.size().unwrap_or(0) as usize,
                )),
                Some(values) if !values.is_empty() => Ok(ArgBytes::Other(Cow::Owned(
                    abi::from_wasm_values(ty, values),
                ))),
                _ => Err(pyo3::exceptions::PyTypeError::new_err("missing argument")),
            });
            match result_at {
                Some(at) => {
                    if let Err(err) = mem.write(at, &bytes).py() {
                        err.write_unraisable(py, None);
                    }
                    None
                }
                None => abi::to_wasm(target.ret(), &bytes).ok().flatten(),
            }
        })
    });
    let (generation, slot) = sandbox.add_callback(&signature, callback).py()?;
    let mut cdata = PyCData::plain(ctx, fptr, u64::from(slot));
    cdata.keep = Some(Arc::new(SlotGuard {
        sandbox: sandbox.clone(),
        generation,
        slot,
    }));
    cdata.flavor = Flavor::Callback(callable);
    cdata.into_py_any(py)
}

/// Calls the guest function pointer `func` (of signature `sig`) with Python
/// arguments: its table entry is looked up and its wasm type checked first.
pub(crate) fn call(
    py: Python<'_>,
    sandbox: &Arc<Sandbox>,
    func: &PyCData,
    sig: &FuncInfo,
    args: Args<'_, '_>,
) -> PyResult<Py<PyAny>> {
    if sig.variadic {
        return Err(PyNotImplementedError::new_err(format!(
            "calling the variadic function pointer '{}' of a sandboxed module",
            func.ctype.cname()
        )));
    }
    let ctx = &func.ctx;
    let signature = abi::signature(&sig.ret, &sig.params).py()?;
    let index = u32::try_from(func.addr).map_err(|_| {
        pyo3::exceptions::PyRuntimeError::new_err(format!(
            "cannot call function pointer {:#x}: not a function of the sandboxed module",
            func.addr
        ))
    })?;
    let mut temps = CallTemps::default();
    let mut values = Vec::with_capacity(sig.params.len() + 1);
    // A struct (or `long double`) result: room for it, its address as the
    // hidden first argument.
    let sret = if abi::returns_indirectly(&sig.ret) {
        let block = Allocation::new(
            &ctx.mem,
            sig.ret.sizeof().py()?,
            sig.ret.align().unwrap_or(1),
        )?;
        values.push(WasmVal::I32(block.addr() as i32));
        Some(block)
    } else {
        None
    };
    for (param, arg) in sig.params.iter().zip(args.iter()) {
        let bytes = encode_arg(ctx, param, &arg, &mut temps)?;
        if abi::is_indirect(param) {
            // A struct argument: a copy in guest memory, passed by address.
            let copy = Allocation::new(&ctx.mem, bytes.len() as u64, param.align().unwrap_or(1))?;
            ctx.mem.write(copy.addr(), &bytes).py()?;
            values.push(WasmVal::I32(copy.addr() as i32));
            temps.keep(copy);
        } else {
            values.extend(abi::to_wasm_values(param, &bytes).py()?);
        }
    }
    let out = crate::base::gil::run_guest(py, || sandbox.call_indirect(index, &signature, &values))
        .py()?;
    temps.finish(py)?;
    let bytes = match &sret {
        Some(block) => {
            let mut bytes = vec![0u8; sig.ret.size().unwrap_or(0) as usize];
            ctx.mem.read(block.addr(), &mut bytes).py()?;
            bytes
        }
        None => out.map(|v| abi::from_wasm(&sig.ret, v)).unwrap_or_default(),
    };
    value_from_bytes(py, ctx, &sig.ret, &bytes)
}
