//! Initializers and assignment of pointers, arrays, structs, unions and
//! fields (bitfields included), plus the lengths of open arrays and
//! variable-size structs taken from an initializer.

#![forbid(unsafe_code)]
#![warn(clippy::cast_possible_truncation)]

use crate::error::{Error, Result};
use crate::layout::{CKind, CType, FieldLayout, PrimClass, RecordLayout, RecordType};
use crate::model::RecordKind;

use super::prim::{encode_prim, int_bytes, prim_layout, read_sint, read_uint};
use super::strings::encode_wide;
use super::{Addr, Memory, Value};

/// Writes `value` into the object of type `ty` at `addr`. `top` is true for the
/// object `ffi.new` allocates, where an integer initializer of an open array
/// `T[]` is only its length.
pub(crate) fn write_value(
    mem: &dyn Memory,
    addr: Addr,
    ty: &CType,
    value: &Value,
    top: bool,
) -> Result<()> {
    match ty.kind() {
        CKind::Void => crate::bail!(
            Type,
            "cannot instantiate ctype '{}' of unknown size",
            ty.cname()
        ),
        CKind::Prim(..) | CKind::Enum(_) => mem.write(addr, &encode_prim(mem, ty, value)?),
        CKind::Pointer(_) | CKind::Function(_) => {
            let ptr = pointer_init(ty, value)?;
            super::convert::write_pointer(mem, addr, ptr)
        }
        CKind::Array { item, len } => write_array(mem, addr, ty, item, *len, value, top),
        CKind::Record(r) => write_record(mem, addr, ty, r, value),
    }
}

/// CFFI's `_convert_error`: "initializer for ctype 'T' must be a {expected}, not …".
pub(crate) fn convert_error(ty: &CType, value: &Value, expected: &str) -> Error {
    match value {
        Value::CData { ty: src, .. } if src.cname() == ty.cname() => Error::Type(format!(
            "initializer for ctype '{0}' appears indeed to be '{0}', but the types are different \
             (check that you are not e.g. mixing up different ffi instances)",
            ty.cname()
        )),
        Value::CData { ty: src, .. } => Error::Type(format!(
            "initializer for ctype '{}' must be a {expected}, not cdata '{}'",
            ty.cname(),
            src.cname()
        )),
        other => Error::Type(format!(
            "initializer for ctype '{}' must be a {expected}, not {}",
            ty.cname(),
            other.type_name()
        )),
    }
}

fn pointee(ty: &CType) -> Option<&CType> {
    match ty.kind() {
        CKind::Pointer(item) => Some(item),
        _ => None,
    }
}

fn is_char(ty: &CType) -> bool {
    matches!(ty.kind(), CKind::Prim(_, l) if l.class == PrimClass::Char)
}

/// The address a pointer-typed `ty` gets from `value` (CFFI's pointer
/// compatibility rules: same type, `void *` either way, arrays decaying,
/// `char *` only with other pointers to 1-byte items).
///
/// # Errors
/// `Error::Type` with CFFI's messages.
pub fn pointer_init(ty: &CType, value: &Value) -> Result<Addr> {
    let Value::CData { ty: src, addr } = value else {
        return Err(convert_error(ty, value, "cdata pointer"));
    };
    // CFFI compares `ty` with the source's pointer type; an array stands for a pointer to its item.
    let src_item = match src.kind() {
        CKind::Pointer(item) | CKind::Array { item, .. } => Some(item),
        CKind::Function(_) => None,
        _ => return Err(convert_error(ty, value, "pointer or array")),
    };
    let tgt_item = pointee(ty);
    let same = match (src.kind(), tgt_item, src_item) {
        (CKind::Array { .. }, Some(t), Some(s)) => t == s,
        (CKind::Array { .. }, ..) => false,
        (_, Some(t), Some(s)) => ty == src || t == s,
        _ => ty == src,
    };
    if same {
        return Ok(*addr);
    }
    let is_void = |i: Option<&CType>| matches!(i.map(CType::kind), Some(CKind::Void));
    if is_void(tgt_item) || is_void(src_item) {
        return Ok(*addr);
    }
    let tgt_char = tgt_item.is_some_and(is_char);
    if tgt_char || src_item.is_some_and(is_char) {
        let one = |i: Option<&CType>| i.and_then(CType::size) == Some(1);
        if one(tgt_item) && one(src_item) {
            return Ok(*addr);
        }
        let hint = "(check that the types are as you expect; use an explicit ffi.cast() if they are correct)";
        if tgt_char {
            crate::bail!(
                Type,
                "implicit cast to 'char *' from a different pointer type.{hint}"
            );
        }
        crate::bail!(
            Type,
            "implicit cast from 'char *' to a different pointer type: {hint}"
        );
    }
    Err(convert_error(ty, value, "pointer to same type"))
}

