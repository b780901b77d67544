//! `Sandbox`: one wasm instance of a compiled module, seen from Python
//! (`wasmcffi.sandbox(lib)`): its limits, usage, faults and resets.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use wasmcffi::backend::wasm::{
    DirGrant, Limits, OutputSink, Sandbox, SandboxConfig, WasmModule, WasmVal, PAGE_SIZE,
};
use wasmcffi::cdata::Memory;

use crate::base::exceptions::CoreResultExt;

/// The most linear memory a wasm32 guest can address: "no memory limit".
const WASM32_MEMORY: u64 = 1 << 32;

/// A running instance of a sandboxed module.
#[pyclass(name = "Sandbox", module = "wasmcffi", frozen)]
pub struct PySandbox {
    pub sandbox: Arc<Sandbox>,
    /// The `.wasm` file the module was loaded from (what a snapshot is tagged with).
    module_path: String,
}

/// A sink calling a Python function with the guest's output bytes (`None`: dropped).
fn python_sink(function: Option<Py<PyAny>>) -> Option<OutputSink> {
    let function = function?;
    Some(Arc::new(move |data: &[u8]| {
        crate::base::gil::with_gil(|py| {
            if let Err(err) = function.call1(py, (PyBytes::new(py, data),)) {
                err.write_unraisable(py, None);
            }
        });
    }))
}

/// A memory limit in bytes (`None`: all a wasm32 guest can address).
fn memory_limit(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    if value.is_none() {
        return Ok(WASM32_MEMORY);
    }
    let bytes: i128 = value.extract()?;
    u64::try_from(bytes)
        .map_err(|_| PyValueError::new_err(format!("memory limit must be >= 0, not {bytes}")))
}

/// A time limit in seconds (`None`: no limit).
fn time_limit(value: &Bound<'_, PyAny>) -> PyResult<Option<Duration>> {
    if value.is_none() {
        return Ok(None);
    }
    let seconds: f64 = value.extract()?;
    if seconds.is_nan() || seconds <= 0.0 {
        return Err(PyValueError::new_err(format!(
            "timeout must be a positive number of seconds or None, not {seconds}"
        )));
    }
    Duration::try_from_secs_f64(seconds)
        .map(Some)
        .map_err(|e| PyValueError::new_err(format!("bad timeout {seconds}: {e}")))
}

/// A fuel budget (`None`: unlimited).
fn fuel_limit(value: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
    if value.is_none() {
        return Ok(None);
    }
    let fuel: i128 = value.extract()?;
    u64::try_from(fuel)
        .map(Some)
        .map_err(|_| PyValueError::new_err(format!("fuel must be >= 0, not {fuel}")))
}

