//! The one unchecked call into guest code, for [`super::Sandbox::call_function`].
//!
//! `Func::call` checks the argument types against the function's type on every
//! call, which costs a type-registry lookup (a lock and a reference count); the
//! sandbox checks a function's type once, when it first finds the function in an
//! instance, and then calls it with `Func::call_unchecked` here.

use wasmtime::{AsContextMut, Func, ValRaw};

use super::values::{WasmType, WasmVal};
use super::wasi::StoreData;

/// Calls `func` with `args`, returning its one result of type `result` (if any).
///
/// The caller guarantees that `func` belongs to `store` and that its wasm type is
/// exactly `args`' types → `result` (checked once per instance by the sandbox).
pub(crate) fn call_checked_func(
    func: &Func,
    mut store: impl AsContextMut<Data = StoreData>,
    args: &[WasmVal],
    result: Option<WasmType>,
) -> wasmtime::Result<Option<WasmVal>> {
    const INLINE: usize = 8;
    let mut inline = [ValRaw::i32(0); INLINE];
    let mut spilled = Vec::new();
    let slots = args.len().max(1);
    let raw: &mut [ValRaw] = if slots <= INLINE {
        &mut inline[..slots]
    } else {
        spilled.resize(slots, ValRaw::i32(0));
        &mut spilled
    };
    for (slot, arg) in raw.iter_mut().zip(args) {
        *slot = match *arg {
            WasmVal::I32(v) => ValRaw::i32(v),
            WasmVal::I64(v) => ValRaw::i64(v),
            WasmVal::F32(v) => ValRaw::f32(v.to_bits()),
            WasmVal::F64(v) => ValRaw::f64(v.to_bits()),
        };
    }
    // SAFETY: `raw` is a valid array with room for every parameter and for the at
    // most one result; the parameters are written in order with the types the
    // function takes and no reference types are involved (the caller checked the
    // function's type, see above); `func` belongs to `store`; no async call is in
    // progress (the engine has no async support enabled).
    unsafe { func.call_unchecked(&mut store, raw as *mut [ValRaw])? };
    let out = raw[0];
    Ok(result.map(|ty| match ty {
        WasmType::I32 => WasmVal::I32(out.get_i32()),
        WasmType::I64 => WasmVal::I64(out.get_i64()),
        WasmType::F32 => WasmVal::F32(f32::from_bits(out.get_f32())),
        WasmType::F64 => WasmVal::F64(f64::from_bits(out.get_f64())),
    }))
}
