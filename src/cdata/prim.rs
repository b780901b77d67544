//! Primitive values: little-endian integer, float, `long double` and complex
//! encodings, and CFFI's rules for turning a [`Value`] into one primitive.
//!
//! Every function here works on byte slices or through `&dyn Memory`, so the host
//! and a wasm sandbox share them. `long double` is x87 80-bit extended precision
//! (in 16 bytes) on an x86 host and IEEE binary128 on wasm32; both are converted
//! to and from `f64` by bit manipulation.

#![forbid(unsafe_code)]
// Encodings here truncate on purpose (C's integer and float conversions, code
// units), so `clippy::cast_possible_truncation` is not enabled in this module.

use crate::error::{Error, Result};
use crate::layout::{CKind, CType, PrimClass, PrimLayout, Target};

use super::repr::cdata_repr;
use super::{Addr, Memory, Value};

/// The primitive layout of an integer-like, float or complex type (enums use their repr).
pub(crate) fn prim_layout(ty: &CType) -> Option<PrimLayout> {
    match ty.kind() {
        CKind::Prim(_, l) => Some(*l),
        CKind::Enum(e) => Some(e.repr),
        _ => None,
    }
}

/// True when `ty` is an integer-like primitive as CFFI's `int()` sees it
/// (integers, enums, `char`, wide chars, `_Bool`).
pub(crate) fn is_int_like(ty: &CType) -> bool {
    matches!(
        prim_layout(ty).map(|l| l.class),
        Some(
            PrimClass::Int { .. } | PrimClass::Char | PrimClass::WideChar { .. } | PrimClass::Bool
        )
    )
}

/// Reads `size` (≤ 16) little-endian bytes as an unsigned integer.
pub(crate) fn read_uint(mem: &dyn Memory, addr: Addr, size: u64) -> Result<u128> {
    let mut buf = [0u8; 16];
    let n = usize::try_from(size)
        .ok()
        .filter(|n| *n <= 16)
        .ok_or_else(|| bad_size(size))?;
    mem.read(addr, &mut buf[..n])?;
    Ok(u128::from_le_bytes(buf))
}

/// Reads `size` (≤ 16) little-endian bytes as a sign-extended integer.
pub(crate) fn read_sint(mem: &dyn Memory, addr: Addr, size: u64) -> Result<i128> {
    let raw = read_uint(mem, addr, size)?;
    let shift = 128 - 8 * u32::try_from(size).unwrap_or(16);
    Ok(((raw << shift) as i128) >> shift)
}

/// The low `size` bytes of `value`, little-endian (truncating, as C does).
pub(crate) fn int_bytes(value: u128, size: u64) -> Result<Vec<u8>> {
    let n = usize::try_from(size)
        .ok()
        .filter(|n| *n <= 16)
        .ok_or_else(|| bad_size(size))?;
    Ok(value.to_le_bytes()[..n].to_vec())
}

fn bad_size(size: u64) -> Error {
    Error::Internal(format!("primitive of {size} bytes"))
}

/// Reads an integer of layout `l`, signed or not as its class says.
pub(crate) fn read_int(mem: &dyn Memory, addr: Addr, l: PrimLayout) -> Result<i128> {
    match l.class {
        PrimClass::Int { signed: true } | PrimClass::WideChar { signed: true } => {
            read_sint(mem, addr, l.size)
        }
        _ => Ok(read_uint(mem, addr, l.size)? as i128),
    }
}

/// True when `long double` on `target` is x87 extended precision (else binary128).
fn long_double_is_x87(target: Target) -> bool {
    target == Target::Host && cfg!(any(target_arch = "x86_64", target_arch = "x86"))
}

