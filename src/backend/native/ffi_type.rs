//! libffi type descriptions of resolved C types.

use libffi::middle::Type;

use crate::error::{Error, Result};
use crate::layout::{
    abi_class, check_libffi_by_value, AbiClass, CKind, CType, Place, PlainChar, PrimClass, Target,
};

fn unsupported(ty: &CType, pos: Place, why: &str) -> Error {
    let place = match pos {
        Place::Argument => "argument",
        Place::Result => "return value",
    };
    Error::NotImplemented(format!(
        "ctype '{}' not supported as {place} by libffi{why}",
        ty.cname()
    ))
}

/// The libffi type of `ty` as an argument or result of a host function.
///
/// # Errors
/// `Error::NotImplemented` for what libffi cannot pass by value (unions,
/// structs with bitfields, packed or variable-size structs, complex numbers),
/// as CFFI refuses them; `Error::VerificationMissing` for partial structs.
pub(super) fn ffi_type(ty: &CType, pos: Place) -> Result<Type> {
    match ty.kind() {
        CKind::Void if matches!(pos, Place::Result) => Ok(Type::void()),
        CKind::Void => Err(Error::Type(
            "'void' is not a valid argument type".to_owned(),
        )),
        CKind::Pointer(_) | CKind::Function(_) => Ok(Type::pointer()),
        CKind::Enum(_) => integer_type(ty),
        CKind::Prim(_, layout) => match layout.class {
            PrimClass::Float if layout.size == 4 => Ok(Type::f32()),
            PrimClass::Float => Ok(Type::f64()),
            PrimClass::LongDouble if ty.data().target == Target::Host => Ok(Type::longdouble()),
            PrimClass::LongDouble => Err(unsupported(ty, pos, " on this target")),
            // check_libffi_by_value() refuses every complex type, with CFFI's message.
            PrimClass::Complex => check_libffi_by_value(ty, pos).and(Err(unsupported(ty, pos, ""))),
            PrimClass::Int { .. }
            | PrimClass::WideChar { .. }
            | PrimClass::Char
            | PrimClass::Bool => integer_type(ty),
        },
        CKind::Array { .. } => Err(Error::Type(format!(
            "ctype '{}' cannot be passed by value",
            ty.cname()
        ))),
        CKind::Record(_) => record_type(ty, pos),
    }
}

/// The size and signedness by which an integer-like type (integers, characters,
/// `_Bool`, enums) travels on the libffi paths, where plain `char` is unsigned
/// as CFFI describes it: how libffi sees it, how a narrow result is widened and
/// how a register call extends it. `None` for anything else.
pub(super) fn int_class(ty: &CType) -> Option<(u8, bool)> {
    match abi_class(ty, PlainChar::Unsigned) {
        AbiClass::Int { size, signed } => Some((size, signed)),
        _ => None,
    }
}

/// The libffi type of the integer-like `ty`.
fn integer_type(ty: &CType) -> Result<Type> {
    let (size, signed) = int_class(ty)
        .ok_or_else(|| Error::Internal(format!("'{}' is not an integer type", ty.cname())))?;
    Ok(int_type(size, signed))
}

fn int_type(size: u8, signed: bool) -> Type {
    match (size, signed) {
        (1, true) => Type::i8(),
        (1, false) => Type::u8(),
        (2, true) => Type::i16(),
        (2, false) => Type::u16(),
        (4, true) => Type::i32(),
        (4, false) => Type::u32(),
        (_, true) => Type::i64(),
        (_, false) => Type::u64(),
    }
}

/// A struct by value: libffi sees the flat list of its scalar members, which
/// classifies the same way as the nested C struct on the System V ABI.
fn record_type(ty: &CType, pos: Place) -> Result<Type> {
    let CKind::Record(r) = ty.kind() else {
        unreachable!("record_type takes records")
    };
    if r.is_partial() {
        return Err(Error::VerificationMissing(ty.cname().to_owned()));
    }
    check_libffi_by_value(ty, pos)?;
    let mut scalars = Vec::new();
    flatten(ty, 0, &mut scalars)?;
    // libffi lays the scalars out with natural alignment; a packed struct (or one
    // with unions inside) would be laid out differently, so it is refused.
    let mut offset = 0u64;
    for (scalar, at) in &scalars {
        let align = scalar.align().unwrap_or(1);
        offset = offset.div_ceil(align) * align;
        if offset != *at {
            return Err(unsupported(
                ty,
                pos,
                ": its layout (packed or with unions) cannot be described to libffi",
            ));
        }
        offset += scalar.size().unwrap_or(0);
    }
    let elements = scalars
        .iter()
        .map(|(scalar, _)| ffi_type(scalar, pos))
        .collect::<Result<Vec<_>>>()?;
    Ok(Type::structure(elements))
}

/// Appends the scalar members of `ty` (at byte offset `base`) to `out`.
fn flatten(ty: &CType, base: u64, out: &mut Vec<(CType, u64)>) -> Result<()> {
    match ty.kind() {
        CKind::Record(_) => {
            let layout = ty.record_layout().ok_or_else(|| {
                Error::Value(format!("ctype '{}' is of unknown size", ty.cname()))
            })?;
            // check_libffi_by_value() refused bitfields, unions and anonymous members.
            for field in &layout.fields {
                flatten(&field.ty, base + field.offset, out)?;
            }
            Ok(())
        }
        CKind::Array { item, len: Some(n) } => {
            let size = item.size().unwrap_or(0);
            for i in 0..*n {
                flatten(item, base + i * size, out)?;
            }
            Ok(())
        }
        _ => {
            out.push((ty.clone(), base));
            Ok(())
        }
    }
}
