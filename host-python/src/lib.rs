//! The `wasmcffi._wasmcffi` extension module: PyO3 bindings of the core crate.
//!
//! `unsafe` is denied here and allowed only in the modules ARCHITECTURE.md names.
//!
//! The modules are layers, each importing only those before it:
//! `base` → `memory` → `objects` → `marshal` → `calls` → `protocols` → `ffi`
//! (checked by `tests/python/test_layers.py`).
#![deny(unsafe_code)]

mod base;
mod calls;
mod ffi;
mod marshal;
mod memory;
mod objects;
mod protocols;

use pyo3::prelude::*;

/// The C files every sandboxed module is built with (`guest/`), by their paths
/// there: the runtime, the stubs of what a sandbox cannot do, and the headers
/// that declare what wasi-libc leaves out (`include/`).
fn guest_files(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    let files = pyo3::types::PyDict::new(py);
    for (path, text) in [
        ("runtime.c", include_str!("../../guest/runtime.c")),
        ("stubs.c", include_str!("../../guest/stubs.c")),
        (
            "include/stdio.h",
            include_str!("../../guest/include/stdio.h"),
        ),
        (
            "include/stdlib.h",
            include_str!("../../guest/include/stdlib.h"),
        ),
        (
            "include/unistd.h",
            include_str!("../../guest/include/unistd.h"),
        ),
        (
            "include/sys/socket.h",
            include_str!("../../guest/include/sys/socket.h"),
        ),
        (
            "include/sys/wait.h",
            include_str!("../../guest/include/sys/wait.h"),
        ),
    ] {
        files.set_item(path, text)?;
    }
    Ok(files)
}

/// The folder of wasmcffi's on-disk caches (`None`: none can be named), which
/// the build's object cache shares with the compiled-module cache.
#[pyfunction]
fn cache_root() -> Option<std::path::PathBuf> {
    wasmcffi::backend::wasm::cache_root()
}

#[pymodule]
fn _wasmcffi(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    base::gil::install(py)?;
    base::function_object::register(protocols::module_lib::function_pointer_hook);
    m.add_class::<objects::ffi_object::PyFFI>()?;
    m.add_class::<objects::cdata::PyCData>()?;
    m.add_class::<objects::ctype::PyCType>()?;
    m.add_class::<objects::ctype::PyCField>()?;
    m.add_class::<protocols::buffer::PyBuffer>()?;
    m.add_class::<protocols::lib_object::PyLib>()?;
    m.add_class::<protocols::module_lib::PyModuleLib>()?;
    m.add_class::<protocols::module_lib::PyModuleFunction>()?;
    m.add_class::<objects::sandbox::PySandbox>()?;
    m.add_function(wrap_pyfunction!(protocols::module_lib::_def_extern, m)?)?;
    m.add_function(wrap_pyfunction!(cache_root, m)?)?;
    m.add("GUEST_FILES", guest_files(py)?)?;
    m.add("WASM_PAGE_SIZE", wasmcffi::backend::wasm::PAGE_SIZE)?;
    m.add("CDefError", py.get_type::<base::exceptions::CDefError>())?;
    m.add(
        "SandboxError",
        py.get_type::<base::exceptions::SandboxError>(),
    )?;
    m.add("Trap", py.get_type::<base::exceptions::Trap>())?;
    m.add("Timeout", py.get_type::<base::exceptions::Timeout>())?;
    m.add("GuestExit", py.get_type::<base::exceptions::GuestExit>())?;
    m.add("FFIError", py.get_type::<base::exceptions::FFIError>())?;
    m.add("FFITypeError", base::exceptions::ffi_type_error(py)?)?;
    m.add("FFIValueError", base::exceptions::ffi_value_error(py)?)?;
    m.add("FFICDefError", base::exceptions::ffi_cdef_error(py)?)?;
    m.add(
        "VerificationError",
        py.get_type::<base::exceptions::VerificationError>(),
    )?;
    m.add(
        "VerificationMissing",
        py.get_type::<base::exceptions::VerificationMissing>(),
    )?;
    Ok(())
}
