//! C scalars as wasm values: how the wasm32 C ABI passes each scalar type, and
//! the conversions between Python objects and those values for direct calls
//! (`_cffi_d_NAME`, see `src/build`).

use std::sync::Arc;

use pyo3::prelude::*;
use wasmcffi::backend::wasm::{WasmType, WasmVal};
use wasmcffi::layout::{CKind, CType, PrimClass, PrimLayout};

use crate::call::{encode_arg, fast_result, fast_word, value_from_bytes, CallTemps};
use crate::context::FfiContext;

/// The wasm type a value of C type `ty` travels as, or `None` when the wasm32 C
/// ABI does not pass it as one plain value (records, `long double`, complex).
/// `void` results are `Ok(None)` in [`direct_signature`], not here.
pub fn wasm_type_of(ty: &CType) -> Option<WasmType> {
    let int = |size: u64| match size {
        1..=4 => Some(WasmType::I32),
        8 => Some(WasmType::I64),
        _ => None,
    };
    match ty.kind() {
        CKind::Prim(_, layout) => match layout.class {
            PrimClass::Float if layout.size == 4 => Some(WasmType::F32),
            PrimClass::Float if layout.size == 8 => Some(WasmType::F64),
            PrimClass::Int { .. }
            | PrimClass::Char
            | PrimClass::WideChar { .. }
            | PrimClass::Bool => int(layout.size),
            PrimClass::Float | PrimClass::LongDouble | PrimClass::Complex => None,
        },
        CKind::Enum(e) => int(e.repr.size),
        CKind::Pointer(_) | CKind::Function(_) => Some(WasmType::I32),
        CKind::Void | CKind::Array { .. } | CKind::Record(_) => None,
    }
}

/// Whether a function of these C parameter and result types has exactly the wasm
/// signature `params -> results` under the wasm32 C ABI (so it can be called
/// directly with wasm values).
pub fn direct_signature(
    c_params: &[CType],
    c_ret: &CType,
    params: &[WasmType],
    results: &[WasmType],
) -> bool {
    let ret_fits = match c_ret.kind() {
        CKind::Void => results.is_empty(),
        _ => wasm_type_of(c_ret).is_some_and(|t| results == [t]),
    };
    ret_fits
        && c_params.len() == params.len()
        && c_params
            .iter()
            .zip(params)
            .all(|(c, w)| wasm_type_of(c) == Some(*w))
}

/// The layout of an integer-like scalar (for sign extension), if it is one.
fn int_layout(ty: &CType) -> Option<(u64, bool)> {
    match ty.kind() {
        CKind::Prim(_, PrimLayout { size, class, .. }) => match class {
            PrimClass::Int { signed } | PrimClass::WideChar { signed } => Some((*size, *signed)),
            // `char` is signed on wasm32 (and on x86-64, the only other target).
            PrimClass::Char => Some((*size, true)),
            PrimClass::Bool => Some((*size, false)),
            _ => None,
        },
        CKind::Enum(e) => match e.repr.class {
            PrimClass::Int { signed } => Some((e.repr.size, signed)),
            _ => None,
        },
        _ => None,
    }
}

/// Python argument `arg` for parameter `param` as the wasm value `ty`; pointer
/// arguments given as bytes, str or lists become temporaries in `temps`.
pub fn to_wasm(
    ctx: &Arc<FfiContext>,
    param: &CType,
    ty: WasmType,
    arg: &Bound<'_, PyAny>,
    temps: &mut CallTemps,
) -> PyResult<WasmVal> {
    let word = match fast_word(param, arg) {
        Some(word) => word,
        None => {
            let bytes = encode_arg(ctx, param, arg, temps)?;
            let mut word = [0u8; 8];
            let n = bytes.len().min(8);
            word[..n].copy_from_slice(&bytes[..n]);
            let word = u64::from_le_bytes(word);
            match int_layout(param) {
                // The ABI passes narrow signed integers sign-extended.
                Some((size, true)) if size < 8 => {
                    let shift = 64 - 8 * size;
                    (((word << shift) as i64) >> shift) as u64
                }
                _ => word,
            }
        }
    };
    Ok(match ty {
        WasmType::I32 => WasmVal::I32(word as u32 as i32),
        WasmType::I64 => WasmVal::I64(word as i64),
        WasmType::F32 => WasmVal::F32(f32::from_bits(word as u32)),
        WasmType::F64 => WasmVal::F64(f64::from_bits(word)),
    })
}

/// The Python value of result `value` of C type `ret` (`None` for `void`).
pub fn from_wasm(
    py: Python<'_>,
    ctx: &Arc<FfiContext>,
    ret: &CType,
    value: Option<WasmVal>,
) -> PyResult<PyObject> {
    let word = match value {
        None => return Ok(py.None()),
        Some(WasmVal::I32(v)) => u64::from(v as u32),
        Some(WasmVal::I64(v)) => v as u64,
        Some(WasmVal::F32(v)) => u64::from(v.to_bits()),
        Some(WasmVal::F64(v)) => v.to_bits(),
    };
    if let Some(value) = fast_result(py, ret, word) {
        return value;
    }
    let size = ret.size().unwrap_or(0).min(8) as usize;
    value_from_bytes(py, ctx, ret, &word.to_le_bytes()[..size])
}
