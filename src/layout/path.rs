//! Paths into a type, as `ffi.offsetof(T, *path)` and `ffi.addressof(cdata,
//! *path)` follow them: field names and indexes, each moving to a member or an
//! item, adding its offset.
#![forbid(unsafe_code)]

use super::{CKind, CType};
use crate::error::{Error, Result};

/// One step of a path: a field of a struct or union, or an item of an array
/// (or, as the first step, of what a pointer points to).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    Field(String),
    Index(i64),
}

/// Follows `steps` from `ty`; returns the type reached and its byte offset.
/// With `pointer_first`, a first field step may go through a pointer to a
/// struct or union, as CFFI allows. Errors are CFFI's: `Error::Type` for a
/// step the type does not have (or a bitfield), `Error::Key` for an unknown
/// field, `Error::Value` for a path that ends before its start.
pub fn follow_path(ty: &CType, steps: &[PathStep], pointer_first: bool) -> Result<(CType, u64)> {
    let mut ty = ty.clone();
    let mut offset: i128 = 0;
    for (n, step) in steps.iter().enumerate() {
        let (next, step_offset) = match step {
            PathStep::Field(name) => field_step(&ty, name, pointer_first && n == 0)?,
            PathStep::Index(index) => index_step(&ty, *index, n == 0)?,
        };
        offset += step_offset;
        ty = next;
    }
    let offset = u64::try_from(offset).map_err(|_| Error::Value("negative offset".into()))?;
    Ok((ty, offset))
}

fn field_step(ty: &CType, name: &str, through_pointer: bool) -> Result<(CType, i128)> {
    let record = match ty.kind() {
        CKind::Record(_) => ty.clone(),
        CKind::Pointer(target) if through_pointer && matches!(target.kind(), CKind::Record(_)) => {
            target.clone()
        }
        _ => {
            return Err(Error::Type(
                "with a field name argument, expected a struct or union ctype".into(),
            ))
        }
    };
    let CKind::Record(r) = record.kind() else {
        unreachable!("checked above")
    };
    let layout = r.checked_layout(record.cname(), || {
        Error::Type(format!(
            "struct or union ctype '{}' is incomplete",
            record.cname()
        ))
    })?;
    let field = layout
        .fields
        .iter()
        .find(|f| f.name == name)
        .ok_or_else(|| Error::Key(name.to_owned()))?;
    if field.bitsize >= 0 {
        return Err(Error::Type(format!("not supported for bitfield '{name}'")));
    }
    Ok((field.ty.clone(), i128::from(field.offset)))
}

fn index_step(ty: &CType, index: i64, first: bool) -> Result<(CType, i128)> {
    let item = match ty.kind() {
        CKind::Array { item, .. } => item.clone(),
        CKind::Pointer(item) if first => item.clone(),
        _ => {
            return Err(Error::Type(
                "with an integer argument, expected an array ctype or a pointer ctype".into(),
            ))
        }
    };
    let size = item
        .size()
        .ok_or_else(|| Error::Type(format!("ctype '{}' is of unknown size", item.cname())))?;
    Ok((item, i128::from(index) * i128::from(size)))
}