/// Encodes `x` as a 16-byte `long double` of `target`.
pub fn long_double_to_bytes(x: f64, target: Target) -> [u8; 16] {
    let bits = x.to_bits();
    let sign = (bits >> 63) as u128;
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    // (exponent field of the wide format, significand without the implicit bit, 52 bits)
    let (wide_exp, frac52, explicit_one): (u32, u64, bool) = if exp == 0x7ff {
        (0x7fff, frac, true)
    } else if exp == 0 && frac == 0 {
        (0, 0, false)
    } else if exp == 0 {
        // Subnormal double (frac * 2^-1074): normalise; the wide formats have the range.
        let top = 63 - frac.leading_zeros(); // index of the highest set bit, < 52
        let m = (frac << (52 - top)) & ((1u64 << 52) - 1);
        ((top as i32 - 1074 + 16383) as u32, m, true)
    } else {
        ((exp - 1023 + 16383) as u32, frac, true)
    };
    let word: u128 = if long_double_is_x87(target) {
        let mant = (u64::from(explicit_one) << 63) | (frac52 << 11);
        (sign << 79) | ((wide_exp as u128) << 64) | mant as u128
    } else {
        (sign << 127) | ((wide_exp as u128) << 112) | ((frac52 as u128) << 60)
    };
    word.to_le_bytes()
}

/// The parts of a 16-byte `long double` of `target`: sign, biased exponent
/// (0x7fff: infinite or NaN), significand (with its explicit or implicit
/// integer bit) and the number of fraction bits.
fn long_double_parts(bytes: &[u8; 16], target: Target) -> (bool, i32, u128, i32) {
    let word = u128::from_le_bytes(*bytes);
    let (neg, exp, mant): (bool, i32, u128) = if long_double_is_x87(target) {
        (
            word >> 79 & 1 == 1,
            (word >> 64) as i32 & 0x7fff,
            word & u128::from(u64::MAX),
        )
    } else {
        // binary128: 112-bit fraction plus the implicit bit (absent when the exponent is 0).
        let e = (word >> 112) as i32 & 0x7fff;
        let f = word & ((1u128 << 112) - 1);
        (
            word >> 127 == 1,
            e,
            if e == 0 { f } else { f | 1u128 << 112 },
        )
    };
    let mant_bits = if long_double_is_x87(target) { 63 } else { 112 };
    (neg, exp, mant, mant_bits)
}

/// Decodes a 16-byte `long double` of `target` to the nearest `f64`.
pub fn long_double_from_bytes(bytes: &[u8; 16], target: Target) -> f64 {
    let (neg, exp, mant, mant_bits) = long_double_parts(bytes, target);
    let sign = if neg { -1.0 } else { 1.0 };
    if exp == 0x7fff {
        let frac = if long_double_is_x87(target) {
            mant & ((1u128 << 63) - 1)
        } else {
            mant & ((1u128 << 112) - 1)
        };
        return if frac == 0 {
            sign * f64::INFINITY
        } else {
            f64::NAN
        };
    }
    if mant == 0 {
        return sign * 0.0;
    }
    // value = mant * 2^(exp_unbiased - mant_bits); denormals use exponent 1.
    let e = if exp == 0 { 1 } else { exp } - 16383 - mant_bits;
    sign * scale(mant, e)
}

/// Whether a 16-byte `long double` of `target` is zero (of either sign): its
/// value, not the `f64` it rounds to (`1e-500L` is not zero).
pub fn long_double_is_zero(bytes: &[u8; 16], target: Target) -> bool {
    let (_, exp, mant, _) = long_double_parts(bytes, target);
    exp == 0 && mant == 0
}

/// A 16-byte `long double` of `target` in C's `%LE` form, as CFFI's repr shows
/// it: also the values beyond a `double`'s range (`1.000000E-500`).
pub fn long_double_repr(bytes: &[u8; 16], target: Target) -> String {
    let (neg, exp, mant, mant_bits) = long_double_parts(bytes, target);
    let approx = long_double_from_bytes(bytes, target);
    if exp == 0x7fff || mant == 0 || (approx.is_normal() && approx.is_finite()) {
        return super::repr::format_long_double(approx);
    }
    // value = mant * 2^e: its decimal exponent and significand through logarithms,
    // precise to far more than the 7 digits shown.
    let e = if exp == 0 { 1 } else { exp } - 16383 - mant_bits;
    let log10 = ((mant as f64).log2() + f64::from(e)) * std::f64::consts::LOG10_2;
    let mut exp10 = log10.floor();
    let mut digits = format!("{:.6}", 10f64.powf(log10 - exp10));
    if digits.starts_with("10") {
        exp10 += 1.0;
        digits = format!("{:.6}", 1.0);
    }
    let sign = if neg { "-" } else { "" };
    let exp_sign = if exp10 < 0.0 { '-' } else { '+' };
    format!("{sign}{digits}E{exp_sign}{:02}", exp10.abs() as i64)
}

