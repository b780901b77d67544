//! C's default argument promotions, which the variadic part of a call gets.
#![forbid(unsafe_code)]

use super::{CKind, CType, PrimClass};
use crate::error::{Error, Result};

/// How an argument of some type travels in the variadic part of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Promotion {
    /// As an `int`: integers, characters and `_Bool` narrower than `int`.
    Int,
    /// As a `double`: `float`.
    Double,
    /// As a pointer to its first item: an array.
    ItemPointer,
    /// As it is: wider scalars, pointers, enums and structs.
    Unchanged,
}

/// The promotion of a variadic argument of type `ty`; `Error::Type` for `void`.
pub fn vararg_promotion(ty: &CType) -> Result<Promotion> {
    Ok(match ty.kind() {
        CKind::Prim(_, layout) => match layout.class {
            PrimClass::Float if layout.size < 8 => Promotion::Double,
            PrimClass::Int { .. }
            | PrimClass::Char
            | PrimClass::Bool
            | PrimClass::WideChar { .. }
                if layout.size < 4 =>
            {
                Promotion::Int
            }
            _ => Promotion::Unchanged,
        },
        CKind::Array { .. } => Promotion::ItemPointer,
        CKind::Enum(_) | CKind::Pointer(_) | CKind::Function(_) | CKind::Record(_) => {
            Promotion::Unchanged
        }
        CKind::Void => return Err(Error::Type("cannot pass a 'void' cdata".into())),
    })
}
