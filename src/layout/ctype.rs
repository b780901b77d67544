//! Runtime type descriptors: a model type laid out for one target.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};
use crate::model::{Prim, RecordKind, TypeId};

use super::{PrimLayout, Target};

/// A C type resolved for one target. Cheap to clone; equality is identity.
#[derive(Clone)]
pub struct CType(pub Arc<CTypeData>);

/// What a [`CType`] knows.
pub struct CTypeData {
    /// The model type this descriptor was made from.
    pub model_id: TypeId,
    /// The target it is laid out for.
    pub target: Target,
    /// The CFFI display name (`int *`, `struct foo`, `int(*)(int)`).
    pub cname: String,
    pub kind: CKind,
}

/// The shape of a [`CType`]. The names follow CFFI's `CType.kind`.
pub enum CKind {
    Void,
    /// Integers, characters, floats, `_Bool`, complex.
    Prim(Prim, PrimLayout),
    /// `T *` for a non-function `T`.
    Pointer(CType),
    /// `T[N]` (`len: Some(N)`) or `T[]` (`len: None`).
    Array {
        item: CType,
        len: Option<u64>,
    },
    /// A pointer to a function: CFFI's "function" kind (`int(*)(int)`).
    Function(FuncInfo),
    /// A struct or union, possibly not yet complete.
    Record(Arc<RecordType>),
    Enum(Arc<EnumType>),
}

/// Signature of a function pointer type.
pub struct FuncInfo {
    pub ret: CType,
    pub params: Vec<CType>,
    pub variadic: bool,
}

/// A struct or union. Its layout is filled in once the declaration is complete
/// (possibly by a later `cdef()`), which is why it sits behind a `OnceLock`.
pub struct RecordType {
    pub kind: RecordKind,
    /// The model's record name (`foo`, `$foo_t`, `$1`).
    pub name: String,
    pub layout: OnceLock<RecordLayout>,
    /// Set when the layout can only come from the C compiler: the record ends
    /// with `...;`, has a `[...]` field, or a field of such a record type.
    /// While the layout is missing, sizing it is CFFI's `VerificationMissing`.
    pub needs_compiler: AtomicBool,
    /// The compiler contradicted the cdef's exact layout: the record keeps the
    /// compiler's size and alignment, but its fields are unusable and using
    /// them raises `ffi.error`, as CFFI reports it on first use.
    pub contradiction: OnceLock<Contradiction>,
}

/// How a compiler contradicted an exact record (see [`RecordType::contradiction`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contradiction {
    /// CFFI's message (`struct s: wrong offset for field 'x' (cdef says …`).
    pub message: String,
    /// The record's real size and alignment.
    pub size: u64,
    pub align: u64,
}

impl RecordType {
    /// A record with no layout yet.
    pub fn new(kind: RecordKind, name: String) -> Self {
        RecordType {
            kind,
            name,
            layout: OnceLock::new(),
            needs_compiler: AtomicBool::new(false),
            contradiction: OnceLock::new(),
        }
    }

    /// True when only a compiler can give this record its layout (see [`RecordType::needs_compiler`]).
    pub fn is_partial(&self) -> bool {
        self.needs_compiler.load(Ordering::Relaxed)
    }

    /// The layout, when the record has one that may be used (not contradicted).
    pub fn usable_layout(&self) -> Option<&RecordLayout> {
        match self.contradiction.get() {
            Some(_) => None,
            None => self.layout.get(),
        }
    }

    /// The usable layout, else why not: [`RecordType::unusable`]'s error, or
    /// `otherwise()` for a record that is simply incomplete (opaque).
    ///
    /// # Errors
    /// As said.
    pub fn checked_layout(
        &self,
        cname: &str,
        otherwise: impl FnOnce() -> Error,
    ) -> Result<&RecordLayout> {
        match self.usable_layout() {
            Some(layout) => Ok(layout),
            None => Err(self.unusable(cname).unwrap_or_else(otherwise)),
        }
    }

    /// Why a record without a usable layout cannot be used, for the errors CFFI
    /// gives: `Error::Ffi` for a contradicted one, `Error::VerificationMissing`
    /// (`cname`) for a partial one not yet completed; `None` otherwise.
    pub fn unusable(&self, cname: &str) -> Option<Error> {
        if let Some(why) = self.contradiction.get() {
            return Some(Error::Ffi(why.message.clone()));
        }
        (self.layout.get().is_none() && self.is_partial())
            .then(|| Error::VerificationMissing(cname.to_owned()))
    }
}

/// Size, alignment and fields of a complete struct or union.
pub struct RecordLayout {
    pub size: u64,
    pub align: u64,
    /// Fields as CFFI lists them (`CType.fields`): members of anonymous nested
    /// structs and unions are lifted into the parent with absolute offsets.
    /// Unnamed bitfields are left out.
    pub fields: Vec<FieldLayout>,
    /// The last field is `T x[]` (or a struct ending in one): the size above
    /// excludes its items, and `ffi.new` takes the item count from the initializer.
    pub has_flexible_array: bool,
    /// The fields are not where their declared order and natural alignment put
    /// them: the layout was measured by a compiler and differs from the cdef's, or
    /// an anonymous nested struct or union was lifted (CFFI's `CT_CUSTOM_FIELD_POS`).
    /// Calls that go through libffi refuse such a record by value.
    pub custom_field_pos: bool,
    /// `packed`/`pack` moved a field from its natural offset (CFFI's
    /// `CT_WITH_PACKED_CHANGE`); libffi-based calls refuse it by value too.
    pub packed_change: bool,
}

