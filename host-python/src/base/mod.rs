//! The lowest layer: exceptions, the GIL around guest code, handles, vectorcall
//! builtins, keep-alive links, pickling's way to `wasmcffi._pickling` and the hook for objects standing for C functions. It
//! uses nothing else of this crate.
pub(crate) mod exceptions;
#[allow(unsafe_code)] // lib.f as a METH_FASTCALL builtin
pub(crate) mod fastcall;
pub(crate) mod function_object;
#[allow(unsafe_code)] // releasing and retaking the GIL inside a guest call
pub(crate) mod gil;
pub(crate) mod handles;
pub(crate) mod keep_alive;
pub(crate) mod pickling;
