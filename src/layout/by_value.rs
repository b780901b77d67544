//! Which C types a call made through libffi can pass by value, with CFFI's
//! rules and messages. CFFI calls through libffi in ABI mode (`dlopen`),
//! for function pointers, for variadic functions and for callbacks; only API-mode
//! calls of non-variadic functions go through compiled C. Both targets apply
//! the same rules in the same places, so a program behaves identically on each
//! (the sandbox's own calls could pass more, but then native code would not).

use crate::error::{Error, Result};
use crate::layout::{CKind, CType, PrimClass};
use crate::model::RecordKind;

/// Where a value appears in a call, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Argument,
    Result,
}

impl Place {
    fn word(self) -> &'static str {
        match self {
            Place::Argument => "argument",
            Place::Result => "return value",
        }
    }
}

const API_MODE_ONLY: &str = "if the function is 'API mode' and non-variadic (i.e. declared \
     inside ffibuilder.cdef()+ffibuilder.set_source() and not taking a final '...' argument)";

/// Checks that a libffi-based call can pass or return `ty` by value.
///
/// # Errors
/// `Error::NotImplemented` with CFFI's message for unions, complex numbers and
/// structs whose by-value convention libffi cannot know: completed from a
/// `...;` cdef with a layout of their own, with anonymous nested records, packed,
/// with bitfields or with a zero-length array, at any depth.
pub fn check_libffi_by_value(ty: &CType, place: Place) -> Result<()> {
    match ty.kind() {
        CKind::Record(r) if r.kind == RecordKind::Union => Err(Error::NotImplemented(format!(
            "ctype '{}' not supported as {} by libffi.  Unions are only supported as {} {API_MODE_ONLY}",
            ty.cname(),
            place.word(),
            place.word()
        ))),
        CKind::Record(_) => {
            let Some(layout) = ty.record_layout() else {
                return Ok(()); // not laid out: the caller reports it
            };
            let unsupported = |why: &str| {
                Err(Error::NotImplemented(format!(
                    "ctype '{}' not supported as {}.  {why}.  Such structs are only supported as {} {API_MODE_ONLY}",
                    ty.cname(),
                    place.word(),
                    place.word()
                )))
            };
            if layout.custom_field_pos {
                return unsupported(
                    "It is a struct declared with \"...;\", but the C calling convention may \
                     depend on the missing fields; or, it contains anonymous struct/unions",
                );
            }
            if layout.packed_change {
                return unsupported(
                    "It is a 'packed' structure, with a different layout than expected by libffi",
                );
            }
            for field in &layout.fields {
                if field.bitsize >= 0 {
                    return unsupported("It is a struct with bit fields, which libffi does not support");
                }
                let mut item = &field.ty;
                while let CKind::Array { item: inner, len } = item.kind() {
                    if matches!(len, None | Some(0)) {
                        return unsupported(
                            "It is a struct with a zero-length array, which libffi does not support",
                        );
                    }
                    item = inner;
                }
                check_libffi_by_value(item, Place::Argument)?;
            }
            Ok(())
        }
        CKind::Prim(_, l) if l.class == PrimClass::Complex => Err(Error::NotImplemented(format!(
            "ctype '{}' (size {}) not supported as {} (the support for complex types inside \
             libffi is mostly missing at this point, so CFFI only supports complex types as \
             arguments or return value in API-mode functions)",
            ty.cname(),
            l.size,
            place.word()
        ))),
        _ => Ok(()),
    }
}

/// [`check_libffi_by_value`] for the result and then each parameter of a signature.
///
/// # Errors
/// As [`check_libffi_by_value`].
pub fn check_libffi_signature(ret: &CType, params: &[CType]) -> Result<()> {
    check_libffi_by_value(ret, Place::Result)?;
    params
        .iter()
        .try_for_each(|p| check_libffi_by_value(p, Place::Argument))
}
