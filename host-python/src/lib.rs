//! The `wasmcffi._wasmcffi` extension module.
use pyo3::prelude::*;

#[pymodule]
fn _wasmcffi(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
