//! The questions a build asks the C compiler, derived from the declarations alone.
//!
//! [`plan`] walks a [`Declarations`] in a fixed order (records, integer
//! constants, enumerators, `...` typedefs, `[...]` arrays), so the glue
//! generator and, at import time, [`super::complete`] agree on what each entry
//! of the layout table means without storing anything but the declarations.
//! The same walk lists the symbols the glue exports (function wrappers, global
//! accessors, constant getters).

use std::collections::{BTreeMap, HashSet};

use crate::error::{Error, Result};
use crate::model::{
    ArrayLen, ConstValue, Decl, Declarations, EnumId, RecordId, RecordKind, Type, TypeId, TypeTable,
};

/// Everything the glue provides for one module, in table order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LayoutPlan {
    /// The compiler questions, in the order their answers appear in `_cffi_layout_table`.
    pub questions: Vec<Question>,
    /// Functions with a wrapper `_cffi_f_NAME(void **args, void *result)`.
    pub functions: Vec<String>,
    /// Variadic functions: a wasm32 wrapper taking the variadic buffer, or the
    /// function's address natively (see the glue conventions in `build`).
    pub variadic: Vec<String>,
    /// Globals with an accessor `void *_cffi_g_NAME(void)` returning `&NAME`.
    pub globals: Vec<String>,
    /// Non-integer `static const T NAME;` with a getter `_cffi_c_NAME(void *out)`
    /// that stores the value (a `T`) at `out`.
    pub copied_constants: Vec<String>,
    /// `extern "Python"` functions, numbered by their position here: the glue
    /// defines each in C, calling the host with its number.
    pub extern_python: Vec<String>,
}

/// One question to the compiler, answered by [`Question::entries`] table entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Question {
    /// A struct or union with a C name: `sizeof`, `alignof`, then `offsetof`,
    /// `sizeof` and floating-ness of each field in [`RecordField`] order
    /// ([`SENTINEL`] where C cannot say or nothing is asked).
    Record {
        rid: RecordId,
        /// The C spelling (`struct foo`, `foo_t`).
        c_type: String,
        /// `true` for a `...;` record (completed), `false` for an exact one (checked).
        partial: bool,
        fields: Vec<RecordField>,
    },
    /// An integer constant (`#define X ...`, `#define X 42`, integer `static const`):
    /// the value as `unsigned long long`, then `X <= 0` (with the value, its sign). A known value is checked.
    IntConst {
        name: String,
        expected: Option<i128>,
    },
    /// An enumerator: value, then sign. The compiler's value is used (as
    /// CFFI's API mode does); one the cdef gave (`declared`) is compared with
    /// it for `verify()`.
    Enumerator {
        eid: EnumId,
        index: usize,
        name: String,
        declared: Option<i128>,
    },
    /// A partial enum (`enum e { A, ... }`) C can name: `sizeof`, then
    /// `((T)-1) <= 0` (signed).
    EnumRepr { eid: EnumId, c_type: String },
    /// A global variable whose size the cdef knows: `sizeof` of the real one.
    GlobalSize { name: String },
    /// `typedef int... t`: `sizeof(t)`, then `((t)-1) <= 0`.
    IntTypedef { name: String, ty: TypeId },
    /// `typedef float... t`: `sizeof(t)`, then 1 if `t` is a floating type (0 for an integer).
    FloatTypedef { name: String, ty: TypeId },
    /// An array type with a `[...]` length: `sizeof` of the object, then of its
    /// item, item's item… down to the innermost element (from the first level whose
    /// size C knows: `T x[][...]` starts at `x[0]`).
    ArrayLens {
        target: ArrayTarget,
        levels: usize,
        skip_outer: bool,
    },
}

/// Where a `[...]` array type is declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArrayTarget {
    Global(String),
    Typedef(String),
    /// Field `index` of record `owner`, reached from the nameable record `c_type`
    /// (the owner itself, or the parent an anonymous owner is lifted into).
    Field {
        owner: RecordId,
        index: usize,
        c_type: String,
        name: String,
    },
}

