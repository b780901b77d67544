//! wasmcffi: CFFI's Python API with the C running in a WebAssembly sandbox or natively.
//!
//! This crate is the pure-Rust core. The layers, each depending only on those before it:
//!
//! - [`cdecl`]: cdef text → [`model::Declarations`] (lang-c plus CFFI's extensions).
//! - [`model`]: target-independent C types.
//! - [`layout`]: sizes, alignments and offsets of those types for one [`layout::Target`].
//! - [`cdata`]: typed reads and writes of C values over an address space.
//! - [`backend`]: where C runs: [`backend::native`] calls host code through libffi,
//!   [`backend::wasm`] runs sandboxed modules in wasmtime.
//! - [`build`]: glue C for `set_source()` modules and completing declarations from the compiler.
//!
//! The Python binding lives in the `host-python` crate of this workspace.
//!
//! `unsafe` is denied here and allowed only in the modules ARCHITECTURE.md names
//! (each `#[allow(unsafe_code)]` where it is declared).
#![deny(unsafe_code)]

pub mod backend;
pub mod build;
pub mod cdata;
pub mod cdecl;
pub mod error;
pub mod layout;
pub mod model;

pub use error::{Error, Result};
