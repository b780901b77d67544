//! Unit tests of the cdata layer, run against host memory and a wasm32-like `VecMemory`.
//! Expected values and messages were taken from the real `cffi` 2.0 package.

mod cast_tests;
mod init_tests;
mod prim_tests;
mod proptests;
mod record_tests;
mod strings_tests;
mod support;
