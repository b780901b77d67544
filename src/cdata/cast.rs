//! `ffi.cast()` to primitive, enum, pointer, function-pointer and array types:
//! C's conversions, wrapping integers instead of raising `OverflowError`.

#![forbid(unsafe_code)]
#![warn(clippy::cast_possible_truncation)]

use crate::error::{Error, Result};
use crate::layout::{CKind, CType, PrimClass};

use super::prim::{
    cdata_int, float_bytes, float_wrapped_bits, int_bytes, prim_layout, read_complex, read_float,
};
use super::{Memory, Value};

/// Where a cast gets an integer from: CFFI's `cast_to_integer_or_char`, or
/// (`chars: false`) the plain `int()` it applies for pointer targets.
fn loose_int(mem: &dyn Memory, target: &CType, value: &Value, chars: bool) -> Result<u128> {
    match value {
        Value::Int(i) => Ok(*i as u128),
        Value::Bool(b) => Ok(u128::from(*b)),
        Value::Float(f) => float_wrapped_bits(*f),
        Value::HugeInt(_) => crate::bail!(Overflow, "int too big to convert"),
        Value::CData { ty, addr } => {
            if ty.is_pointer_like() || matches!(ty.kind(), CKind::Array { .. }) {
                return Ok(u128::from(*addr));
            }
            if let Some(i) = cdata_int(mem, ty, *addr)? {
                return Ok(i as u128);
            }
            match prim_layout(ty) {
                Some(l) if matches!(l.class, PrimClass::Float | PrimClass::LongDouble) => {
                    float_wrapped_bits(read_float(mem, *addr, l)?)
                }
                _ => crate::bail!(Type, "int() not supported on cdata '{}'", ty.cname()),
            }
        }
        Value::Bytes(b) if chars && b.len() == 1 => Ok(u128::from(b[0])),
        Value::Bytes(_) if chars => {
            crate::bail!(
                Type,
                "initializer for ctype 'char' must be a bytes of length 1, not bytes"
            )
        }
        Value::Str(s) if chars && s.len() == 1 => Ok(u128::from(s[0])),
        Value::Str(s) if chars => {
            crate::bail!(
                Type,
                "cannot cast unicode string of length {} to ctype '{}'",
                s.len(),
                target.cname()
            )
        }
        _ => crate::bail!(Type, "an integer is required"),
    }
}

/// Whether a `_Bool` cast of `value` is true (any non-zero value).
fn truth(mem: &dyn Memory, target: &CType, value: &Value) -> Result<bool> {
    match value {
        Value::Float(f) => Ok(*f != 0.0),
        Value::HugeInt(_) => Ok(true),
        Value::Int(_) | Value::Bool(_) | Value::CData { .. } | Value::Bytes(_) | Value::Str(_) => {
            if let Value::CData { ty, addr } = value {
                match prim_layout(ty).map(|l| (l, l.class)) {
                    // Its own value: `1e-500L` is true though no double holds it.
                    Some((_, PrimClass::LongDouble)) => {
                        let mut bytes = [0u8; 16];
                        mem.read(*addr, &mut bytes)?;
                        return Ok(!super::prim::long_double_is_zero(&bytes, mem.target()));
                    }
                    Some((l, PrimClass::Float)) => return Ok(read_float(mem, *addr, l)? != 0.0),
                    _ => {}
                }
            }
            Ok(loose_int(mem, target, value, true)? != 0)
        }
        _ => crate::bail!(Type, "integer/float expected"),
    }
}