/// One field of a struct or union.
pub struct FieldLayout {
    pub name: String,
    pub ty: CType,
    /// Byte offset from the start of the outermost record.
    pub offset: u64,
    /// For bitfields: the bit position of the field's lowest bit within the
    /// storage unit at `offset` (CFFI's `bitshift`); otherwise -2 for an array
    /// field `T x[]` or `T x[0]` (CFFI's `BS_EMPTY_ARRAY`) and -1 for the rest.
    pub bitshift: i32,
    /// For bitfields: the width in bits (CFFI's `bitsize`); -1 otherwise.
    pub bitsize: i32,
    /// A positional initializer skips this field: it is a second or later
    /// member of an anonymous union (CFFI's `flags` bit 1).
    pub skip_in_positional_init: bool,
}

/// A record layout measured by a C compiler, given to
/// [`super::TypeResolver::set_measured_layout`]: how a partial (`...;`) record
/// is completed by a build. Fields are listed as in [`RecordLayout::fields`]
/// (members of anonymous nested records lifted, with absolute offsets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeasuredRecord {
    pub size: u64,
    pub align: u64,
    pub fields: Vec<MeasuredField>,
}

/// One field of a [`MeasuredRecord`]. Bitfields cannot be measured (no `offsetof`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeasuredField {
    pub name: String,
    /// The field's model type, resolved when the record is laid out.
    pub ty: TypeId,
    /// Byte offset from the start of the record.
    pub offset: u64,
    /// As [`FieldLayout::skip_in_positional_init`].
    pub skip_in_positional_init: bool,
}

/// An enum: its integer layout and its enumerators.
pub struct EnumType {
    /// The model's enum name (`e`, `$1`).
    pub name: String,
    /// The integer type the enum is stored as (C's choice: `unsigned int` if no
    /// value is negative, else `int`; wider when values need it).
    pub repr: PrimLayout,
    /// Enumerators in declaration order, with their values.
    pub values: Vec<(String, i128)>,
}

impl CType {
    /// The descriptor behind this handle.
    pub fn data(&self) -> &CTypeData {
        &self.0
    }

    /// The CFFI display name.
    pub fn cname(&self) -> &str {
        &self.0.cname
    }

    /// The shape of this type.
    pub fn kind(&self) -> &CKind {
        &self.0.kind
    }

    /// True when no struct, union or enum is part of this type (but the
    /// builtin `FILE`), so that its name alone says what it is, in any FFI of
    /// the same target (CFFI shares such types between FFIs).
    pub fn is_structural(&self) -> bool {
        match &self.0.kind {
            CKind::Void | CKind::Prim(..) => true,
            CKind::Pointer(item) | CKind::Array { item, .. } => item.is_structural(),
            CKind::Function(f) => {
                f.ret.is_structural() && f.params.iter().all(CType::is_structural)
            }
            CKind::Record(r) => r.name == crate::cdecl::FILE_RECORD,
            CKind::Enum(_) => false,
        }
    }

    /// Size in bytes, or `None` when it has none: `void`, open arrays `T[]`,
    /// incomplete or opaque records, function types.
    pub fn size(&self) -> Option<u64> {
        match &self.0.kind {
            CKind::Void => None,
            CKind::Prim(_, l) => Some(l.size),
            CKind::Pointer(_) | CKind::Function(_) => Some(self.0.target.pointer_size()),
            CKind::Array { item, len } => Some(len.as_ref()?.checked_mul(item.size()?)?),
            CKind::Record(r) => match r.contradiction.get() {
                Some(c) => Some(c.size),
                None => r.layout.get().map(|l| l.size),
            },
            CKind::Enum(e) => Some(e.repr.size),
        }
    }

    /// Alignment in bytes, or `None` when the size is unknown for a reason
    /// other than an open array length.
    pub fn align(&self) -> Option<u64> {
        match &self.0.kind {
            CKind::Void => None,
            CKind::Prim(_, l) => Some(l.align),
            CKind::Pointer(_) | CKind::Function(_) => Some(self.0.target.pointer_size()),
            CKind::Array { item, .. } => item.align(),
            CKind::Record(r) => match r.contradiction.get() {
                Some(c) => Some(c.align),
                None => r.layout.get().map(|l| l.align),
            },
            CKind::Enum(e) => Some(e.repr.align),
        }
    }

    /// Size in bytes as `ffi.sizeof` reports it, with CFFI's error when there is none.
    ///
    /// # Errors
    /// `Error::VerificationMissing` (message: the type's name)
    /// for a partial record not yet completed by a compiler, `Error::Ffi` for
    /// one the compiler contradicted; `Error::Value`
    /// (`ctype 'struct foo' is of unknown size`) for `void`, `T[]` and incomplete
    /// or opaque records.
    pub fn sizeof(&self) -> Result<u64> {
        if let Some(size) = self.size() {
            return Ok(size);
        }
        if let CKind::Record(r) = &self.0.kind {
            if let Some(err) = r.unusable(&self.0.cname) {
                return Err(err);
            }
        }
        Err(Error::Value(format!(
            "ctype '{}' is of unknown size",
            self.0.cname
        )))
    }

    /// The layout of a complete struct or union; `None` for other types and
    /// for records without a layout.
    pub fn record_layout(&self) -> Option<&RecordLayout> {
        match &self.0.kind {
            CKind::Record(r) => r.usable_layout(),
            _ => None,
        }
    }

    /// True for pointers and function pointers (values that are addresses).
    pub fn is_pointer_like(&self) -> bool {
        matches!(self.0.kind, CKind::Pointer(_) | CKind::Function(_))
    }
}

impl PartialEq for CType {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for CType {}

impl std::hash::Hash for CType {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(&self.0), state);
    }
}

impl fmt::Debug for CType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<ctype '{}'>", self.cname())
    }
}