fn checked_addr(base: Addr, offset: u64) -> Result<Addr> {
    base.checked_add(offset)
        .ok_or_else(|| Error::Memory(format!("address {base:#x} + {offset} overflows")))
}

fn byte_size(count: u64, item_size: u64) -> Result<u64> {
    count
        .checked_mul(item_size)
        .ok_or_else(|| Error::Overflow("array size would overflow a Py_ssize_t".into()))
}

fn write_array(
    mem: &dyn Memory,
    addr: Addr,
    ty: &CType,
    item: &CType,
    len: Option<u64>,
    value: &Value,
    top: bool,
) -> Result<()> {
    if top && len.is_none() && matches!(value, Value::Int(_) | Value::Bool(_)) {
        return Ok(()); // `ffi.new("T[]", n)`: the caller took the length from it.
    }
    let item_size = item.size().ok_or_else(|| {
        Error::Type(format!(
            "cannot instantiate ctype '{}' of unknown size",
            item.cname()
        ))
    })?;
    let il = match item.kind() {
        CKind::Prim(_, l) => Some(*l),
        _ => None,
    };
    let byte_like = il.is_some_and(|l| {
        l.size == 1
            && matches!(
                l.class,
                PrimClass::Char | PrimClass::Int { .. } | PrimClass::Bool
            )
    });
    let wide = il.is_some_and(|l| matches!(l.class, PrimClass::WideChar { .. }));
    let too_long = |n: usize| len.is_some_and(|l| n as u64 > l);
    match value {
        Value::List(items) => {
            if too_long(items.len()) {
                crate::bail!(
                    Index,
                    "too many initializers for '{}' (got {})",
                    ty.cname(),
                    items.len()
                );
            }
            let mut at = addr;
            for v in items {
                write_value(mem, at, item, v, false)?;
                at = checked_addr(at, item_size)?;
            }
            return Ok(());
        }
        Value::Bytes(b) if byte_like => {
            if too_long(b.len()) {
                crate::bail!(
                    Index,
                    "initializer bytes is too long for '{}' (got {} characters)",
                    ty.cname(),
                    b.len()
                );
            }
            let mut data = b.clone();
            if Some(b.len() as u64) != len {
                data.push(0);
            }
            if il.is_some_and(|l| l.class == PrimClass::Bool) && data.iter().any(|&x| x > 1) {
                crate::bail!(Value, "an array of _Bool can only contain \\x00 or \\x01");
            }
            return mem.write(addr, &data);
        }
        Value::Str(s) if wide => {
            let mut units = encode_wide(s, item_size);
            if too_long(units.len()) {
                crate::bail!(
                    Index,
                    "initializer unicode is too long for '{}' (got {} characters)",
                    ty.cname(),
                    units.len()
                );
            }
            if Some(units.len() as u64) != len {
                units.push(0);
            }
            let mut data = Vec::with_capacity(units.len() * 4);
            for u in units {
                data.extend(int_bytes(u128::from(u), item_size)?);
            }
            return mem.write(addr, &data);
        }
        _ => {}
    }
    if let (
        Value::CData {
            ty: src,
            addr: from,
        },
        Some(n),
    ) = (value, len)
    {
        if src == ty {
            return mem.copy(addr, *from, byte_size(n, item_size)?);
        }
    }
    let expected = if byte_like {
        "bytes or list or tuple"
    } else if wide {
        "unicode or list or tuple"
    } else {
        "list or tuple"
    };
    Err(convert_error(ty, value, expected))
}

/// The layout of a complete record, or CFFI's "'T' is opaque".
fn record_layout<'a>(ty: &CType, r: &'a RecordType) -> Result<&'a RecordLayout> {
    r.checked_layout(ty.cname(), || {
        Error::Type(format!("'{}' is opaque", ty.cname()))
    })
}