/// One field of a [`Question::Record`], as CFFI lists fields: members of anonymous
/// nested records lifted into the parent, unnamed bitfields left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordField {
    pub name: String,
    /// The record whose model declares the field (the parent, or an anonymous
    /// record lifted into it) and the field's index there.
    pub owner: RecordId,
    pub index: usize,
    /// A bitfield: neither offset nor size can be asked ([`SENTINEL`]s).
    pub bitfield: bool,
    /// `T x[]`: the offset is asked, the size is a [`SENTINEL`].
    pub open_array: bool,
    /// For a field of an integer or floating type (not a bitfield): whether
    /// the cdef's type is floating; the compiler is asked the same of the real
    /// field, which must agree (CFFI refuses `float` for an `int`).
    pub floating: Option<bool>,
    pub skip_in_positional_init: bool,
}

/// The table entry for "not asked" (a bitfield's offset, an open array's size).
pub const SENTINEL: u64 = u64::MAX;

impl Question {
    /// How many table entries answer this question.
    pub fn entries(&self) -> usize {
        match self {
            Question::Record { fields, .. } => 2 + 3 * fields.len(),
            Question::GlobalSize { .. } => 1,
            Question::IntConst { .. }
            | Question::Enumerator { .. }
            | Question::IntTypedef { .. }
            | Question::EnumRepr { .. }
            | Question::FloatTypedef { .. } => 2,
            Question::ArrayLens {
                levels, skip_outer, ..
            } => levels + 1 - usize::from(*skip_outer),
        }
    }
}

impl LayoutPlan {
    /// The length of the layout table this plan expects.
    pub fn table_len(&self) -> usize {
        self.questions.iter().map(Question::entries).sum()
    }
}

/// The C spelling of a record, or `None` when C has no name for it (`struct $1`).
pub fn record_c_name(table: &TypeTable, rid: RecordId) -> Option<String> {
    let rec = table.record(rid);
    let keyword = match rec.kind {
        RecordKind::Struct => "struct",
        RecordKind::Union => "union",
    };
    match rec.name.strip_prefix('$') {
        None => Some(format!("{keyword} {}", rec.name)),
        Some(t) if !t.is_empty() && !t.starts_with(|c: char| c.is_ascii_digit()) => {
            Some(t.to_owned())
        }
        Some(_) => rec.typedef_name.clone(),
    }
}

