//! CFFI's conversion rules between [`Value`]s and bytes in a [`Memory`]: the
//! public entry points. The rules live in `prim` (primitives), `init`
//! (aggregates, pointers, fields), `strings` (`ffi.string`/`ffi.unpack`) and
//! `cast` (`ffi.cast`).

#![forbid(unsafe_code)]
#![warn(clippy::cast_possible_truncation)]

use crate::error::{Error, Result};
use crate::layout::{CKind, CType, FieldLayout, PrimClass};

use super::prim::{int_bytes, read_uint};
use super::{init, prim, strings, Addr, Memory, Value};

/// What `ffi.string()` returns.
#[derive(Clone, Debug, PartialEq)]
pub enum StringResult {
    Bytes(Vec<u8>),
    /// Code points of a `str` (also an enum's enumerator name, or its value in
    /// decimal when no enumerator has it, as CFFI returns `'99'`).
    Str(Vec<u32>),
    /// Not produced: CFFI returns a `str` for enums and refuses other integers.
    Int(i128),
}

/// Writes `value` into the object of type `ty` at `addr` with CFFI's
/// initializer and assignment rules (they are the same: `p[0] = v` ≡ `new("T*", v)`).
///
/// `Value::None` is refused like any other wrong value (`ffi.new(T, None)` means
/// "no initializer" and must not call this). For an open array `T[]`, an integer
/// (or bool) initializer is only the length [`open_length`] took, and writes
/// nothing; for a struct with a flexible array member the same holds for the
/// member's value. The memory is expected to be zeroed by `ffi.new`; assignment
/// writes only what the initializer covers (`p.a = b"abc"` leaves `a[4]`).
///
/// # Errors
/// `Error::Type`, `Error::Overflow`, `Error::Index`, `Error::Value`,
/// `Error::Key` (unknown field name in a dict; the message is the bare name)
/// with CFFI's messages; memory errors from `mem`.
pub fn write_init(mem: &dyn Memory, addr: Addr, ty: &CType, value: &Value) -> Result<()> {
    init::write_value(mem, addr, ty, value, true)
}

/// Reads the primitive or enum at `addr` as a Python-facing value: integers
/// and enums → `Int`, `char` → 1-byte `Bytes`, wide chars → 1-code-point `Str`
/// (a `char16_t` surrogate stays alone), `_Bool` → `Bool`, `float`/`double`/
/// `long double` → `Float`, complex → `Complex`.
///
/// # Errors
/// `Error::Value` "got a _Bool of value 2, expected 0 or 1"; `Error::Value` for
/// a 4-byte wide char that is no code point; `Error::Type` for non-primitive types.
pub fn read_prim(mem: &dyn Memory, addr: Addr, ty: &CType) -> Result<Value> {
    prim::read_prim_value(mem, addr, ty)
}

/// Reads any value of type `ty` stored at `addr` as CFFI's `p[0]` returns it:
/// primitives as [`read_prim`] does, pointers and function pointers as
/// `Value::CData { ty, addr: pointer value }`, and structs, unions and arrays
/// as `Value::CData { ty, addr }` views of the memory at `addr`.
///
/// # Errors
/// As [`read_prim`]; `Error::Type` for `void`.
pub fn read_value(mem: &dyn Memory, addr: Addr, ty: &CType) -> Result<Value> {
    match ty.kind() {
        CKind::Prim(..) | CKind::Enum(_) => read_prim(mem, addr, ty),
        CKind::Pointer(_) | CKind::Function(_) => Ok(Value::CData {
            ty: ty.clone(),
            addr: read_pointer(mem, addr)?,
        }),
        CKind::Array { .. } | CKind::Record(_) => Ok(Value::CData {
            ty: ty.clone(),
            addr,
        }),
        CKind::Void => crate::bail!(Type, "cannot return a cdata 'void'"),
    }
}