/// The fields a positional initializer fills, in order. In a union only the
/// first member counts; if the layout flagged no field, every field after the
/// first is skipped (CFFI's `BF_IGNORE_IN_CTOR`).
fn positional_fields<'a>(r: &RecordType, layout: &'a RecordLayout) -> Vec<&'a FieldLayout> {
    let flagged = layout.fields.iter().any(|f| f.skip_in_positional_init);
    layout
        .fields
        .iter()
        .enumerate()
        .filter(|(i, f)| {
            !f.skip_in_positional_init && (flagged || r.kind != RecordKind::Union || *i == 0)
        })
        .map(|(_, f)| f)
        .collect()
}

/// Pairs each field with the initializer value it gets.
fn assignments<'a, 'v>(
    ty: &CType,
    r: &'a RecordType,
    layout: &'a RecordLayout,
    value: &'v Value,
    expected: &str,
) -> Result<Vec<(&'a FieldLayout, &'v Value)>> {
    match value {
        Value::List(items) => {
            let fields = positional_fields(r, layout);
            if items.len() > fields.len() {
                crate::bail!(
                    Value,
                    "too many initializers for '{}' (got {})",
                    ty.cname(),
                    items.len()
                );
            }
            Ok(fields.into_iter().zip(items).collect())
        }
        Value::Dict(entries) => entries
            .iter()
            .map(|(name, v)| {
                let f = layout
                    .fields
                    .iter()
                    .find(|f| &f.name == name)
                    .ok_or_else(|| Error::Key(name.clone()))?;
                Ok((f, v))
            })
            .collect(),
        _ => Err(convert_error(ty, value, expected)),
    }
}

fn write_record(
    mem: &dyn Memory,
    addr: Addr,
    ty: &CType,
    r: &RecordType,
    value: &Value,
) -> Result<()> {
    let layout = record_layout(ty, r)?;
    if let Value::CData {
        ty: src,
        addr: from,
    } = value
    {
        if src == ty {
            return mem.copy(addr, *from, layout.size);
        }
    }
    for (field, v) in assignments(
        ty,
        r,
        layout,
        value,
        "list or tuple or dict or struct-cdata",
    )? {
        if let CKind::Array { item, len: None } = field.ty.kind() {
            new_array_length(item, v)?;
            if matches!(v, Value::Int(_) | Value::Bool(_)) {
                continue; // only the length of a flexible array member
            }
        }
        write_field(mem, addr, field, v)?;
    }
    Ok(())
}

/// CFFI's `get_new_array_length`: items of `T[]` that `value` asks for.
pub(crate) fn new_array_length(item: &CType, value: &Value) -> Result<u64> {
    let plus_one = |n: usize| (n as u64).saturating_add(1);
    match value {
        Value::List(v) => Ok(v.len() as u64),
        Value::Bytes(b) => Ok(plus_one(b.len())),
        Value::Str(s) => Ok(plus_one(encode_wide(s, item.size().unwrap_or(4)).len())),
        Value::Bool(b) => Ok(u64::from(*b)),
        Value::Int(i) if *i < 0 => crate::bail!(Value, "negative array length"),
        Value::Int(i) => match i64::try_from(*i) {
            Ok(n) => Ok(n as u64),
            Err(_) => crate::bail!(Overflow, "cannot fit 'int' into an index-sized integer"),
        },
        Value::HugeInt(_) => crate::bail!(Overflow, "cannot fit 'int' into an index-sized integer"),
        other => crate::bail!(
            Type,
            "expected new array length or list/tuple/str, not {}",
            other.type_name()
        ),
    }
}

/// The flexible array member ending `layout` and the value it gets from `value`.
fn flexible_member<'a, 'v>(
    ty: &CType,
    r: &'a RecordType,
    layout: &'a RecordLayout,
    value: &'v Value,
) -> Result<(Option<&'a FieldLayout>, Option<&'v Value>)> {
    let last = layout.fields.last().filter(|_| layout.has_flexible_array);
    let Some(last) = last else {
        return Ok((None, None));
    };
    if let Value::CData { ty: src, .. } = value {
        if src == ty {
            return Ok((Some(last), None));
        }
    }
    let pairs = assignments(ty, r, layout, value, "list or tuple or dict")?;
    Ok((
        Some(last),
        pairs
            .into_iter()
            .rev()
            .find(|(f, _)| std::ptr::eq(*f, last))
            .map(|(_, v)| v),
    ))
}

