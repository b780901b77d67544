//! Typed reads and writes of C values over an address space.
//!
//! Everything CFFI does to memory — initializers, assignment, field and item
//! access, bitfields, `ffi.string`, `ffi.unpack`, `ffi.cast` — is written once
//! here against the [`Memory`] trait, so host memory and a sandbox's linear
//! memory share every conversion rule. Python objects reach this layer as
//! [`Value`]s.

mod cast;
mod convert;
mod init;
#[allow(unsafe_code)] // HostMemory: raw host reads and writes
mod memory;
mod prim;
mod repr;
mod strings;
mod value;

#[cfg(test)]
mod tests;

pub use cast::cast_value;
pub use convert::{
    open_length, promoted_to_int, read_field, read_pointer, read_prim, read_value, string, unpack,
    var_size, write_field, write_init, write_pointer, write_slice, StringResult,
};
pub use init::pointer_init;
pub use memory::{Addr, HostBoxes, HostMemory, Memory, NoMemory};
pub use prim::{
    encode_prim, long_double_from_bytes, long_double_to_bytes, prim_as_f64, prim_as_int,
    prim_is_nonzero,
};
pub use repr::{
    cdata_repr, format_long_double, pointer_cname, py_bytes_repr, py_float_repr, py_str_repr,
};
pub use strings::{decode_wide, encode_wide};
pub use value::Value;
