//! Host C through libffi: loading libraries, calling their functions, making
//! C function pointers that call back into the host language, and `errno`.
//!
//! This is one of the few places allowed to use `unsafe`: calling a function
//! pointer with a signature taken from a cdef is exactly CFFI's ABI-mode
//! trust — the declaration is believed, as `ctypes` and CFFI believe it.

mod call;
mod closure;
pub mod errno;
mod ffi_type;
mod library;
mod register_call;

pub use call::{ArgBuffer, CallPlan};
pub use closure::{Callback, Closure};
pub use library::Library;
