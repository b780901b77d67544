//! Target-independent C types: what a cdef declares, before any size is known.
//!
//! Types live in a [`TypeTable`] and are named by [`TypeId`]. Structural types
//! (pointers, arrays, functions, primitives) are interned, so asking twice for
//! `int *` gives the same id; structs, unions and enums are nominal and live in
//! side tables ([`Record`], [`EnumDef`]) that later `cdef()` calls may complete.
//! Nothing here knows about sizes (see `layout`), Python or any backend.

#![forbid(unsafe_code)]

mod c_name;
pub use c_name::Aliases;
mod decls;
mod prim;

pub use decls::{ConstValue, Decl, Declarations, GlobalVar};
pub use prim::Prim;

use std::collections::HashMap;

/// Index of a type in a [`TypeTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(pub u32);

/// Index of a struct or union in a [`TypeTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub u32);

/// Index of an enum in a [`TypeTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnumId(pub u32);

/// Length of an array type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArrayLen {
    /// `T[N]`.
    Fixed(u64),
    /// `T[]`: unknown even to C (a flexible array member, or a length given by `ffi.new`).
    Open,
    /// `T[...]`: known to the C compiler, to be completed by a build.
    Unknown,
}

/// A C function type (never a pointer to one: see [`Type::Pointer`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FuncType {
    pub ret: TypeId,
    pub params: Vec<TypeId>,
    pub variadic: bool,
}

/// One C type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    Void,
    Prim(Prim),
    /// `T *`. Qualifiers are dropped, as in CFFI (cdata are never const).
    Pointer(TypeId),
    Array {
        item: TypeId,
        len: ArrayLen,
    },
    /// A struct or union, completed or not.
    Record(RecordId),
    Enum(EnumId),
    Function(FuncType),
    /// `typedef int... t;` / `typedef float... t;`: a primitive the compiler must settle.
    /// The name is the typedef's; `float` tells the two kinds apart.
    UnknownPrim {
        name: String,
        float: bool,
    },
}

/// Struct or union.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Struct,
    Union,
}

/// One member of a struct or union.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Empty for an anonymous struct/union member or an unnamed bitfield.
    pub name: String,
    pub ty: TypeId,
    /// `Some(n)` for a bitfield `T x : n`.
    pub bits: Option<u32>,
}

/// Layout options that a `cdef(packed=..., pack=...)` call attached to its structs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Packing {
    /// Maximum field alignment (`pack=N`; `packed=True` is `Some(1)`).
    pub max_align: Option<u64>,
}

/// A struct or union declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub kind: RecordKind,
    /// The tag (`struct foo` → `foo`), or a `$`-name for anonymous ones (`$1`, or
    /// `$foo_t` for `typedef struct { … } foo_t`), as CFFI names them.
    pub name: String,
    /// `None` while the record is only declared (`struct foo;`).
    pub fields: Option<Vec<Field>>,
    /// The definition ended with `...;`: field offsets and size come from the compiler.
    pub partial: bool,
    /// Declared with `typedef ... t;`: opaque, never completed by the cdef.
    pub opaque: bool,
    pub packing: Packing,
    /// The first typedef naming this record directly (`typedef struct foo foo_t;`):
    /// CFFI then prints the record by that name (`foo_t`, not `struct foo`).
    pub typedef_name: Option<String>,
}

/// An enum declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumDef {
    /// The tag, or a `$`-name for anonymous ones.
    pub name: String,
    /// Enumerators in declaration order. `None` values must come from the compiler.
    pub values: Vec<(String, Option<i128>)>,
    /// Declared with a trailing `...`: more enumerators exist that the cdef omits.
    pub partial: bool,
    /// For a partial enum, the compiler's size and signedness: the omitted
    /// enumerators may need a wider type than the declared ones.
    pub repr: Option<(u64, bool)>,
}

/// All types known to one FFI.
#[derive(Clone, Debug, Default)]
pub struct TypeTable {
    types: Vec<Type>,
    interned: HashMap<Type, TypeId>,
    records: Vec<Record>,
    enums: Vec<EnumDef>,
    /// Types whose use raises an error, as CFFI raises it on use: a
    /// `typedef double... t;` the compiler settled as `long double`, a struct
    /// opaque in an included FFI but completed in this one.
    unsupported: HashMap<TypeId, crate::error::Error>,
}