/// `limits` updated with the keyword arguments present in `kwargs`
/// (`memory`, `timeout`, `fuel`); unknown keywords are a TypeError.
fn updated_limits(mut limits: Limits, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Limits> {
    let Some(kwargs) = kwargs else {
        return Ok(limits);
    };
    for (key, value) in kwargs.iter() {
        match key.extract::<String>()?.as_str() {
            "memory" => limits.max_memory = memory_limit(&value)?,
            "timeout" => limits.timeout = time_limit(&value)?,
            "fuel" => limits.fuel = fuel_limit(&value)?,
            other => {
                return Err(PyTypeError::new_err(format!(
                    "unknown limit '{other}' (expected memory, timeout or fuel)"
                )))
            }
        }
    }
    Ok(limits)
}

/// The configuration of a new sandbox: output sinks, plus the keyword options
/// `memory`, `timeout`, `fuel` (makes the instance metered), `auto_reset`, `dirs`
/// ((host path, guest path, writable) triples), `env` ((name, value) pairs) and
/// `args` (strings). Unknown keywords are a TypeError.
fn config_from(
    py: Python<'_>,
    stdout: Option<Py<PyAny>>,
    stderr: Option<Py<PyAny>>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<SandboxConfig> {
    let mut config = SandboxConfig {
        stdout: python_sink(stdout),
        stderr: python_sink(stderr),
        ..SandboxConfig::default()
    };
    let limits = PyDict::new(py);
    for (key, value) in options.into_iter().flat_map(|o| o.iter()) {
        match key.extract::<String>()?.as_str() {
            "memory" | "timeout" | "fuel" => limits.set_item(key, value)?,
            "auto_reset" => config.auto_reset = value.extract()?,
            "dirs" => {
                let dirs: Vec<(PathBuf, String, bool)> = value.extract()?;
                config.grants.dirs = dirs
                    .into_iter()
                    .map(|(host_path, guest_path, writable)| DirGrant {
                        host_path,
                        guest_path,
                        writable,
                    })
                    .collect();
            }
            "env" => config.grants.env = value.extract()?,
            "args" => config.grants.args = value.extract()?,
            other => {
                return Err(PyTypeError::new_err(format!(
                    "unknown sandbox option '{other}' (expected memory, timeout, fuel, \
                     auto_reset, dirs, env or args)"
                )))
            }
        }
    }
    config.limits = updated_limits(Limits::default(), Some(&limits))?;
    config.metered = config.limits.fuel.is_some();
    Ok(config)
}

impl PySandbox {
    /// A new instance of `module` (its `_initialize` may run guest code).
    fn start(
        py: Python<'_>,
        module: &WasmModule,
        config: SandboxConfig,
        module_path: String,
    ) -> PyResult<Self> {
        let sandbox = crate::base::gil::run_guest(py, || Sandbox::new(module, config)).py()?;
        Ok(PySandbox {
            sandbox,
            module_path,
        })
    }
}

#[pymethods]
impl PySandbox {
    /// Instantiates the module at `wasm_path`. `stdout`/`stderr` get the guest's
    /// output bytes (None: dropped); the options are those of `config_from`:
    /// `memory` (bytes, default 1 GiB), `timeout` (seconds per call), `fuel` (per
    /// call), `auto_reset`, `dirs`, `env`, `args`.
    #[new]
    #[pyo3(signature = (wasm_path, stdout, stderr, **options))]
    fn new(
        py: Python<'_>,
        wasm_path: &str,
        stdout: Option<Py<PyAny>>,
        stderr: Option<Py<PyAny>>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let config = config_from(py, stdout, stderr, options)?;
        let bytes = std::fs::read(wasm_path)?;
        let module = py.detach(|| WasmModule::cached(&bytes)).py()?;
        Self::start(py, &module, config, wasm_path.to_owned())
    }

    /// Changes limits for the following calls: `memory=` bytes (None: 4 GiB, all
    /// a wasm32 guest can address), `timeout=` seconds per call (None: none),
    /// `fuel=` per call (None: unlimited; only for instances created with fuel).
    /// Limits not named keep their values.
    #[pyo3(signature = (**limits))]
    fn set_limits(&self, limits: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        let limits = updated_limits(self.sandbox.limits(), limits)?;
        self.sandbox.set_limits(limits).py()
    }

    /// The limits in force: a dict with `memory`, `timeout` and `fuel`.
    #[getter]
    fn limits<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let limits = self.sandbox.limits();
        let dict = PyDict::new(py);
        dict.set_item("memory", limits.max_memory)?;
        dict.set_item("timeout", limits.timeout.map(|t| t.as_secs_f64()))?;
        dict.set_item("fuel", limits.fuel)?;
        Ok(dict)
    }

    /// What the sandbox has consumed: a dict with `memory` (bytes of linear memory
    /// now), `fuel` (burnt by all calls; 0 unless metered), `calls` and `traps`
    /// (calls into the guest, and those that faulted), counted since creation.
    #[getter]
    fn usage<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let usage = self.sandbox.usage();
        let dict = PyDict::new(py);
        dict.set_item("memory", usage.memory)?;
        dict.set_item("fuel", usage.fuel)?;
        dict.set_item("calls", usage.calls)?;
        dict.set_item("traps", usage.traps)?;
        Ok(dict)
    }

    /// Why the instance refuses to run (a message), or None when it is usable.
    /// The calls a sandbox cannot make that the module links (`system`, `popen`,
    /// `socket`, ...): they compile and fail at run time with -1 or NULL and
    /// errno ENOSYS. Sorted names.
    #[getter]
    fn stubbed_calls(&self) -> Vec<String> {
        self.sandbox.module().stubbed_calls()
    }

    #[getter]
    fn poisoned(&self) -> PyResult<Option<String>> {
        self.sandbox.poisoned().py()
    }

    /// Whether a fault resets the instance at once (set at creation).
    #[getter]
    fn auto_reset(&self) -> bool {
        self.sandbox.config().auto_reset
    }

    /// Whether calls burn fuel (the instance was created with a fuel limit).
    #[getter]
    fn metered(&self) -> bool {
        self.sandbox.config().metered
    }

    /// Which instance runs: 1 at first, one more after each reset.
    #[getter]
    fn generation(&self) -> u64 {
        self.sandbox.generation()
    }

    /// Drops all guest state and starts a fresh instance (same module, limits
    /// and grants). cdata made before raise SandboxError when used.
    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        let sandbox = &self.sandbox;
        crate::base::gil::run_guest(py, || sandbox.reset()).py()
    }

    /// A new, isolated instance of the same compiled module (options as for
    /// `Sandbox(...)`; limits not given are the defaults, not this sandbox's).
    #[pyo3(signature = (stdout, stderr, **options))]
    fn spawn(
        &self,
        py: Python<'_>,
        stdout: Option<Py<PyAny>>,
        stderr: Option<Py<PyAny>>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let config = config_from(py, stdout, stderr, options)?;
        Self::start(py, self.sandbox.module(), config, self.module_path.clone())
    }

    /// The instance's state between calls as `bytes`: its linear memory (the
    /// whole state of a guest between calls), tagged with the module's content
    /// hash. `wasmcffi.instantiate(module, snapshot=data)` starts a new instance
    /// from it, here or in another process. Host objects the guest refers to
    /// (callbacks, handles) are not part of it.
    fn snapshot(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let take = py.import("wasmcffi._snapshot")?.getattr("take")?;
        Ok(take.call1((slf,))?.unbind())
    }

    /// The `.wasm` file of the module.
    #[getter]
    fn _module_path(&self) -> &str {
        &self.module_path
    }

    /// `(size, pages, payload)`: the memory's size in bytes, how many of its
    /// wasm pages hold a non-zero byte, and the snapshot payload: those pages'
    /// indexes (little-endian `u32`s), then their bytes.
    fn _memory_pages<'py>(&self, py: Python<'py>) -> PyResult<(u64, usize, Bound<'py, PyBytes>)> {
        let sandbox = &self.sandbox;
        let (size, pages, payload) = crate::base::gil::run_guest(py, || {
            // The pages go straight from linear memory into the bytes object.
            sandbox.with_memory_pages(|memory, indexes| {
                let cut = 4 * indexes.len();
                let payload = PyBytes::new_with(py, cut + indexes.len() * PAGE_SIZE, |out| {
                    let (index_slots, page_slots) = out.split_at_mut(cut);
                    for (slot, index) in index_slots.chunks_exact_mut(4).zip(indexes) {
                        slot.copy_from_slice(&index.to_le_bytes());
                    }
                    for (slot, &index) in page_slots.chunks_exact_mut(PAGE_SIZE).zip(indexes) {
                        slot.copy_from_slice(&memory[index as usize * PAGE_SIZE..][..PAGE_SIZE]);
                    }
                    Ok(())
                });
                (memory.len() as u64, indexes.len(), payload)
            })
        })
        .py()?;
        Ok((size, pages, payload?))
    }

    /// Makes the linear memory what `_memory_pages` described (checked first).
    fn _restore_memory_pages(
        &self,
        py: Python<'_>,
        size: u64,
        pages: usize,
        payload: &[u8],
    ) -> PyResult<()> {
        let Some((indexes, data)) = pages
            .checked_mul(4)
            .and_then(|cut| payload.split_at_checked(cut))
        else {
            return Err(PyValueError::new_err(format!(
                "a payload of {} bytes cannot hold {pages} page indexes",
                payload.len()
            )));
        };
        let indexes: Vec<u32> = indexes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let sandbox = &self.sandbox;
        crate::base::gil::run_guest(py, || sandbox.restore_memory_pages(size, &indexes, data)).py()
    }

    fn __repr__(&self) -> String {
        let usage = self.sandbox.usage();
        format!(
            "<wasmcffi.Sandbox generation {}, {} bytes of memory, {} calls, {} traps>",
            self.sandbox.generation(),
            usage.memory,
            usage.calls,
            usage.traps
        )
    }

    /// The table of sizes, offsets and values the glue measured (`_cffi_layout`).
    fn layout_table(&self, py: Python<'_>) -> PyResult<Vec<u64>> {
        let call =
            |name: &str| crate::base::gil::run_guest(py, || self.sandbox.call(name, &[])).py();
        let ptr = match call("_cffi_layout")?.first() {
            Some(WasmVal::I32(p)) => *p as u32 as u64,
            other => {
                return Err(PyRuntimeError::new_err(format!(
                    "_cffi_layout returned {other:?}"
                )))
            }
        };
        let len = match call("_cffi_layout_len")?.first() {
            Some(WasmVal::I64(n)) => *n as u64,
            Some(WasmVal::I32(n)) => *n as u32 as u64,
            other => {
                return Err(PyRuntimeError::new_err(format!(
                    "_cffi_layout_len returned {other:?}"
                )))
            }
        };
        let size = len
            .checked_mul(8)
            .ok_or_else(|| PyValueError::new_err("_cffi_layout_len is too large"))?;
        let bytes = self.sandbox.memory().read_vec(ptr, size).py()?;
        Ok(bytes
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect())
    }
}
