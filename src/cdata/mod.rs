//! Typed reads and writes of C values over an address space.
//!
//! Everything CFFI does to memory — initializers, assignment, field and item
//! access, bitfields, `ffi.string`, `ffi.unpack` — is written once here against
//! the [`Memory`] trait, so host memory and a sandbox's linear memory share every
//! conversion rule. Python objects reach this layer as [`Value`]s.

mod convert;
mod memory;
mod value;

pub use convert::{
    cast_value, open_length, read_field, read_pointer, read_prim, string, unpack, write_field, write_init,
    write_pointer, write_slice, StringResult,
};
pub use memory::{Addr, HostMemory, Memory};
pub use value::Value;