/// The questions and exported symbols for `decls`.
///
/// # Errors
/// What CFFI refuses before compiling: `Error::Type` for a function returning
/// an opaque record or a field of an opaque type, `Error::NotImplemented` for
/// a record declared with `pack=N`, `Error::Verification` for an enumerator
/// declared in two enums.
pub fn plan(decls: &Declarations) -> Result<LayoutPlan> {
    let table = &decls.types;
    let mut p = LayoutPlan::default();
    check_api_mode_records(table)?;
    for (rid, c_type) in record_spellings(table) {
        let rec = table.record(rid);
        let mut out = Vec::new();
        lift_fields(table, rid, false, &mut out);
        for f in &out {
            let fty = table.record(f.owner).fields.as_ref().map(|v| v[f.index].ty);
            if let Some((levels, skip_outer)) = fty.and_then(|t| unknown_array(table, t)) {
                p.questions.push(Question::ArrayLens {
                    target: ArrayTarget::Field {
                        owner: f.owner,
                        index: f.index,
                        c_type: c_type.clone(),
                        name: f.name.clone(),
                    },
                    levels,
                    skip_outer,
                });
            }
        }
        p.questions.push(Question::Record {
            rid,
            c_type,
            partial: rec.partial,
            fields: out,
        });
    }
    let enumerators: HashSet<&str> = table
        .enums()
        .flat_map(|(_, def)| def.values.iter().map(|(n, _)| n.as_str()))
        .collect();
    for (name, decl) in &decls.lib_items {
        if decls.included.contains_key(name) {
            continue; // provided by the included module's lib
        }
        match decl {
            // Enumerators are asked per enum, below.
            Decl::Constant { .. } if enumerators.contains(name.as_str()) => {}
            Decl::Constant { ty, value } => {
                if is_integer(table, *ty) {
                    p.questions.push(Question::IntConst {
                        name: name.clone(),
                        expected: value.declared(),
                    });
                } else if *value == ConstValue::Unknown {
                    p.copied_constants.push(name.clone());
                }
            }
            Decl::Function { ty } => match table.get(*ty) {
                Type::Function(f) if is_opaque_record(table, f.ret) => {
                    return Err(Error::Type(format!(
                        "function {name}: '{}' is used as result type, but is opaque",
                        table.c_name(f.ret)
                    )));
                }
                Type::Function(f) if f.variadic => p.variadic.push(name.clone()),
                _ => p.functions.push(name.clone()),
            },
            // Its value is copied: it may be a macro or a function, with no address.
            Decl::Global(g) if g.reads_as_constant(table) => p.copied_constants.push(name.clone()),
            Decl::Global(g) => {
                p.globals.push(name.clone());
                if let Some((levels, skip_outer)) = unknown_array(table, g.ty) {
                    p.questions.push(Question::ArrayLens {
                        target: ArrayTarget::Global(name.clone()),
                        levels,
                        skip_outer,
                    });
                }
                if has_known_size(table, g.ty) {
                    p.questions
                        .push(Question::GlobalSize { name: name.clone() });
                }
            }
            Decl::ExternPython { .. } => p.extern_python.push(name.clone()),
            Decl::Typedef(_) => {}
        }
    }
    let mut asked_enumerators = HashSet::new();
    for (eid, def) in table.enums() {
        if def
            .values
            .iter()
            .any(|(name, _)| decls.included.contains_key(name))
        {
            continue; // an included module's enum: its lib has the values
        }
        // A cdef accepts the same enumerator (with the same value) in two
        // enums; a module cannot have it twice, as CFFI's cannot.
        if let Some((name, _)) = def
            .values
            .iter()
            .find(|(n, _)| !asked_enumerators.insert(n.clone()))
        {
            return Err(Error::Verification(format!(
                "duplicate declaration of enum '{name}'"
            )));
        }
        // An enum with a `...` anywhere is completed by the compiler, not checked.
        let exact = !def.partial && def.values.iter().all(|(_, v)| v.is_some());
        let c_type = table.c_name(table.enum_type_id(eid));
        if def.partial && !c_type.contains('$') {
            p.questions.push(Question::EnumRepr { eid, c_type });
        }
        for (index, (name, value)) in def.values.iter().enumerate() {
            p.questions.push(Question::Enumerator {
                eid,
                index,
                name: name.clone(),
                declared: if exact { *value } else { None },
            });
        }
    }
    for (name, &ty) in &decls.typedefs {
        match table.get(ty) {
            Type::UnknownPrim { name: n, float } if n == name => {
                p.questions.push(if *float {
                    Question::FloatTypedef {
                        name: name.clone(),
                        ty,
                    }
                } else {
                    Question::IntTypedef {
                        name: name.clone(),
                        ty,
                    }
                });
            }
            _ => {
                if let Some((levels, skip_outer)) = unknown_array(table, ty) {
                    p.questions.push(Question::ArrayLens {
                        target: ArrayTarget::Typedef(name.clone()),
                        levels,
                        skip_outer,
                    });
                }
            }
        }
    }
    Ok(p)
}

/// The records the glue measures, in id order, each with a C spelling: its
/// name when it has one (`struct foo`, `foo_t`), else, for an anonymous record
/// that is the type of a named field (or of the items of an array field) of a
/// measured record `P`, `__typeof__(((P *)0)->field)`. Opaque and incomplete
/// records, and those C cannot reach, are left out; anonymous members (`struct
/// { … };` inside a record) are measured through their parent's lifted fields.
fn record_spellings(table: &TypeTable) -> BTreeMap<RecordId, String> {
    let measurable = |rid: RecordId| {
        let rec = table.record(rid);
        rec.fields.is_some() && !rec.opaque
    };
    let mut names = BTreeMap::new();
    let mut queue = Vec::new();
    for (rid, _) in table.records() {
        if let Some(name) = record_c_name(table, rid).filter(|_| measurable(rid)) {
            names.insert(rid, name);
            queue.push(rid);
        }
    }
    while let Some(parent) = queue.pop() {
        let mut fields = Vec::new();
        lift_fields(table, parent, false, &mut fields);
        for f in fields {
            let Some(ty) = table.record(f.owner).fields.as_ref().map(|v| v[f.index].ty) else {
                continue;
            };
            let (mut id, mut index) = (ty, String::new());
            while let Type::Array { item, .. } = table.get(id) {
                id = *item;
                index.push_str("[0]");
            }
            if let Type::Record(sub) = table.get(id) {
                if !names.contains_key(sub) && measurable(*sub) {
                    let spelling =
                        format!("__typeof__(((({} *)0)->{}){index})", names[&parent], f.name);
                    names.insert(*sub, spelling);
                    queue.push(*sub);
                }
            }
        }
    }
    names
}

