//! The wasm sandbox: C compiled to wasm32-wasi, run by wasmtime.
//!
//! (Being written: see `Sandbox` and `GuestMemory` below for the contract.)
