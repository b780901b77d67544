//! Python objects ↔ core [`Value`]s. Pure shape conversion: every C rule
//! (ranges, initializer forms, compatibility) lives in the core's `cdata`.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyComplex, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use wasmcffi::cdata::{StringResult, Value};
use wasmcffi::layout::{CKind, CType, PrimClass, Target};

use crate::base::exceptions::type_name;
use crate::objects::cdata::PyCData;

/// The [`Value`] standing for a Python object, as an initializer or argument
/// for a cdata of `target`; a compiled module's function (`lib.f`) stands for
/// its function pointer.
///
/// # Errors
/// TypeError for a cdata of the other target (host vs sandbox), which must
/// never be copied silently across.
pub fn to_value(obj: &Bound<'_, PyAny>, target: Target) -> PyResult<Value> {
    if let Ok(cdata) = obj.cast::<PyCData>() {
        return cdata.get().as_value(target);
    }
    if let Some(pointer) = crate::base::function_object::function_pointer_of(obj) {
        // `lib.f` of a compiled module stands for its function pointer, as in CFFI.
        return to_value(pointer?.bind(obj.py()), target);
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(obj.is_truthy()?));
    }
    if let Ok(int) = obj.cast::<PyInt>() {
        return Ok(int_value(int));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::Bytes(b.as_bytes().to_vec()));
    }
    // A bytearray is not bytes for CFFI's conversions (only slice assignment
    // and buffers take it); it falls through to `Value::Other`.
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::Str(code_points(s)?));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return Ok(Value::List(
            list.iter()
                .map(|item| to_value(&item, target))
                .collect::<PyResult<_>>()?,
        ));
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return Ok(Value::List(
            tuple
                .iter()
                .map(|item| to_value(&item, target))
                .collect::<PyResult<_>>()?,
        ));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut items = Vec::with_capacity(dict.len());
        for (key, value) in dict.iter() {
            let key: String = key.extract().map_err(|_| {
                PyTypeError::new_err(format!("field name must be a str, not {}", type_name(&key)))
            })?;
            items.push((key, to_value(&value, target)?));
        }
        return Ok(Value::Dict(items));
    }
    if let Ok(c) = obj.cast::<PyComplex>() {
        return Ok(Value::Complex(c.real(), c.imag()));
    }
    if obj.is_none() {
        return Ok(Value::None);
    }
    if obj.hasattr("__index__")? {
        if let Ok(int) = obj.call_method0("__index__")?.cast_into::<PyInt>() {
            return Ok(int_value(&int));
        }
    }
    Ok(Value::Other(type_name(obj)))
}

/// An `int` as a [`Value`]: 128 bits, or [`Value::HugeInt`] past that.
fn int_value(int: &Bound<'_, PyInt>) -> Value {
    match int.extract::<i128>() {
        Ok(v) => Value::Int(v),
        Err(_) => Value::HugeInt(int.gt(0).unwrap_or(true)),
    }
}

/// The code points of a str, lone surrogates included.
pub fn code_points(s: &Bound<'_, PyString>) -> PyResult<Vec<u32>> {
    match s.to_str() {
        Ok(text) => Ok(text.chars().map(u32::from).collect()),
        // Only strings holding lone surrogates fail UTF-8 conversion.
        Err(_) => {
            let ord = s.py().import("builtins")?.getattr("ord")?;
            s.try_iter()?
                .map(|c| ord.call1((c?,))?.extract::<u32>())
                .collect()
        }
    }
}

/// A Python str from code points, lone surrogates included.
pub fn str_from_code_points<'py>(py: Python<'py>, points: &[u32]) -> PyResult<Bound<'py, PyAny>> {
    match points
        .iter()
        .map(|&c| char::from_u32(c))
        .collect::<Option<String>>()
    {
        Some(text) => Ok(PyString::new(py, &text).into_any()),
        None => {
            let chr = py.import("builtins")?.getattr("chr")?;
            let parts = points
                .iter()
                .map(|&c| chr.call1((c,)))
                .collect::<PyResult<Vec<_>>>()?;
            PyString::new(py, "").call_method1("join", (parts,))
        }
    }
}

/// A plain (non-cdata) [`Value`] as a Python object.
pub fn plain_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::None => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        // Through 64 bits when the value fits (PyO3 builds a 128-bit int from
        // two halves with Python arithmetic, several times slower).
        Value::Int(i) => match (i64::try_from(*i), u64::try_from(*i)) {
            (Ok(small), _) => small.into_pyobject(py)?.into_any(),
            (_, Ok(unsigned)) => unsigned.into_pyobject(py)?.into_any(),
            _ => i.into_pyobject(py)?.into_any(),
        },
        Value::HugeInt(_) => return Err(PyTypeError::new_err("integer too large")),
        Value::Float(f) => PyFloat::new(py, *f).into_any(),
        Value::Complex(re, im) => PyComplex::from_doubles(py, *re, *im).into_any(),
        Value::Bytes(b) => PyBytes::new(py, b).into_any(),
        Value::Str(points) => str_from_code_points(py, points)?,
        Value::List(items) => PyList::new(
            py,
            items
                .iter()
                .map(|v| plain_to_py(py, v))
                .collect::<PyResult<Vec<_>>>()?,
        )?
        .into_any(),
        Value::Dict(_) | Value::CData { .. } | Value::Other(_) => {
            return Err(PyTypeError::new_err(
                "internal: value has no plain Python form",
            ))
        }
    })
}

/// What `ffi.string()` returned, as a Python object.
pub fn string_to_py<'py>(py: Python<'py>, res: &StringResult) -> PyResult<Bound<'py, PyAny>> {
    Ok(match res {
        StringResult::Bytes(b) => PyBytes::new(py, b).into_any(),
        StringResult::Str(points) => str_from_code_points(py, points)?,
        StringResult::Int(i) => i.into_pyobject(py)?.into_any(),
    })
}

/// [`to_value`] for a value of C type `ty`, with CFFI's one rule that depends on
/// both sides: a float target converts a cdata with `float()`, which integer,
/// character and enum cdata refuse.
pub fn to_value_for(obj: &Bound<'_, PyAny>, ty: &CType, target: Target) -> PyResult<Value> {
    if let (Ok(cdata), CKind::Prim(_, to)) = (obj.cast::<PyCData>(), ty.kind()) {
        let source = cdata.get();
        let source_is_float = matches!(
            source.ctype.kind(),
            CKind::Prim(_, l) if matches!(l.class, PrimClass::Float | PrimClass::LongDouble | PrimClass::Complex)
        );
        let what = match to.class {
            PrimClass::Float | PrimClass::LongDouble => Some("float()"),
            PrimClass::Complex => Some("complex()"),
            _ => None,
        };
        if let (Some(what), false, CKind::Prim(..) | CKind::Enum(_)) =
            (what, source_is_float, source.ctype.kind())
        {
            return Err(PyTypeError::new_err(format!(
                "{what} not supported on cdata '{}'",
                source.ctype.cname()
            )));
        }
    }
    to_value(obj, target)
}
