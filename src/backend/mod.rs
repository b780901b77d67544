//! Where C code runs. `native`: host libraries called through libffi.
//! (The wasm sandbox backend will sit beside it.)

pub mod native;
pub mod wasm;