/// `mant * 2^e`, correctly rounded to `f64` (round to nearest, ties to even).
fn scale(mant: u128, e: i32) -> f64 {
    // Keep 54+ significant bits plus a sticky bit, then let the final product round once.
    let lz = mant.leading_zeros() as i32;
    let top = 128 - lz; // number of significant bits
    let (m, e) = if top > 64 {
        let drop = top - 64;
        let sticky = u128::from(mant & ((1u128 << drop) - 1) != 0);
        (((mant >> drop) | sticky) as u64, e + drop)
    } else {
        (mant as u64, e)
    };
    // m < 2^64 and exact in u64; convert with rounding handled by two exact steps.
    let hi = (m >> 11) as f64 * 2048.0; // exact: 53 bits
    let lo = (m & 2047) as f64; // exact
                                // (hi + lo) rounds once to nearest; scaling by a power of two is exact unless
                                // the result is subnormal or overflows, where the tiny double rounding is accepted.
    let v = hi + lo;
    mul_pow2(v, e)
}

fn mul_pow2(mut v: f64, mut e: i32) -> f64 {
    while e > 1000 {
        v *= 2f64.powi(1000);
        e -= 1000;
        if v.is_infinite() {
            return v;
        }
    }
    while e < -1000 {
        v *= 2f64.powi(-1000);
        e += 1000;
        if v == 0.0 {
            return v;
        }
    }
    v * 2f64.powi(e)
}

/// Encodes `x` as a float of `size` bytes (4, 8 or 16 for `long double`).
pub(crate) fn float_bytes(x: f64, size: u64, class: PrimClass, target: Target) -> Vec<u8> {
    match (class, size) {
        (PrimClass::LongDouble, _) => long_double_to_bytes(x, target).to_vec(),
        (_, 4) => (x as f32).to_le_bytes().to_vec(),
        _ => x.to_le_bytes().to_vec(),
    }
}

/// Reads a `float`, `double` or `long double` at `addr`.
pub(crate) fn read_float(mem: &dyn Memory, addr: Addr, l: PrimLayout) -> Result<f64> {
    if l.class == PrimClass::LongDouble {
        let mut b = [0u8; 16];
        mem.read(addr, &mut b)?;
        return Ok(long_double_from_bytes(&b, mem.target()));
    }
    if l.size == 4 {
        let mut b = [0u8; 4];
        mem.read(addr, &mut b)?;
        Ok(f64::from(f32::from_le_bytes(b)))
    } else {
        let mut b = [0u8; 8];
        mem.read(addr, &mut b)?;
        Ok(f64::from_le_bytes(b))
    }
}

/// Reads a complex number (two floats of half the layout's size each).
pub(crate) fn read_complex(mem: &dyn Memory, addr: Addr, l: PrimLayout) -> Result<(f64, f64)> {
    let half = PrimLayout {
        size: l.size / 2,
        align: l.align,
        class: PrimClass::Float,
    };
    Ok((
        read_float(mem, addr, half)?,
        read_float(mem, addr + half.size, half)?,
    ))
}

fn complex_bytes(re: f64, im: f64, size: u64, target: Target) -> Vec<u8> {
    let mut out = float_bytes(re, size / 2, PrimClass::Float, target);
    out.extend(float_bytes(im, size / 2, PrimClass::Float, target));
    out
}

/// The integer a primitive cdata stands for, CFFI's `int()` on it when the
/// class is integer-like: `char` is its unsigned byte, wide chars their code unit.
pub(crate) fn cdata_int(mem: &dyn Memory, ty: &CType, addr: Addr) -> Result<Option<i128>> {
    match prim_layout(ty) {
        Some(l) if is_int_like(ty) => Ok(Some(read_int(mem, addr, l)?)),
        _ => Ok(None),
    }
}