/// Reads a pointer value stored at `addr` (pointer-sized for `mem`'s target).
///
/// # Errors
/// Memory errors.
pub fn read_pointer(mem: &dyn Memory, addr: Addr) -> Result<Addr> {
    let v = read_uint(mem, addr, mem.target().pointer_size())?;
    u64::try_from(v).map_err(|_| Error::Internal("pointer wider than 64 bits".into()))
}

/// Stores a pointer value at `addr` (truncated to the target's pointer width).
///
/// # Errors
/// Memory errors.
pub fn write_pointer(mem: &dyn Memory, addr: Addr, value: Addr) -> Result<()> {
    mem.write(
        addr,
        &int_bytes(u128::from(value), mem.target().pointer_size())?,
    )
}

/// `ffi.string(cdata, maxlen)`. `ty` is the cdata's type and `addr` the pointer
/// value (pointers) or the data address (arrays, primitives, enums).
///
/// Pointers and arrays of `char`/`signed char`/`unsigned char` give bytes up to
/// the first NUL, of wide chars a str (UTF-16 surrogate pairs joined); at most
/// `maxlen` items, and at most the length of an array of known length (the
/// caller passes the length of an open `T[]` as `maxlen`). A `char` or wide
/// char gives itself; an enum its enumerator name, or its value in decimal.
///
/// # Errors
/// `Error::Runtime` "cannot use string() on <cdata 'char *' NULL>";
/// `Error::Type` "string(): unexpected cdata 'int' argument" for other types.
pub fn string(
    mem: &dyn Memory,
    ty: &CType,
    addr: Addr,
    maxlen: Option<u64>,
) -> Result<StringResult> {
    strings::string(mem, ty, addr, maxlen)
}

/// `ffi.unpack(cdata, length)`: `length` items of type `item` from `addr`.
///
/// `char` gives `Bytes` (NULs included), wide chars a `Str` (surrogate pairs of
/// `char16_t` joined), other primitives and enums a `List` of converted values.
/// Items that are not Python values come back as cdata: pointers and function
/// pointers as `Value::CData { ty: item, addr: pointer value }`; structs, unions,
/// arrays and `long double` as `Value::CData { ty: item, addr: item address }`
/// views (copy a `long double` view into a new cdata to keep it).
///
/// # Errors
/// `Error::Runtime` "cannot use unpack() on <cdata 'int *' NULL>";
/// `Error::Value` "'void *' points to items of unknown size"; `Error::Overflow`
/// when `length` items do not fit the address space.
pub fn unpack(mem: &dyn Memory, item: &CType, addr: Addr, length: u64) -> Result<Value> {
    strings::unpack(mem, item, addr, length)
}

/// Reads a field (bitfields included) of the record at `base`: bitfields as
/// `Int` (sign-extended when the field type is signed), other fields as
/// [`read_value`] does.
///
/// # Errors
/// As [`read_value`]; `Error::Internal` for a bitfield that does not fit its unit.
pub fn read_field(mem: &dyn Memory, base: Addr, field: &FieldLayout) -> Result<Value> {
    init::read_field(mem, base, field)
}

/// Assigns a field of the record at `base` (`p.x = value`): the initializer
/// rules of the field's type, or for a bitfield an int checked against the
/// bit width ("value 4 outside the range allowed by the bit field width:
/// -4 <= x <= 3") and merged into its storage unit.
///
/// # Errors
/// As [`write_init`]; bitfields: `Error::Overflow` out of range, `Error::Type`
/// "'float' object cannot be interpreted as an integer".
pub fn write_field(mem: &dyn Memory, base: Addr, field: &FieldLayout, value: &Value) -> Result<()> {
    init::write_field(mem, base, field, value)
}

/// The item count an initializer gives an open array type `T[]` (list length,
/// bytes length + 1, str length in code units + 1, or an int N), or the item
/// count of the flexible array member ending a struct `ty` (0 when the
/// initializer does not mention it). `None` for every other type.
///
/// # Errors
/// `Error::Type` "expected new array length or list/tuple/str, not float",
/// `Error::Value` "negative array length", `Error::Overflow`, and the struct
/// initializer errors (too many initializers, unknown field name).
pub fn open_length(ty: &CType, value: &Value) -> Result<Option<u64>> {
    Ok(init::open_extent(ty, value)?.map(|(count, _)| count))
}

