//! Python objects as wasm values for direct calls into the sandbox
//! (`_cffi_d_NAME`, see `src/build`). Which wasm value carries each C type, and
//! the conversion between a C value's bytes and that value, are the core's
//! (`backend::wasm::abi`), shared with callbacks and function-pointer calls.

use std::sync::Arc;

use pyo3::prelude::*;
use wasmcffi::backend::wasm::{abi, WasmType, WasmVal};
use wasmcffi::layout::{CKind, CType};

use crate::base::exceptions::CoreResultExt;
use crate::marshal::args::{
    encode_arg, fast_pointer, fast_result, fast_word, value_from_bytes, CallTemps,
};
use crate::memory::context::FfiContext;

/// Whether a function of these C parameter and result types has exactly the wasm
/// signature `params -> results` and passes everything as plain values (no struct
/// by value), so it can be called directly with wasm values.
pub fn direct_signature(
    c_params: &[CType],
    c_ret: &CType,
    params: &[WasmType],
    results: &[WasmType],
) -> bool {
    // Records and `long double` take the glue's path (one C value, several or
    // no wasm values).
    let by_value_record = std::iter::once(c_ret).chain(c_params).any(|ty| {
        matches!(ty.kind(), CKind::Record(_))
            || matches!(ty.kind(), CKind::Prim(_, l) if l.class == wasmcffi::layout::PrimClass::LongDouble)
    });
    !by_value_record
        && abi::signature(c_ret, c_params)
            .is_ok_and(|s| s.params == params && s.result.as_slice() == results)
}

/// Python argument `arg` for parameter `param`, which travels as `ty` (checked
/// once by [`direct_signature`]), as its wasm value; pointer arguments given as
/// bytes, str or lists become temporaries in `temps`.
pub fn to_wasm(
    ctx: &Arc<FfiContext>,
    param: &CType,
    ty: WasmType,
    arg: &Bound<'_, PyAny>,
    temps: &mut CallTemps,
) -> PyResult<WasmVal> {
    // The common case (an int or float in range) skips the bytes round trip:
    // `fast_word` already extends integers to 64 bits.
    if let Some(word) = fast_word(param, arg) {
        return Ok(abi::from_word(word, ty));
    }
    if let Some(addr) = fast_pointer(ctx, param, arg) {
        return Ok(abi::from_word(addr?, ty));
    }
    abi::to_wasm(param, &encode_arg(ctx, param, arg, temps)?)
        .py()?
        .ok_or_else(|| {
            pyo3::exceptions::PyTypeError::new_err(format!(
                "ctype '{}' is not a valid argument type",
                param.cname()
            ))
        })
}

/// The Python value of result `value` of C type `ret` (`None` for `void`).
pub fn from_wasm(
    py: Python<'_>,
    ctx: &Arc<FfiContext>,
    ret: &CType,
    value: Option<WasmVal>,
) -> PyResult<Py<PyAny>> {
    let Some(value) = value else {
        return Ok(py.None());
    };
    if let Some(result) = fast_result(py, ctx, ret, abi::word_of(value)) {
        return result;
    }
    value_from_bytes(py, ctx, ret, &abi::from_wasm(ret, value))
}