/// CFFI's `_my_PyLong_AsLongLong` / `AsUnsignedLongLong(strict)`: the integer
/// of an initializer, or the error CFFI gives for it.
fn strict_int(mem: &dyn Memory, value: &Value, unsigned: bool) -> Result<i128> {
    let v = match value {
        Value::Int(i) => *i,
        Value::Bool(b) => i128::from(*b),
        Value::HugeInt(positive) => {
            if unsigned && !positive {
                crate::bail!(Overflow, "can't convert negative number to unsigned");
            }
            crate::bail!(Overflow, "int too big to convert");
        }
        Value::CData { ty, addr } => match cdata_int(mem, ty, *addr)? {
            Some(i) => i,
            None if matches!(
                prim_layout(ty).map(|l| l.class),
                Some(PrimClass::Float | PrimClass::LongDouble)
            ) =>
            {
                crate::bail!(Type, "an integer is required")
            }
            None => crate::bail!(Type, "int() not supported on cdata '{}'", ty.cname()),
        },
        _ => crate::bail!(Type, "an integer is required"),
    };
    if unsigned && v < 0 {
        crate::bail!(Overflow, "can't convert negative number to unsigned");
    }
    let fits = if unsigned {
        v <= i128::from(u64::MAX)
    } else {
        i64::try_from(v).is_ok()
    };
    if !fits {
        crate::bail!(Overflow, "int too big to convert");
    }
    Ok(v)
}

/// Python's `float(value)` as CFFI uses it for `float`/`double`/`long double` initializers.
fn strict_float(mem: &dyn Memory, value: &Value) -> Result<f64> {
    match value {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        Value::HugeInt(_) => crate::bail!(Overflow, "int too large to convert to float"),
        Value::CData { ty, addr } => match prim_layout(ty) {
            Some(l) if matches!(l.class, PrimClass::Float | PrimClass::LongDouble) => {
                read_float(mem, *addr, l)
            }
            _ => crate::bail!(Type, "float() not supported on cdata '{}'", ty.cname()),
        },
        other => crate::bail!(Type, "must be real number, not {}", other.type_name()),
    }
}

/// Python's `complex(value)` as CFFI uses it for complex initializers.
fn strict_complex(mem: &dyn Memory, value: &Value) -> Result<(f64, f64)> {
    match value {
        Value::Complex(re, im) => Ok((*re, *im)),
        Value::CData { ty, addr } => match prim_layout(ty) {
            Some(l) if l.class == PrimClass::Complex => read_complex(mem, *addr, l),
            _ => crate::bail!(Type, "complex() not supported on cdata '{}'", ty.cname()),
        },
        other => Ok((strict_float(mem, other)?, 0.0)),
    }
}

/// The byte of a `char` initializer: 1-byte bytes or a `char` cdata.
pub(crate) fn char_value(mem: &dyn Memory, value: &Value) -> Result<u8> {
    match value {
        Value::Bytes(b) if b.len() == 1 => return Ok(b[0]),
        Value::CData { ty, addr } if prim_layout(ty).map(|l| l.class) == Some(PrimClass::Char) => {
            let mut b = [0u8];
            mem.read(*addr, &mut b)?;
            return Ok(b[0]);
        }
        _ => {}
    }
    crate::bail!(
        Type,
        "initializer for ctype 'char' must be a bytes of length 1, not {}",
        value.type_name()
    )
}

