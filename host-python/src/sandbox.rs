//! `Sandbox`: one wasm instance of a compiled module, seen from Python.

use std::sync::Arc;

use pyo3::prelude::*;
use wasmcffi::backend::wasm::{OutputSink, Sandbox, SandboxConfig, WasmModule, WasmVal};
use wasmcffi::cdata::Memory;

use crate::exceptions::CoreResultExt;

/// A running instance of a sandboxed module.
#[pyclass(name = "Sandbox", module = "wasmcffi", frozen)]
pub struct PySandbox {
    pub sandbox: Arc<Sandbox>,
}

/// A sink calling a Python function with the guest's output bytes.
fn python_sink(function: PyObject) -> OutputSink {
    Arc::new(move |data: &[u8]| {
        Python::with_gil(|py| {
            if let Err(err) = function.call1(py, (pyo3::types::PyBytes::new(py, data),)) {
                err.write_unraisable(py, None);
            }
        });
    })
}

#[pymethods]
impl PySandbox {
    /// Instantiates the module at `wasm_path`, sending its stdout and stderr
    /// bytes to the two callables.
    #[new]
    #[pyo3(signature = (wasm_path, stdout, stderr, max_memory = None))]
    fn new(
        py: Python<'_>,
        wasm_path: &str,
        stdout: PyObject,
        stderr: PyObject,
        max_memory: Option<u64>,
    ) -> PyResult<Self> {
        let bytes = std::fs::read(wasm_path)?;
        let module = py.allow_threads(|| WasmModule::cached(&bytes)).py()?;
        let config = SandboxConfig {
            stdout: Some(python_sink(stdout)),
            stderr: Some(python_sink(stderr)),
            max_memory,
        };
        Ok(PySandbox {
            sandbox: Sandbox::new(&module, config).py()?,
        })
    }

    /// The table of sizes, offsets and values the glue measured (`_cffi_layout`).
    fn layout_table(&self) -> PyResult<Vec<u64>> {
        let ptr = match self.sandbox.call("_cffi_layout", &[]).py()?.first() {
            Some(WasmVal::I32(p)) => *p as u32 as u64,
            other => {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                    "_cffi_layout returned {other:?}"
                )))
            }
        };
        let len = match self.sandbox.call("_cffi_layout_len", &[]).py()?.first() {
            Some(WasmVal::I64(n)) => *n as u64,
            Some(WasmVal::I32(n)) => *n as u32 as u64,
            other => {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                    "_cffi_layout_len returned {other:?}"
                )))
            }
        };
        let mut bytes = vec![0u8; usize::try_from(len * 8).unwrap_or(0)];
        self.sandbox.memory().read(ptr, &mut bytes).py()?;
        Ok(bytes
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect())
    }
}