impl TypeTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of `ty`, adding it if it is new. Equal types get equal ids.
    pub fn intern(&mut self, ty: Type) -> TypeId {
        if let Some(&id) = self.interned.get(&ty) {
            return id;
        }
        let id = TypeId(u32::try_from(self.types.len()).expect("fewer than 2^32 types"));
        self.types.push(ty.clone());
        self.interned.insert(ty, id);
        id
    }

    /// The type named by `id`.
    ///
    /// # Panics
    /// If `id` comes from another table.
    pub fn get(&self, id: TypeId) -> &Type {
        &self.types[id.0 as usize]
    }

    /// Shorthand for interning `T *`.
    pub fn pointer_to(&mut self, pointee: TypeId) -> TypeId {
        self.intern(Type::Pointer(pointee))
    }

    /// Shorthand for interning a primitive.
    pub fn prim(&mut self, prim: Prim) -> TypeId {
        self.intern(Type::Prim(prim))
    }

    /// Adds a new struct or union and returns its type id.
    pub fn add_record(&mut self, record: Record) -> TypeId {
        let rid = RecordId(u32::try_from(self.records.len()).expect("fewer than 2^32 records"));
        self.records.push(record);
        self.intern(Type::Record(rid))
    }

    /// Adds a new enum and returns its type id.
    pub fn add_enum(&mut self, def: EnumDef) -> TypeId {
        let eid = EnumId(u32::try_from(self.enums.len()).expect("fewer than 2^32 enums"));
        self.enums.push(def);
        self.intern(Type::Enum(eid))
    }

    /// Marks `id` as unusable: resolving it raises `why`.
    pub fn set_unsupported(&mut self, id: TypeId, why: crate::error::Error) {
        self.unsupported.insert(id, why);
    }

    /// Why `id` cannot be used, if [`TypeTable::set_unsupported`] said so.
    pub fn unsupported(&self, id: TypeId) -> Option<&crate::error::Error> {
        self.unsupported.get(&id)
    }

    /// The type of enum `eid` (interned when the enum was added).
    pub fn enum_type_id(&self, eid: EnumId) -> TypeId {
        self.interned[&Type::Enum(eid)]
    }

    /// The record named by `rid`.
    pub fn record(&self, rid: RecordId) -> &Record {
        &self.records[rid.0 as usize]
    }

    /// The record named by `rid`, to complete it.
    pub fn record_mut(&mut self, rid: RecordId) -> &mut Record {
        &mut self.records[rid.0 as usize]
    }

    /// The enum named by `eid`.
    pub fn enum_def(&self, eid: EnumId) -> &EnumDef {
        &self.enums[eid.0 as usize]
    }

    /// The enum named by `eid`, to complete it.
    pub fn enum_def_mut(&mut self, eid: EnumId) -> &mut EnumDef {
        &mut self.enums[eid.0 as usize]
    }

    /// Every record, with its id.
    pub fn records(&self) -> impl Iterator<Item = (RecordId, &Record)> {
        self.records
            .iter()
            .enumerate()
            .map(|(i, r)| (RecordId(i as u32), r))
    }

    /// Every enum, with its id.
    pub fn enums(&self) -> impl Iterator<Item = (EnumId, &EnumDef)> {
        self.enums
            .iter()
            .enumerate()
            .map(|(i, e)| (EnumId(i as u32), e))
    }

    /// The C spelling of a type as CFFI prints it: `int *`, `int[3][4]`,
    /// `int(*)(int, ...)`, `struct foo`, `enum e`.
    pub fn c_name(&self, id: TypeId) -> String {
        c_name::c_name(self, id)
    }

    /// Whether `id` is a pointer to a function.
    pub fn is_function_pointer(&self, id: TypeId) -> bool {
        matches!(self.get(id), Type::Pointer(f) if matches!(self.get(*f), Type::Function(_)))
    }

    /// [`TypeTable::c_name`] with `&` where a declarator would go (`int *&`,
    /// `int&[3]`, `int(*&)(int)`), as `ffi.getctype(type, replace_with)` needs.
    pub fn c_name_marked(&self, id: TypeId) -> String {
        c_name::c_name_marked(self, id)
    }

    /// The C spelling of a type declaring `name` (for generated C): `int *x`, `int (*f)(int)`.
    pub fn c_decl(&self, id: TypeId, name: &str) -> String {
        c_name::c_decl(self, id, name, &c_name::Aliases::new())
    }

    /// As [`TypeTable::c_decl`], spelling the types in `aliases` by their alias.
    pub fn c_decl_aliased(&self, id: TypeId, name: &str, aliases: &c_name::Aliases) -> String {
        c_name::c_decl(self, id, name, aliases)
    }
}