/// The code unit of a wide-char initializer of `size` bytes: a 1-character str
/// (≤ U+FFFF for `char16_t`) or a wide-char cdata of the same size.
pub(crate) fn wide_char_value(mem: &dyn Memory, value: &Value, size: u64) -> Result<u32> {
    let name = if size == 2 { "char16_t" } else { "char32_t" };
    let got = match value {
        Value::Str(s) if s.len() == 1 && (size == 4 || s[0] <= 0xFFFF) => return Ok(s[0]),
        Value::Str(s) if s.len() == 1 => "larger-than-0xFFFF character".to_string(),
        Value::Str(s) => format!("unicode string of length {}", s.len()),
        Value::CData { ty, addr } => match prim_layout(ty) {
            Some(l) if matches!(l.class, PrimClass::WideChar { .. }) && l.size == size => {
                return Ok(read_uint(mem, *addr, size)? as u32);
            }
            _ => value.type_name().to_string(),
        },
        other => other.type_name().to_string(),
    };
    crate::bail!(
        Type,
        "initializer for ctype '{name}' must be a unicode string of length 1, not {got}"
    )
}

/// Encodes `value` as the primitive or enum `ty` with CFFI's initializer rules.
///
/// # Errors
/// `Error::Type` for a value of the wrong kind, `Error::Overflow` for an integer
/// out of range, with CFFI's messages.
pub fn encode_prim(mem: &dyn Memory, ty: &CType, value: &Value) -> Result<Vec<u8>> {
    let l = prim_layout(ty)
        .ok_or_else(|| Error::Type(format!("cannot convert to ctype '{}'", ty.cname())))?;
    if let (Value::CData { ty: src, addr }, PrimClass::LongDouble) = (value, l.class) {
        if prim_layout(src).map(|s| s.class) == Some(PrimClass::LongDouble) {
            let mut b = vec![0u8; 16];
            mem.read(*addr, &mut b)?;
            return Ok(b);
        }
    }
    match l.class {
        PrimClass::Int { signed } => {
            let v = strict_int(mem, value, !signed)?;
            let (lo, hi) = l.int_range();
            if v < lo || v > hi {
                return Err(overflow(mem, value, v, ty));
            }
            int_bytes(v as u128, l.size)
        }
        PrimClass::Bool => {
            let v = strict_int(mem, value, true)?;
            if v > 1 {
                return Err(overflow(mem, value, v, ty));
            }
            int_bytes(v as u128, 1)
        }
        PrimClass::Char => Ok(vec![char_value(mem, value)?]),
        PrimClass::WideChar { .. } => {
            int_bytes(u128::from(wide_char_value(mem, value, l.size)?), l.size)
        }
        PrimClass::Float | PrimClass::LongDouble => Ok(float_bytes(
            strict_float(mem, value)?,
            l.size,
            l.class,
            mem.target(),
        )),
        PrimClass::Complex => {
            let (re, im) = strict_complex(mem, value)?;
            Ok(complex_bytes(re, im, l.size, mem.target()))
        }
    }
}

/// CFFI's "integer X does not fit 'T'", X being `str()` of the initializer.
fn overflow(mem: &dyn Memory, value: &Value, v: i128, ty: &CType) -> Error {
    let shown = match value {
        Value::CData { ty: src, addr } => {
            cdata_repr(mem, src, *addr).unwrap_or_else(|_| v.to_string())
        }
        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        _ => v.to_string(),
    };
    Error::Overflow(format!("integer {shown} does not fit '{}'", ty.cname()))
}

/// Reads the primitive or enum at `addr` (see [`super::read_prim`]).
pub(crate) fn read_prim_value(mem: &dyn Memory, addr: Addr, ty: &CType) -> Result<Value> {
    let l = prim_layout(ty)
        .ok_or_else(|| Error::Type(format!("cdata '{}' is not a primitive", ty.cname())))?;
    Ok(match l.class {
        PrimClass::Int { .. } => Value::Int(read_int(mem, addr, l)?),
        PrimClass::Char => Value::Bytes(vec![read_uint(mem, addr, 1)? as u8]),
        PrimClass::WideChar { .. } => Value::Str(vec![code_point(read_int(mem, addr, l)?)?]),
        PrimClass::Bool => match read_uint(mem, addr, 1)? {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            v => crate::bail!(Value, "got a _Bool of value {v}, expected 0 or 1"),
        },
        PrimClass::Float | PrimClass::LongDouble => Value::Float(read_float(mem, addr, l)?),
        PrimClass::Complex => {
            let (re, im) = read_complex(mem, addr, l)?;
            Value::Complex(re, im)
        }
    })
}

