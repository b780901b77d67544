//! Where C code runs. `native`: host libraries called through libffi.
//! (The wasm sandbox backend will sit beside it.)

#[allow(unsafe_code)] // dlopen, libffi calls and closures, register calls
pub mod native;
pub mod wasm;
