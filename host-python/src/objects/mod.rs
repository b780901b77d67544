//! The Python objects' states: `CData`, `CType`, the `FFI` object's context and
//! `Sandbox`. Above `memory`.
pub(crate) mod cdata;
pub(crate) mod ctype;
pub(crate) mod ffi_object;
pub(crate) mod sandbox;
