//! cdef text → [`Declarations`]: lang-c parses the C, and CFFI's extensions
//! (`...` in structs, enums, arrays and typedefs, `#define N ...`,
//! `extern "Python"`) are rewritten around it.

#![forbid(unsafe_code)]

use crate::error::Result;
use crate::model::{Declarations, TypeId};

/// Options of one `cdef()` call.
#[derive(Clone, Copy, Debug, Default)]
pub struct CdefOptions {
    /// `packed=True`: every struct of this call has its fields aligned to 1.
    pub packed: bool,
    /// `pack=N`: fields aligned to at most N (a power of two).
    pub pack: Option<u64>,
    /// `override=True`: names may replace earlier declarations.
    pub override_names: bool,
}

/// Parses `source` and adds its declarations to `decls`.
///
/// # Errors
/// `Error::CDef` naming the line (`<cdef source string>:3: unknown type name 'foo_t'`)
/// and quoting it. `decls` is left unchanged on error.
pub fn parse_cdef(decls: &mut Declarations, source: &str, opts: &CdefOptions) -> Result<()> {
    let _ = (decls, source, opts);
    todo!("cdecl agent")
}

/// Parses a type string as `ffi.typeof("int *")`, `ffi.new("struct foo[]")` take it.
///
/// # Errors
/// `Error::CDef` for text that is not a type or names an unknown type.
pub fn parse_type(decls: &mut Declarations, text: &str) -> Result<TypeId> {
    let _ = (decls, text);
    todo!("cdecl agent")
}

/// Adds every declaration of `other` to `decls` (`ffi.include(other_ffi)`),
/// re-interning its types into `decls.types`.
///
/// # Errors
/// `Error::CDef` when a name is declared differently in both.
pub fn include(decls: &mut Declarations, other: &Declarations) -> Result<()> {
    let _ = (decls, other);
    todo!("cdecl agent")
}