/// Items of the open array the initializer gives `ty` (see [`super::open_length`]),
/// and the byte size of the object (see [`super::var_size`]).
pub(crate) fn open_extent(ty: &CType, value: &Value) -> Result<Option<(u64, u64)>> {
    match ty.kind() {
        CKind::Array { item, len: None } => {
            let n = new_array_length(item, value)?;
            let size = item
                .size()
                .map(|s| byte_size(n, s))
                .transpose()?
                .unwrap_or(0);
            Ok(Some((n, size)))
        }
        CKind::Record(r) => {
            let layout = record_layout(ty, r)?;
            let (Some(field), sub) = flexible_member(ty, r, layout, value)? else {
                return Ok(None);
            };
            let (count, extent) = match (field.ty.kind(), sub) {
                (_, None) => (0, 0),
                (CKind::Array { item, .. }, Some(v)) => {
                    let n = new_array_length(item, v)?;
                    (n, byte_size(n, item.size().unwrap_or(0))?)
                }
                (CKind::Record(_), Some(v)) => open_extent(&field.ty, v)?.unwrap_or((0, 0)),
                _ => (0, 0),
            };
            let end = field
                .offset
                .checked_add(extent)
                .ok_or_else(|| Error::Overflow("array size would overflow a Py_ssize_t".into()))?;
            Ok(Some((count, end.max(layout.size))))
        }
        _ => Ok(None),
    }
}

/// Writes one field of the record at `base` (see [`super::write_field`]).
pub(crate) fn write_field(
    mem: &dyn Memory,
    base: Addr,
    field: &FieldLayout,
    value: &Value,
) -> Result<()> {
    let addr = checked_addr(base, field.offset)?;
    if field.bitsize < 0 {
        return write_value(mem, addr, &field.ty, value, false);
    }
    let v: i64 = match value {
        Value::Int(i) => {
            i64::try_from(*i).map_err(|_| Error::Overflow("int too big to convert".into()))?
        }
        Value::Bool(b) => i64::from(*b),
        Value::HugeInt(_) => crate::bail!(Overflow, "int too big to convert"),
        other => crate::bail!(
            Type,
            "'{}' object cannot be interpreted as an integer",
            other.type_name()
        ),
    };
    let (size, bits, shift, signed) = bitfield_geometry(field)?;
    let (fmin, fmax) = if signed {
        let max = (1i128 << (bits - 1)) - 1;
        (-(1i128 << (bits - 1)), if max == 0 { 1 } else { max })
    } else {
        (0, (1i128 << bits) - 1)
    };
    let v = i128::from(v);
    if v < fmin || v > fmax {
        let shown = match value {
            Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
            _ => v.to_string(),
        };
        crate::bail!(
            Overflow,
            "value {shown} outside the range allowed by the bit field width: {fmin} <= x <= {fmax}"
        );
    }
    let mask = ((1u128 << bits) - 1) << shift;
    let raw = read_uint(mem, addr, size)?;
    let raw = (raw & !mask) | (((v as u128) << shift) & mask);
    mem.write(addr, &int_bytes(raw, size)?)
}

/// (storage size, width, shift, signed) of a bitfield, validated.
fn bitfield_geometry(field: &FieldLayout) -> Result<(u64, u32, u32, bool)> {
    let l = prim_layout(&field.ty)
        .ok_or_else(|| Error::Internal(format!("bitfield '{}' of non-integer type", field.name)))?;
    let bits = u32::try_from(field.bitsize)
        .ok()
        .filter(|b| (1..=64).contains(b));
    let shift = u32::try_from(field.bitshift).ok();
    match (bits, shift) {
        (Some(b), Some(s)) if u64::from(b + s) <= l.size * 8 => Ok((
            l.size,
            b,
            s,
            matches!(l.class, PrimClass::Int { signed: true }),
        )),
        _ => Err(Error::Internal(format!(
            "bitfield '{}' of {} bits at bit {} does not fit its {}-byte unit",
            field.name, field.bitsize, field.bitshift, l.size
        ))),
    }
}

/// Reads one field (see [`super::read_field`]).
pub(crate) fn read_field(mem: &dyn Memory, base: Addr, field: &FieldLayout) -> Result<Value> {
    let addr = checked_addr(base, field.offset)?;
    if field.bitsize < 0 {
        return super::convert::read_value(mem, addr, &field.ty);
    }
    let (size, bits, shift, signed) = bitfield_geometry(field)?;
    let raw = if signed {
        read_sint(mem, addr, size)? as u128
    } else {
        read_uint(mem, addr, size)?
    };
    let v = (raw >> shift) & ((1u128 << bits) - 1);
    if signed && v >> (bits - 1) == 1 {
        return Ok(Value::Int(v as i128 - (1i128 << bits)));
    }
    Ok(Value::Int(v as i128))
}
