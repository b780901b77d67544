//! The `wasmcffi._wasmcffi` extension module: PyO3 bindings of the core crate.
//!
//! `unsafe` is denied here and allowed only in the modules ARCHITECTURE.md names.
#![deny(unsafe_code)]

#[allow(unsafe_code)] // the buffer protocol
mod buffer;
mod call;
mod cdata;
mod cdata_protocols;
mod context;
mod convert;
mod ctype;
mod exceptions;
mod extern_python;
#[allow(unsafe_code)] // lib.f as a METH_FASTCALL builtin
mod fastcall;
mod ffi;
mod ffi_object;
mod function_object;
#[allow(unsafe_code)] // releasing and retaking the GIL inside a guest call
mod gil;
mod guest_callback;
mod handles;
mod keep_alive;
mod lib_object;
mod marshal;
mod memory;
mod module_lib;
mod sandbox;
mod scratch;
mod wasm_values;

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

#[pymodule]
fn _wasmcffi(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    gil::install();
    function_object::register(module_lib::function_pointer_hook);
    m.add_class::<ffi_object::PyFFI>()?;
    m.add_class::<cdata::PyCData>()?;
    m.add_class::<ctype::PyCType>()?;
    m.add_class::<ctype::PyCField>()?;
    m.add_class::<buffer::PyBuffer>()?;
    m.add_class::<lib_object::PyLib>()?;
    m.add_class::<module_lib::PyModuleLib>()?;
    m.add_class::<module_lib::PyModuleFunction>()?;
    m.add_class::<sandbox::PySandbox>()?;
    m.add_function(wrap_pyfunction!(module_lib::_def_extern, m)?)?;
    m.add("GUEST_FILES", guest_files(py)?)?;
    m.add("CDefError", py.get_type::<exceptions::CDefError>())?;
    m.add("SandboxError", py.get_type::<exceptions::SandboxError>())?;
    m.add("Trap", py.get_type::<exceptions::Trap>())?;
    m.add("Timeout", py.get_type::<exceptions::Timeout>())?;
    m.add("GuestExit", py.get_type::<exceptions::GuestExit>())?;
    m.add("FFIError", py.get_type::<exceptions::FFIError>())?;
    m.add("FFITypeError", exceptions::ffi_type_error(py)?)?;
    m.add("FFIValueError", exceptions::ffi_value_error(py)?)?;
    m.add("FFICDefError", exceptions::ffi_cdef_error(py)?)?;
    m.add(
        "VerificationError",
        py.get_type::<exceptions::VerificationError>(),
    )?;
    m.add(
        "VerificationMissing",
        py.get_type::<exceptions::VerificationMissing>(),
    )?;
    Ok(())
}