/// The byte size `ffi.new` allocates for `ty` with `value` when that depends on
/// the initializer: `T[]` (count × item size) or a struct with a flexible array
/// member (the larger of its size and the end of the member's items). `None`
/// for types of fixed size.
///
/// # Errors
/// As [`open_length`].
pub fn var_size(ty: &CType, value: &Value) -> Result<Option<u64>> {
    Ok(init::open_extent(ty, value)?.map(|(_, size)| size))
}

/// `p[start:stop] = value`: writes exactly `count` items of type `item` from
/// `addr`. `value` is a list (any Python iterable, already listed), bytes for
/// `char` items (a byte string of exactly `count` bytes, no NUL added; for
/// other items each byte is an integer), or a str for wide-char items.
///
/// # Errors
/// `Error::Value` when the number of values differs from `count` (CFFI's
/// "need 3 values to unpack, got 2"), `Error::Type` for a value that is not
/// iterable, and any error of writing one item.
pub fn write_slice(
    mem: &dyn Memory,
    addr: Addr,
    item: &CType,
    count: u64,
    value: &Value,
) -> Result<()> {
    let item_size = item.sizeof()?;
    let is_char = |class: PrimClass| matches!(item.kind(), CKind::Prim(_, l) if l.class == class);
    let items: Vec<Value> = match value {
        Value::Bytes(bytes) if is_char(PrimClass::Char) => {
            if bytes.len() as u64 != count {
                return Err(Error::Value(format!(
                    "need a string of length {count}, got {}",
                    bytes.len()
                )));
            }
            return mem.write(addr, bytes);
        }
        Value::Str(points) if matches!(item.kind(), CKind::Prim(_, l) if matches!(l.class, PrimClass::WideChar { .. })) =>
        {
            let units = strings::encode_wide(points, item_size);
            if units.len() as u64 != count {
                return Err(Error::Value(format!(
                    "need a string of length {count}, got {}",
                    units.len()
                )));
            }
            units.into_iter().map(|u| Value::Str(vec![u])).collect()
        }
        Value::Bytes(bytes) => bytes.iter().map(|&b| Value::Int(i128::from(b))).collect(),
        Value::List(items) => items.clone(),
        other => {
            return Err(Error::Type(format!(
                "'{}' object is not iterable",
                other.type_name()
            )))
        }
    };
    match (items.len() as u64).cmp(&count) {
        std::cmp::Ordering::Less => {
            return Err(Error::Value(format!(
                "need {count} values to unpack, got {}",
                items.len()
            )))
        }
        std::cmp::Ordering::Greater => {
            return Err(Error::Value(format!(
                "got more than {count} values to unpack"
            )))
        }
        std::cmp::Ordering::Equal => {}
    }
    for (i, value) in items.iter().enumerate() {
        let at = (i as u64)
            .checked_mul(item_size)
            .and_then(|off| addr.checked_add(off))
            .ok_or_else(|| Error::Index("slice out of the address space".to_owned()))?;
        write_init(mem, at, item, value)?;
    }
    Ok(())
}

/// The value of a primitive of class `class` promoted to `int` in the variadic
/// part of a call (see `layout::vararg_promotion`): a `char` as its byte,
/// 0 to 255 (as CFFI passes it, though plain `char` is signed in both
/// targets' C), a `_Bool` as 0 or 1, a wide character as its code; other
/// values as they are.
pub fn promoted_to_int(class: PrimClass, value: Value) -> Value {
    match (class, value) {
        (PrimClass::Char, Value::Bytes(b)) => {
            Value::Int(i128::from(b.first().copied().unwrap_or(0)))
        }
        (PrimClass::Bool, Value::Bool(b)) => Value::Int(i128::from(b)),
        (PrimClass::WideChar { .. }, Value::Str(s)) => {
            Value::Int(i128::from(s.first().copied().unwrap_or(0)))
        }
        (_, value) => value,
    }
}
