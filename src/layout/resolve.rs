//! Model types → [`CType`] descriptors for one target, cached.

use std::collections::HashMap;

use crate::error::Result;
use crate::model::{TypeId, TypeTable};

use super::{CType, Target};

/// Resolves model types of one FFI for one target, one `CType` per model type.
pub struct TypeResolver {
    target: Target,
    cache: HashMap<TypeId, CType>,
}

impl TypeResolver {
    /// A resolver with an empty cache.
    pub fn new(target: Target) -> Self {
        TypeResolver { target, cache: HashMap::new() }
    }

    /// The target this resolver lays types out for.
    pub fn target(&self) -> Target {
        self.target
    }

    /// The descriptor of `id`.
    ///
    /// A model `Pointer(Function)` becomes [`super::CKind::Function`] (CFFI's
    /// "function" kind); a bare function type is refused with
    /// `Error::CDef("the type 'int(int)' is a function type, not a pointer-to-function type")`.
    /// A record that is complete in the model but whose `CType` was made while it
    /// was incomplete gets its layout now. Partial (`...`) records, `[...]` lengths
    /// and `UnknownPrim` typedefs cannot be laid out without a compiler: they give
    /// `Error::NotImplemented` / `Error::Ffi` with CFFI's messages.
    ///
    /// # Errors
    /// As above, and `Error::Ffi` for layouts CFFI refuses (e.g. a field of incomplete type).
    pub fn resolve(&mut self, table: &TypeTable, id: TypeId) -> Result<CType> {
        let _ = (table, id, &mut self.cache);
        todo!("layout agent")
    }
}
