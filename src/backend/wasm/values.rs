//! The vocabulary of the wasm backend: wasm value types, signatures and
//! values of C scalars on wasm32. A leaf: it uses no other module of the
//! backend, and every other module may use it.
#![forbid(unsafe_code)]

use wasmtime::{Engine, FuncType, Val, ValType};

use crate::bail;
use crate::error::Result;

/// The wasm value types of C scalars on wasm32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WasmType {
    I32,
    I64,
    F32,
    F64,
}

impl WasmType {
    pub(crate) fn val_type(self) -> ValType {
        match self {
            WasmType::I32 => ValType::I32,
            WasmType::I64 => ValType::I64,
            WasmType::F32 => ValType::F32,
            WasmType::F64 => ValType::F64,
        }
    }

    pub(crate) fn of(ty: &ValType) -> Option<WasmType> {
        Some(match ty {
            ValType::I32 => WasmType::I32,
            ValType::I64 => WasmType::I64,
            ValType::F32 => WasmType::F32,
            ValType::F64 => WasmType::F64,
            _ => return None,
        })
    }
}

/// A wasm function signature made of scalars (at most one result).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WasmSignature {
    pub params: Vec<WasmType>,
    pub result: Option<WasmType>,
}

impl WasmSignature {
    pub(crate) fn func_type(&self, engine: &Engine) -> FuncType {
        FuncType::new(
            engine,
            self.params.iter().map(|t| t.val_type()),
            self.result.map(WasmType::val_type),
        )
    }

    pub(crate) fn of(ty: &FuncType) -> Option<WasmSignature> {
        let params = ty
            .params()
            .map(|t| WasmType::of(&t))
            .collect::<Option<_>>()?;
        let mut results = ty.results();
        let result = match results.next() {
            None => None,
            Some(t) => Some(WasmType::of(&t)?),
        };
        results
            .next()
            .is_none()
            .then_some(WasmSignature { params, result })
    }
}

/// A value passed to or returned from a guest function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WasmVal {
    /// `i32`: C `int`, `long`, pointers, `_Bool`, `char`… on wasm32.
    I32(i32),
    /// `i64`: C `long long`.
    I64(i64),
    /// `f32`: C `float`.
    F32(f32),
    /// `f64`: C `double`.
    F64(f64),
}

impl WasmVal {
    pub(crate) fn to_val(self) -> Val {
        match self {
            WasmVal::I32(v) => Val::I32(v),
            WasmVal::I64(v) => Val::I64(v),
            WasmVal::F32(v) => Val::F32(v.to_bits()),
            WasmVal::F64(v) => Val::F64(v.to_bits()),
        }
    }

    pub(crate) fn from_val(val: &Val) -> Result<WasmVal> {
        Ok(match *val {
            Val::I32(v) => WasmVal::I32(v),
            Val::I64(v) => WasmVal::I64(v),
            Val::F32(v) => WasmVal::F32(f32::from_bits(v)),
            Val::F64(v) => WasmVal::F64(f64::from_bits(v)),
            _ => bail!(
                Type,
                "guest function returned a value of an unsupported wasm type"
            ),
        })
    }

    /// The wasm type of this value.
    pub fn wasm_type(self) -> WasmType {
        match self {
            WasmVal::I32(_) => WasmType::I32,
            WasmVal::I64(_) => WasmType::I64,
            WasmVal::F32(_) => WasmType::F32,
            WasmVal::F64(_) => WasmType::F64,
        }
    }

    pub(crate) fn matches(self, ty: &ValType) -> bool {
        matches!(
            (self, ty),
            (WasmVal::I32(_), ValType::I32)
                | (WasmVal::I64(_), ValType::I64)
                | (WasmVal::F32(_), ValType::F32)
                | (WasmVal::F64(_), ValType::F64)
        )
    }
}
