//! Calls of function-pointer cdata and `ffi.callback()`: each dispatched to
//! its backend (libffi call plans and closures on the host, the sandbox's
//! function table for a sandboxed module), over the marshalling of `marshal`.

use crate::base::exceptions::CoreResultExt;
use crate::marshal::args::{
    check_arity, encode_arg, encode_vararg, fast_pointer, fast_result, fast_word, value_from_bytes,
    ArgBytes, Args, CallTemps, CallbackTarget,
};
use crate::memory::context::FfiContext;
use crate::objects::cdata::{Flavor, PyCData};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::IntoPyObjectExt;
use std::sync::Arc;
use wasmcffi::backend::native::{ArgBuffer, CallPlan, Closure};
use wasmcffi::cdata::{Addr, HostMemory, Memory};
use wasmcffi::layout::{CKind, CType};

/// The plan of a non-variadic function pointer, made once per cdata.
fn plan_of<'a>(cdata: &'a PyCData, ret: &CType, params: &[CType]) -> PyResult<&'a CallPlan> {
    if let Some(plan) = cdata.plan.get() {
        return Ok(plan);
    }
    let plan = CallPlan::new(ret, params, None).py()?;
    Ok(cdata.plan.get_or_init(|| Box::new(plan)))
}

/// Calls the function-pointer cdata `func` with Python arguments.
pub fn call_function(
    py: Python<'_>,
    func: &PyCData,
    args: Args<'_, '_>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let CKind::Function(sig) = func.ctype.kind() else {
        return Err(PyTypeError::new_err(format!(
            "cdata '{}' is not callable",
            func.ctype.cname()
        )));
    };
    if kwargs.is_some_and(|k| !k.is_empty()) {
        return Err(PyTypeError::new_err(format!(
            "'{}' takes no keyword arguments",
            func.ctype.cname()
        )));
    }
    if func.addr == 0 {
        return Err(PyRuntimeError::new_err(format!(
            "cannot call null pointer pointer from cdata '{}'",
            func.ctype.cname()
        )));
    }
    check_arity(&func.ctype, sig, args.len())?;
    let fixed = sig.params.len();
    let ctx = &func.ctx;
    if ctx.target() != wasmcffi::layout::Target::Host {
        // A guest function pointer is a table index: never called as a host address.
        return match ctx.sandbox() {
            Some(sandbox) => crate::calls::guest_callback::call(py, sandbox, func, sig, args),
            None => Err(PyRuntimeError::new_err(format!(
                "cannot call '{}': this ffi has no sandbox to run it in",
                func.ctype.cname()
            ))),
        };
    }
    // As CFFI, what libffi cannot pass is refused before any argument is converted.
    let fixed_plan = if sig.variadic {
        wasmcffi::layout::check_libffi_signature(&sig.ret, &sig.params).py()?;
        None
    } else {
        Some(plan_of(func, &sig.ret, &sig.params)?)
    };
    let mut temps = CallTemps::default();
    let mut buffer = ArgBuffer::new();
    for (param, arg) in sig.params.iter().zip(args.iter()) {
        if let Some(word) = fast_word(param, &arg) {
            buffer.push_word(word);
        } else if let Some(addr) = fast_pointer(ctx, param, &arg) {
            buffer.push_word(addr?);
        } else {
            buffer.push(&encode_arg(ctx, param, &arg, &mut temps)?);
        }
    }
    let variadic_plan;
    let plan = match fixed_plan {
        Some(plan) => plan,
        None => {
            let mut params = sig.params.clone();
            for (i, arg) in args.iter().enumerate().skip(fixed) {
                let (ty, bytes) = encode_vararg(ctx, i, &arg)?;
                params.push(ty);
                buffer.push(&bytes);
            }
            variadic_plan = CallPlan::new(&sig.ret, &params, Some(fixed)).py()?;
            &variadic_plan
        }
    };
    let addr = func.addr;
    const INLINE_WORDS: usize = 4;
    let mut inline = [0u64; INLINE_WORDS];
    let mut spilled = Vec::new();
    let ret: &mut [u64] = if plan.ret_words() <= INLINE_WORDS {
        &mut inline[..plan.ret_words()]
    } else {
        spilled.resize(plan.ret_words(), 0);
        &mut spilled
    };
    py.detach(|| plan.call_into(addr, &buffer, ret)).py()?;
    temps.finish(py)?;
    if let Some(value) = fast_result(py, ctx, &sig.ret, ret[0]) {
        return value;
    }
    let bytes: Vec<u8> = ret
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .take(plan.ret_len())
        .collect();
    value_from_bytes(py, ctx, &sig.ret, &bytes)
}

/// `ffi.callback(fptr_type, function, error, onerror)`: a C function pointer
/// that calls `function` (a libffi closure on the host; a slot of the guest's
/// function table for a sandboxed module's ffi).
pub fn make_callback(
    py: Python<'_>,
    ctx: &Arc<FfiContext>,
    fptr: CType,
    function: &Bound<'_, PyAny>,
    error: Option<&Bound<'_, PyAny>>,
    onerror: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let target = CallbackTarget::new(ctx, &fptr, false, function, error, onerror)?;
    if let Some(sandbox) = ctx.sandbox() {
        return crate::calls::guest_callback::make(py, ctx, sandbox, fptr, target);
    }
    if ctx.target() != wasmcffi::layout::Target::Host {
        // Never a host closure (a host address) behind a guest function pointer.
        return Err(PyRuntimeError::new_err(
            "ffi.callback() needs the sandbox of a loaded module on this ffi",
        ));
    }
    let plan = CallPlan::new(&target.ret, &target.params, None).py()?;
    let callable = function.clone().unbind();
    let closure = Closure::new(
        plan,
        Box::new(move |args, result| {
            Python::attach(|py| {
                let bytes = target.invoke(py, |i, ty| {
                    let size = ty.size().unwrap_or(0) as usize;
                    ArgBytes::read(&HostMemory, args[i] as usize as Addr, size)
                });
                if !bytes.is_empty() {
                    // The result slot has room for the result type (libffi guarantees it).
                    let _ = HostMemory.write(result as usize as Addr, &bytes);
                }
            });
        }),
    )
    .py()?;
    let mut cdata = PyCData::plain(ctx, fptr.clone(), closure.code_ptr());
    cdata.keep = Some(Arc::new(closure));
    cdata.flavor = Flavor::Callback(callable);
    cdata.into_py_any(py)
}
