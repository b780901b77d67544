//! CFFI's conversion rules between [`Value`]s and bytes in a [`Memory`].

#![forbid(unsafe_code)]

use crate::error::Result;
use crate::layout::{CType, FieldLayout};

use super::{Addr, Memory, Value};

/// What `ffi.string()` returns.
#[derive(Clone, Debug, PartialEq)]
pub enum StringResult {
    Bytes(Vec<u8>),
    /// Code points of a `str`.
    Str(Vec<u32>),
    /// For an integer cdata that is not an enum with a name for its value.
    Int(i128),
}

/// Writes `value` into the object of type `ty` at `addr` with CFFI's
/// initializer and assignment rules (they are the same: `p[0] = v` ≡ `new("T*", v)`).
pub fn write_init(mem: &dyn Memory, addr: Addr, ty: &CType, value: &Value) -> Result<()> {
    let _ = (mem, addr, ty, value);
    todo!("cdata agent")
}

/// Reads the primitive or enum at `addr` as a Python-facing value.
pub fn read_prim(mem: &dyn Memory, addr: Addr, ty: &CType) -> Result<Value> {
    let _ = (mem, addr, ty);
    todo!("cdata agent")
}

/// Reads a pointer value stored at `addr`.
pub fn read_pointer(mem: &dyn Memory, addr: Addr) -> Result<Addr> {
    let _ = (mem, addr);
    todo!("cdata agent")
}

/// Stores a pointer value at `addr`.
pub fn write_pointer(mem: &dyn Memory, addr: Addr, value: Addr) -> Result<()> {
    let _ = (mem, addr, value);
    todo!("cdata agent")
}

/// `ffi.string(cdata, maxlen)`.
pub fn string(mem: &dyn Memory, ty: &CType, addr: Addr, maxlen: Option<u64>) -> Result<StringResult> {
    let _ = (mem, ty, addr, maxlen);
    todo!("cdata agent")
}

/// `ffi.unpack(cdata, length)`.
pub fn unpack(mem: &dyn Memory, item: &CType, addr: Addr, length: u64) -> Result<Value> {
    let _ = (mem, item, addr, length);
    todo!("cdata agent")
}

/// Reads a field (bitfields included) of the record at `base`.
pub fn read_field(mem: &dyn Memory, base: Addr, field: &FieldLayout) -> Result<Value> {
    let _ = (mem, base, field);
    todo!("cdata agent")
}

/// Writes a field (bitfields included) of the record at `base`.
pub fn write_field(mem: &dyn Memory, base: Addr, field: &FieldLayout, value: &Value) -> Result<()> {
    let _ = (mem, base, field, value);
    todo!("cdata agent")
}

/// Item count of an open array, from an initializer.
pub fn open_length(ty: &CType, value: &Value) -> Result<Option<u64>> {
    let _ = (ty, value);
    todo!("cdata agent")
}

/// `ffi.cast`.
pub fn cast_value(ty: &CType, value: &Value, mem: &dyn Memory) -> Result<Vec<u8>> {
    let _ = (ty, value, mem);
    todo!("cdata agent")
}

/// Slice assignment.
pub fn write_slice(mem: &dyn Memory, addr: Addr, ty: &CType, count: u64, value: &Value) -> Result<()> {
    let _ = (mem, addr, ty, count, value);
    todo!("cdata agent")
}
