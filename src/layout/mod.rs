//! Sizes, alignments and field offsets of model types for one target.
//!
//! A [`TypeResolver`] turns a model [`TypeId`](crate::model::TypeId) into a [`CType`]: a shared,
//! immutable runtime descriptor that carries everything the cdata layer needs
//! (size, alignment, item type, field offsets, bitfield positions, C name).
//! Resolution is cached per target, so each model type maps to one `CType`
//! and identity comparisons work (`ffi.typeof("int*") is ffi.typeof("int *")`).
//!
//! Two data models exist: the host's (x86-64 LP64 System V) and wasm32 (ILP32,
//! clang's wasm32-wasi ABI). Both are little-endian.

#![forbid(unsafe_code)]
#![warn(clippy::cast_possible_truncation)]

mod abi_class;
mod by_value;
mod ctype;
mod path;
mod record;
mod resolve;
mod target;
mod vararg;

pub use abi_class::{abi_class, extend, AbiClass, PlainChar};
pub use by_value::{check_libffi_by_value, check_libffi_signature, Place};
pub use ctype::{
    CKind, CType, CTypeData, Contradiction, EnumType, FieldLayout, FuncInfo, MeasuredField,
    MeasuredRecord, RecordLayout, RecordType,
};
pub use path::{follow_path, PathStep};
pub use resolve::{Adoption, TypeResolver};
pub use target::{PrimClass, PrimLayout, Target};
pub use vararg::{vararg_promotion, Promotion};
