//! [`Value`]: a Python value on its way into or out of C memory.

#![forbid(unsafe_code)]

use crate::layout::CType;

use super::Addr;

/// A value the host language hands to the cdata layer (an initializer, an
/// assigned value, a call argument) or gets back from it.
#[derive(Clone, Debug)]
pub enum Value {
    /// Python `None`.
    None,
    /// Python `bool`.
    Bool(bool),
    /// Python `int` (or anything with `__index__`) that fits in 128 bits.
    Int(i128),
    /// Python `int` too large for 128 bits: `true` if positive. Always an overflow.
    HugeInt(bool),
    /// Python `float`.
    Float(f64),
    /// Python `complex`.
    Complex(f64, f64),
    /// Python `bytes` / `bytearray` contents.
    Bytes(Vec<u8>),
    /// Python `str`, as code points (lone surrogates included).
    Str(Vec<u32>),
    /// Python `list` or `tuple`.
    List(Vec<Value>),
    /// Python `dict` with `str` keys, in iteration order.
    Dict(Vec<(String, Value)>),
    /// A cdata: its type and the address it stands for. For pointer and
    /// function-pointer cdata `addr` is the pointer value; for struct, union,
    /// array and primitive cdata it is where the data lives.
    CData { ty: CType, addr: Addr },
    /// Any other Python object, by its type name (for error messages).
    Other(String),
}

impl Value {
    /// The Python type name of this value, as used in CFFI's error messages.
    pub fn type_name(&self) -> &str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::HugeInt(_) => "int",
            Value::Float(_) => "float",
            Value::Complex(..) => "complex",
            Value::Bytes(_) => "bytes",
            Value::Str(_) => "str",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::CData { .. } => "_cffi_backend._CDataBase",
            Value::Other(name) => name,
        }
    }
}