/// The real number a float or complex cast takes from `value`.
fn loose_float(mem: &dyn Memory, target: &CType, value: &Value) -> Result<f64> {
    let cannot = |what: &str| {
        Error::Type(format!(
            "cannot cast {what} object to ctype '{}'",
            target.cname()
        ))
    };
    match value {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        Value::HugeInt(_) => crate::bail!(Overflow, "int too large to convert to float"),
        Value::Bytes(b) if b.len() == 1 => Ok(f64::from(b[0])),
        Value::Bytes(_) => Err(cannot("bytes")),
        Value::Str(s) if s.len() == 1 => Ok(f64::from(s[0])),
        Value::Str(_) => Err(cannot("str")),
        Value::CData { ty, addr } => {
            if let Some(i) = cdata_int(mem, ty, *addr)? {
                return Ok(i as f64);
            }
            match prim_layout(ty) {
                Some(l) if matches!(l.class, PrimClass::Float | PrimClass::LongDouble) => {
                    read_float(mem, *addr, l)
                }
                Some(_) => crate::bail!(Type, "must be real number, not complex"),
                None => crate::bail!(
                    Type,
                    "cannot cast ctype '{}' to ctype '{}'",
                    ty.cname(),
                    target.cname()
                ),
            }
        }
        other => crate::bail!(Type, "must be real number, not {}", other.type_name()),
    }
}

/// `ffi.cast(target_ty, value)`: the bytes of the new primitive, enum or
/// pointer value (little-endian, `target_ty`'s size). For a cast to an array
/// type `T[N]` (a CFFI extension) the bytes are the address the array cdata
/// stands for, pointer-sized.
///
/// Integers wrap modulo 2^bits as in C; floats are truncated toward zero
/// first; `_Bool` becomes 1 for any non-zero value. A Python int too large
/// for 128 bits should be passed as `Value::Int(x mod 2**128)` (its low bits are
/// all a cast uses); `Value::HugeInt` is refused with `Error::Overflow`.
///
/// # Errors
/// `Error::Type` with CFFI's messages for values and types a cast refuses
/// (`cannot cast to ctype 'struct foo'`, `an integer is required`, …);
/// `Error::Value`/`Error::Overflow` for NaN and infinite floats cast to integers.
pub fn cast_value(target_ty: &CType, value: &Value, mem: &dyn Memory) -> Result<Vec<u8>> {
    let ptr_size = mem.target().pointer_size();
    match target_ty.kind() {
        CKind::Pointer(_) | CKind::Function(_) | CKind::Array { len: Some(_), .. } => {
            int_bytes(loose_int(mem, target_ty, value, false)?, ptr_size)
        }
        CKind::Prim(_, l) => match l.class {
            PrimClass::Int { .. } | PrimClass::Char | PrimClass::WideChar { .. } => {
                int_bytes(loose_int(mem, target_ty, value, true)?, l.size)
            }
            PrimClass::Bool => Ok(vec![u8::from(truth(mem, target_ty, value)?)]),
            PrimClass::Float | PrimClass::LongDouble => {
                if let (Value::CData { ty, addr }, PrimClass::LongDouble) = (value, l.class) {
                    if prim_layout(ty).map(|s| s.class) == Some(PrimClass::LongDouble) {
                        let mut b = vec![0u8; 16];
                        mem.read(*addr, &mut b)?;
                        return Ok(b);
                    }
                }
                Ok(float_bytes(
                    loose_float(mem, target_ty, value)?,
                    l.size,
                    l.class,
                    mem.target(),
                ))
            }
            PrimClass::Complex => {
                let (re, im) = match value {
                    Value::Complex(re, im) => (*re, *im),
                    Value::CData { ty, addr }
                        if prim_layout(ty).map(|s| s.class) == Some(PrimClass::Complex) =>
                    {
                        let src = prim_layout(ty)
                            .ok_or_else(|| Error::Internal("complex layout".into()))?;
                        read_complex(mem, *addr, src)?
                    }
                    other => (loose_float(mem, target_ty, other)?, 0.0),
                };
                let half = l.size / 2;
                let mut out = float_bytes(re, half, PrimClass::Float, mem.target());
                out.extend(float_bytes(im, half, PrimClass::Float, mem.target()));
                Ok(out)
            }
        },
        CKind::Enum(e) => int_bytes(loose_int(mem, target_ty, value, true)?, e.repr.size),
        _ => crate::bail!(Type, "cannot cast to ctype '{}'", target_ty.cname()),
    }
}