/// Appends the fields of record `rid` as CFFI lists them, lifting anonymous members.
fn lift_fields(table: &TypeTable, rid: RecordId, skip: bool, out: &mut Vec<RecordField>) {
    let rec = table.record(rid);
    let union = rec.kind == RecordKind::Union;
    for (index, f) in rec.fields.iter().flatten().enumerate() {
        let skip_here = skip || (union && index > 0);
        if f.name.is_empty() {
            if f.bits.is_none() {
                if let Type::Record(sub) = table.get(f.ty) {
                    lift_fields(table, *sub, skip_here, out);
                }
            }
            continue;
        }
        out.push(RecordField {
            name: f.name.clone(),
            owner: rid,
            index,
            bitfield: f.bits.is_some(),
            open_array: matches!(
                table.get(f.ty),
                Type::Array {
                    len: ArrayLen::Open,
                    ..
                }
            ),
            floating: match table.get(f.ty) {
                Type::Prim(p) if f.bits.is_none() && !p.is_complex() => Some(p.is_float()),
                _ => None,
            },
            skip_in_positional_init: skip_here,
        });
    }
}

/// For an array type with a `[...]` length anywhere in its dimensions: the number
/// of array levels, and whether the outermost is `[]` (unknown even to C).
pub(super) fn unknown_array(table: &TypeTable, ty: TypeId) -> Option<(usize, bool)> {
    let mut levels = 0;
    let mut unknown = false;
    let mut outer_open = false;
    let mut id = ty;
    while let Type::Array { item, len } = table.get(id) {
        unknown |= *len == ArrayLen::Unknown;
        if levels == 0 {
            outer_open = *len == ArrayLen::Open;
        }
        levels += 1;
        id = *item;
    }
    unknown.then_some((levels, outer_open))
}

/// Refuses the records CFFI's API mode refuses: one declared with `pack=N`
/// (N > 1), and one with a field of an opaque type (`struct a { struct b b; }`
/// with `struct b` never given fields), which no compiler could lay out.
fn check_api_mode_records(table: &TypeTable) -> Result<()> {
    for (_, rec) in table.records() {
        // CFFI's API mode takes `packed=True` (`pack=1`), not `pack=N`: a
        // compiled module measures its records instead.
        if let (Some(_), Some(n @ 2..)) = (&rec.fields, rec.packing.max_align) {
            let keyword = match rec.kind {
                RecordKind::Struct => "struct",
                RecordKind::Union => "union",
            };
            let name = rec.name.trim_start_matches('$');
            return Err(Error::NotImplemented(format!(
                "{keyword} {name}: <{keyword} {name}> is declared with 'pack={n}'; only 0 or 1 \
                 are supported in API mode (try to use \"...;\", which does not require a \
                 'pack' declaration)"
            )));
        }
        for field in rec.fields.iter().flatten() {
            let mut ty = field.ty;
            while let Type::Array { item, .. } = table.get(ty) {
                ty = *item;
            }
            if is_opaque_record(table, ty) {
                let owner = rec.name.trim_start_matches('$');
                let keyword = match rec.kind {
                    RecordKind::Struct => "struct",
                    RecordKind::Union => "union",
                };
                return Err(Error::Type(format!(
                    "{keyword} {owner}: field '{owner}.{}' is of an opaque type (not declared in cdef())",
                    field.name
                )));
            }
        }
    }
    Ok(())
}

/// True for a struct or union whose fields no cdef gave (`struct a;`,
/// `typedef ... t;`): nothing can be done with one by value.
fn is_opaque_record(table: &TypeTable, ty: TypeId) -> bool {
    matches!(table.get(ty), Type::Record(rid) if table.record(*rid).fields.is_none())
}

/// True when the cdef alone (with `[...]` lengths the compiler gives) says
/// how big an object of type `ty` is: no open array, opaque type or function.
fn has_known_size(table: &TypeTable, ty: TypeId) -> bool {
    match table.get(ty) {
        Type::Prim(_) | Type::Pointer(_) | Type::Enum(_) => true,
        Type::Array { item, len } => *len != ArrayLen::Open && has_known_size(table, *item),
        _ => false,
    }
}

/// Integer types whose value a table entry can carry.
pub(super) fn is_integer(table: &TypeTable, ty: TypeId) -> bool {
    match table.get(ty) {
        Type::Prim(p) => p.is_integral(),
        Type::UnknownPrim { float, .. } => !float,
        Type::Enum(_) => true,
        _ => false,
    }
}
