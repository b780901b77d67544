//! Adding names to [`Declarations`] with CFFI's redeclaration rules: the identical
//! declaration again is accepted, a different one needs `override=True`.

use crate::error::{Error, Result};
use crate::model::{ConstValue, Decl, Declarations, TypeId};

fn multiple(kind: &str, name: &str) -> Error {
    Error::Ffi(format!(
        "multiple declarations of {kind} {name} (for interactive usage, try cdef(xx, override=True))"
    ))
}

/// Declares `name` in `lib`. `kind` names it in messages (`function`, `variable`, …).
///
/// # Errors
/// `Error::Ffi` if `name` already means something else and `override_names` is off.
pub fn declare_lib(
    decls: &mut Declarations,
    name: &str,
    decl: Decl,
    kind: &str,
    override_names: bool,
) -> Result<()> {
    if let Some(prev) = decls.lib_items.get(name) {
        if *prev == decl || same_int_constant(prev, &decl) {
            return Ok(());
        }
        if !override_names {
            return Err(multiple(kind, name));
        }
    }
    decls.lib_items.insert(name.to_owned(), decl);
    Ok(())
}

/// Two integer constants of the same value: CFFI ignores such a second
/// declaration (the same enumerator in two enums, a `#define` repeating an
/// enumerator), whatever the types.
fn same_int_constant(a: &Decl, b: &Decl) -> bool {
    match (a, b) {
        (
            Decl::Constant {
                value: ConstValue::Int(x),
                ..
            },
            Decl::Constant {
                value: ConstValue::Int(y),
                ..
            },
        ) => x == y,
        _ => false,
    }
}

/// Declares the typedef `name`.
///
/// # Errors
/// `Error::Ffi` if `name` is already a different typedef and `override_names` is off.
pub fn declare_typedef(
    decls: &mut Declarations,
    name: &str,
    ty: TypeId,
    override_names: bool,
) -> Result<()> {
    if let Some(&prev) = decls.typedefs.get(name) {
        if prev == ty {
            return Ok(());
        }
        if !override_names {
            return Err(multiple("typedef", name));
        }
    }
    decls.typedefs.insert(name.to_owned(), ty);
    Ok(())
}

/// CFFI's integer-constant table: the same name with another value is always an error.
///
/// # Errors
/// `Error::Ffi("multiple declarations of constant: X")`.
pub fn ensure_constant(decls: &Declarations, name: &str, value: i128) -> Result<()> {
    match decls.lib_items.get(name) {
        Some(Decl::Constant {
            value: ConstValue::Int(v),
            ..
        }) if *v != value => Err(Error::Ffi(format!(
            "multiple declarations of constant: {name}"
        ))),
        _ => Ok(()),
    }
}