/// A wide-char code unit as a Python code point (refusing what Python cannot hold).
pub(crate) fn code_point(v: i128) -> Result<u32> {
    match u32::try_from(v) {
        Ok(c) if c <= 0x10FFFF => Ok(c),
        _ => crate::bail!(Value, "character out of range for unicode: {v:#x}"),
    }
}

/// `int(cdata)` for a primitive or enum cdata: integers and enums by value,
/// `char` as its unsigned byte, wide chars as their code point, `_Bool` as 0/1,
/// floats (and `long double`) truncated toward zero.
///
/// Returns `Value::Int`, or `Value::Float` holding an already-truncated float
/// too large for 128 bits (call Python's `int()` on it).
///
/// # Errors
/// `Error::Type` "int() not supported on cdata 'T'" for complex and
/// non-primitive types; `Error::Overflow`/`Error::Value` for infinite/NaN floats.
pub fn prim_as_int(mem: &dyn Memory, addr: Addr, ty: &CType) -> Result<Value> {
    if let Some(i) = cdata_int(mem, ty, addr)? {
        return Ok(Value::Int(i));
    }
    match prim_layout(ty) {
        Some(l) if matches!(l.class, PrimClass::Float | PrimClass::LongDouble) => {
            float_to_int_value(read_float(mem, addr, l)?)
        }
        _ => crate::bail!(Type, "int() not supported on cdata '{}'", ty.cname()),
    }
}

/// Python's `int(x)` for a float: `Value::Int` when it fits 128 bits.
pub(crate) fn float_to_int_value(x: f64) -> Result<Value> {
    check_finite(x)?;
    let t = x.trunc();
    if t.abs() < 1.7e38 {
        Ok(Value::Int(t as i128))
    } else {
        Ok(Value::Float(t))
    }
}

fn check_finite(x: f64) -> Result<()> {
    if x.is_nan() {
        crate::bail!(Value, "cannot convert float NaN to integer");
    }
    if x.is_infinite() {
        crate::bail!(Overflow, "cannot convert float infinity to integer");
    }
    Ok(())
}

/// The low 128 bits of `int(x)` (C-style wrapping truncation of a float to an integer).
pub(crate) fn float_wrapped_bits(x: f64) -> Result<u128> {
    check_finite(x)?;
    let t = x.trunc();
    if t.abs() < 1.7e38 {
        return Ok(t as i128 as u128);
    }
    let bits = t.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32 - 1075; // value = mant * 2^exp
    let mant = u128::from((bits & ((1u64 << 52) - 1)) | (1u64 << 52));
    let low = if exp >= 128 { 0 } else { mant << exp };
    Ok(if t < 0.0 { low.wrapping_neg() } else { low })
}

/// `float(cdata)`: only `float`, `double` and `long double` cdata allow it in CFFI.
///
/// # Errors
/// `Error::Type` "float() not supported on cdata 'T'" for every other type.
pub fn prim_as_f64(mem: &dyn Memory, addr: Addr, ty: &CType) -> Result<f64> {
    match prim_layout(ty) {
        Some(l) if matches!(l.class, PrimClass::Float | PrimClass::LongDouble) => {
            read_float(mem, addr, l)
        }
        _ => crate::bail!(Type, "float() not supported on cdata '{}'", ty.cname()),
    }
}

/// `bool(cdata)` for a primitive or enum: false iff zero (`-0.0` included).
///
/// # Errors
/// `Error::Type` for non-primitive types; memory errors.
pub fn prim_is_nonzero(mem: &dyn Memory, addr: Addr, ty: &CType) -> Result<bool> {
    let l = prim_layout(ty)
        .ok_or_else(|| Error::Type(format!("cdata '{}' is not a primitive", ty.cname())))?;
    Ok(match l.class {
        PrimClass::Float | PrimClass::LongDouble => read_float(mem, addr, l)? != 0.0,
        PrimClass::Complex => read_complex(mem, addr, l)? != (0.0, 0.0),
        _ => read_uint(mem, addr, l.size)? != 0,
    })
}
