//! Pickling support: the objects of the extension reduce through the Python
//! module `wasmcffi._pickling`, which knows modules, instances and types by name.

use pyo3::call::PyCallArgs;
use pyo3::prelude::*;

/// `wasmcffi._pickling.<reducer>(*args)`: the `__reduce__` value of an object.
pub fn reduce_with<'py>(
    py: Python<'py>,
    reducer: &str,
    args: impl PyCallArgs<'py>,
) -> PyResult<Py<PyAny>> {
    let value = py
        .import("wasmcffi._pickling")?
        .getattr(reducer)?
        .call1(args)?;
    Ok(value.unbind())
}
