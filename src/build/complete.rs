//! Applying the compiler's answers (the layout table) to the declarations.
//!
//! Steps, in this order because later ones read what earlier ones wrote:
//! 1. `typedef int... t` / `typedef float... t` become concrete primitives, and
//!    every type mentioning them is rewritten (functions, pointers, fields…);
//! 2. `[...]` lengths of globals, typedefs and fields become fixed;
//! 3. integer constants and enumerators get their values (known ones are checked);
//! 4. partial records get their measured layout through the resolver;
//! 5. exact records are laid out by the resolver and checked against the compiler;
//! 6. globals' sizes are checked.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::layout::{
    CKind, Contradiction, MeasuredField, MeasuredRecord, RecordLayout, RecordType, TypeResolver,
};
use crate::model::{ArrayLen, ConstValue, Decl, Declarations, Prim, Type, TypeId, TypeTable};

use super::plan::{ArrayTarget, LayoutPlan, Question, RecordField};

/// See [`super::complete`].
pub(super) fn complete(
    decls: &mut Declarations,
    resolver: &mut TypeResolver,
    plan: &LayoutPlan,
    table: &[u64],
) -> Result<()> {
    if table.len() != plan.table_len() {
        return Err(Error::Verification(format!(
            "the module's layout table has {} entries, but the cdef asks for {}: \
             the module was built from other declarations",
            table.len(),
            plan.table_len()
        )));
    }
    let mut answers = Vec::with_capacity(plan.questions.len());
    let mut pos = 0;
    for q in &plan.questions {
        answers.push((q, &table[pos..pos + q.entries()]));
        pos += q.entries();
    }

    // 1. `...` primitive typedefs.
    let mut subst = HashMap::new();
    for &(q, a) in &answers {
        match q {
            Question::IntTypedef { name, ty } => {
                let prim = int_prim(name, a[0], a[1] != 0)?;
                subst.insert(*ty, decls.types.prim(prim));
            }
            Question::FloatTypedef { name, ty } => match float_prim(name, a[0], a[1])? {
                Some(prim) => {
                    subst.insert(*ty, decls.types.prim(prim));
                }
                // As CFFI: the module loads; using the type raises.
                None => decls.types.set_unsupported(
                    *ty,
                    Error::Ffi(
                        "primitive floating-point type is 'long double', not supported for now \
                         with the syntax 'typedef double... xxx;'"
                            .to_owned(),
                    ),
                ),
            },
            _ => {}
        }
    }
    if !subst.is_empty() {
        rewrite_all(decls, &mut subst);
    }

    // 2. `[...]` lengths, 3. constants.
    let mut done_enums = Vec::new();
    for &(q, a) in &answers {
        match q {
            Question::ArrayLens {
                target, skip_outer, ..
            } => {
                complete_array(decls, target, *skip_outer, a)?;
            }
            Question::IntConst { name, expected } => {
                let value = int_value(a);
                let constant = match expected {
                    Some(v) if *v != value => {
                        decls
                            .contradicted
                            .push(format!("{name} has the real value {value}, not {v}"));
                        ConstValue::Disagrees {
                            compiler: value,
                            cdef: *v,
                        }
                    }
                    _ => ConstValue::Int(value),
                };
                set_constant(decls, name, constant);
            }
            Question::Enumerator {
                eid,
                index,
                name,
                declared,
            } => {
                let value = int_value(a);
                if let Some(declared) = declared.filter(|d| *d != value) {
                    let enum_name = decls.types.intern(Type::Enum(*eid));
                    let enum_name = decls.types.c_name(enum_name);
                    decls.contradicted.push(format!(
                        "{enum_name}: {name} has the real value {value}, not {declared}"
                    ));
                }
                decls.types.enum_def_mut(*eid).values[*index].1 = Some(value);
                set_constant(decls, name, ConstValue::Int(value));
                done_enums.push(*eid);
            }
            Question::EnumRepr { eid, .. } => {
                decls.types.enum_def_mut(*eid).repr = Some((a[0], a[1] != 0));
            }
            _ => {}
        }
    }
    for eid in done_enums {
        decls.types.enum_def_mut(eid).partial = false;
    }

    // 4. Partial records: the compiler's layout.
    for &(q, a) in &answers {
        if let Question::Record {
            rid,
            c_type,
            partial: true,
            fields,
        } = q
        {
            let mut measured = Vec::with_capacity(fields.len());
            for (i, f) in fields.iter().enumerate() {
                if f.bitfield {
                    return Err(Error::NotImplemented(format!(
                        "{c_type}: bitfield '{}' in a struct or union declared with '...;'",
                        f.name
                    )));
                }
                let ty = field_type(&decls.types, f)?;
                let answer = FieldAnswer::of(a, i);
                if !f.open_array {
                    if let Some(cdef) = resolver
                        .resolve(&decls.types, ty)
                        .ok()
                        .and_then(|t| t.size())
                    {
                        answer.check_size(c_type, &f.name, cdef)?;
                    }
                }
                answer.check_kind(c_type, f)?;
                measured.push(MeasuredField {
                    name: f.name.clone(),
                    ty,
                    offset: answer.offset,
                    skip_in_positional_init: f.skip_in_positional_init,
                });
            }
            resolver.set_measured_layout(
                *rid,
                MeasuredRecord {
                    size: a[0],
                    align: a[1],
                    fields: measured,
                },
            );
        }
    }

    // 5. Exact records: checked.
    for &(q, a) in &answers {
        if let Question::Record {
            rid,
            partial: false,
            fields,
            ..
        } = q
        {
            let id = decls.types.intern(Type::Record(*rid));
            if let Some((record, why)) = check_record(decls, resolver, id, fields, a)? {
                // As CFFI: the module loads, with the record's real size and
                // alignment; its fields raise on first use.
                decls.contradicted.push(why.clone());
                let _ = record.contradiction.set(Contradiction {
                    message: why,
                    size: a[0],
                    align: a[1],
                });
            }
        }
    }

    // 6. Globals: their size.
    for &(q, a) in &answers {
        if let Question::GlobalSize { name } = q {
            let Some(Decl::Global(g)) = decls.lib_items.get(name) else {
                continue;
            };
            let cdef = resolver
                .resolve(&decls.types, g.ty)
                .ok()
                .and_then(|t| t.size());
            if let Some(cdef) = cdef.filter(|size| *size != a[0]) {
                return Err(Error::Verification(format!(
                    "global variable '{name}' has the wrong size (cdef says {cdef}, but C \
                     compiler says {})",
                    a[0]
                )));
            }
        }
    }
    Ok(())
}

/// The compiler's answers about field `i` of a record question.
struct FieldAnswer {
    offset: u64,
    size: u64,
    /// 1 if the real field is floating, 0 if an integer ([`SENTINEL`] if not asked).
    floating: u64,
}

impl FieldAnswer {
    fn of(a: &[u64], i: usize) -> FieldAnswer {
        FieldAnswer {
            offset: a[2 + 3 * i],
            size: a[3 + 3 * i],
            floating: a[4 + 3 * i],
        }
    }

    fn check_size(&self, c_type: &str, field: &str, cdef: u64) -> Result<()> {
        if cdef == self.size {
            return Ok(());
        }
        Err(Error::Verification(format!(
            "{c_type}: wrong size for field '{field}' (cdef says {cdef}, but C compiler says {})",
            self.size
        )))
    }

    /// An integer field must be an integer in C too, a floating one floating.
    fn check_kind(&self, c_type: &str, f: &RecordField) -> Result<()> {
        let Some(floating) = f.floating else {
            return Ok(());
        };
        if floating == (self.floating == 1) {
            return Ok(());
        }
        let (cdef, cc) = if floating {
            ("a floating type", "an integer type")
        } else {
            ("an integer type", "a floating type")
        };
        Err(Error::Verification(format!(
            "{c_type}: field '{}' is of {cdef} in the cdef, but of {cc} for the C compiler",
            f.name
        )))
    }
}

/// The value of a (value, is-non-positive) pair of entries.
fn int_value(a: &[u64]) -> i128 {
    if a[1] != 0 {
        // Two's complement: the value was negative (or 0) before the cast to unsigned.
        i128::from(a[0] as i64)
    } else {
        i128::from(a[0])
    }
}

/// The `lib` constant `name` now has `value`.
fn set_constant(decls: &mut Declarations, name: &str, value: ConstValue) {
    if let Some(Decl::Constant { value: v, .. }) = decls.lib_items.get_mut(name) {
        *v = value;
    }
}

/// The fixed-size integer type `typedef int... name` turned out to be.
fn int_prim(name: &str, size: u64, signed: bool) -> Result<Prim> {
    Ok(match (size, signed) {
        (1, true) => Prim::Int8,
        (1, false) => Prim::UInt8,
        (2, true) => Prim::Int16,
        (2, false) => Prim::UInt16,
        (4, true) => Prim::Int32,
        (4, false) => Prim::UInt32,
        (8, true) => Prim::Int64,
        (8, false) => Prim::UInt64,
        _ => {
            return Err(Error::Verification(format!(
                "'{name}' is an integer type of {size} bytes, which is not supported"
            )))
        }
    })
}

/// `float` or `double`, as `typedef float... name` turned out to be (`None`
/// for a `long double`).
fn float_prim(name: &str, size: u64, is_float: u64) -> Result<Option<Prim>> {
    match (is_float, size) {
        (0, _) => Err(Error::Verification(format!(
            "'{name}' is declared 'float...' but the C compiler says it is an integer type"
        ))),
        (_, 4) => Ok(Some(Prim::Float)),
        (_, 8) => Ok(Some(Prim::Double)),
        // `long double`, which `float...` does not support.
        _ => Ok(None),
    }
}

/// Replaces, everywhere in `decls`, the types in `map` (and every type built on them).
fn rewrite_all(decls: &mut Declarations, map: &mut HashMap<TypeId, TypeId>) {
    let table = &mut decls.types;
    for ty in decls.typedefs.values_mut() {
        *ty = rewrite(table, *ty, map);
    }
    for decl in decls.lib_items.values_mut() {
        match decl {
            Decl::Typedef(ty)
            | Decl::Function { ty }
            | Decl::ExternPython { ty, .. }
            | Decl::Constant { ty, .. } => *ty = rewrite(table, *ty, map),
            Decl::Global(g) => g.ty = rewrite(table, g.ty, map),
        }
    }
    let rids: Vec<_> = table.records().map(|(rid, _)| rid).collect();
    for rid in rids {
        let Some(fields) = table.record(rid).fields.clone() else {
            continue;
        };
        let fields = fields
            .into_iter()
            .map(|mut f| {
                f.ty = rewrite(table, f.ty, map);
                f
            })
            .collect();
        table.record_mut(rid).fields = Some(fields);
    }
}

/// `id` with the substitutions of `map` applied; memoized in `map`.
fn rewrite(table: &mut TypeTable, id: TypeId, map: &mut HashMap<TypeId, TypeId>) -> TypeId {
    if let Some(&new) = map.get(&id) {
        return new;
    }
    let new = match table.get(id).clone() {
        Type::Pointer(p) => {
            let np = rewrite(table, p, map);
            if np == p {
                id
            } else {
                table.intern(Type::Pointer(np))
            }
        }
        Type::Array { item, len } => {
            let ni = rewrite(table, item, map);
            if ni == item {
                id
            } else {
                table.intern(Type::Array { item: ni, len })
            }
        }
        Type::Function(mut f) => {
            let old = f.clone();
            f.ret = rewrite(table, f.ret, map);
            for p in &mut f.params {
                *p = rewrite(table, *p, map);
            }
            if f == old {
                id
            } else {
                table.intern(Type::Function(f))
            }
        }
        _ => id,
    };
    map.insert(id, new);
    new
}

/// Gives the `[...]` levels of the array type at `target` the lengths measured in `sizes`.
fn complete_array(
    decls: &mut Declarations,
    target: &ArrayTarget,
    skip_outer: bool,
    sizes: &[u64],
) -> Result<()> {
    let (old, what) = match target {
        ArrayTarget::Global(name) => match decls.lib_items.get(name) {
            Some(Decl::Global(g)) => (g.ty, name.clone()),
            _ => return Err(Error::Internal(format!("global '{name}' vanished"))),
        },
        ArrayTarget::Typedef(name) => match decls.typedefs.get(name) {
            Some(&ty) => (ty, name.clone()),
            None => return Err(Error::Internal(format!("typedef '{name}' vanished"))),
        },
        ArrayTarget::Field {
            owner,
            index,
            c_type,
            name,
        } => {
            let f = decls
                .types
                .record(*owner)
                .fields
                .as_ref()
                .and_then(|f| f.get(*index));
            match f {
                Some(f) => (f.ty, format!("{c_type}.{name}")),
                None => return Err(Error::Internal(format!("field '{c_type}.{name}' vanished"))),
            }
        }
    };
    // Peel the array levels, then rebuild them from the innermost out.
    let mut levels = Vec::new();
    let mut id = old;
    while let Type::Array { item, len } = decls.types.get(id) {
        levels.push(*len);
        id = *item;
    }
    let first = usize::from(skip_outer);
    for depth in first..levels.len() {
        if levels[depth] != ArrayLen::Unknown {
            continue;
        }
        let (whole, item) = (sizes[depth - first], sizes[depth - first + 1]);
        if item == 0 {
            return Err(Error::Verification(format!(
                "{what}: cannot compute the length of '[...]' from items of size 0"
            )));
        }
        levels[depth] = ArrayLen::Fixed(whole / item);
    }
    for len in levels.into_iter().rev() {
        id = decls.types.intern(Type::Array { item: id, len });
    }
    match target {
        ArrayTarget::Global(name) => {
            if let Some(Decl::Global(g)) = decls.lib_items.get_mut(name) {
                g.ty = id;
            }
        }
        ArrayTarget::Typedef(name) => {
            decls.typedefs.insert(name.clone(), id);
            if let Some(Decl::Typedef(ty)) = decls.lib_items.get_mut(name) {
                *ty = id;
            }
        }
        ArrayTarget::Field { owner, index, .. } => {
            if let Some(f) = decls
                .types
                .record_mut(*owner)
                .fields
                .as_mut()
                .and_then(|f| f.get_mut(*index))
            {
                f.ty = id;
            }
        }
    }
    Ok(())
}

/// The model type of a field as declared now (after the rewrites above).
fn field_type(table: &TypeTable, f: &RecordField) -> Result<TypeId> {
    table
        .record(f.owner)
        .fields
        .as_ref()
        .and_then(|v| v.get(f.index))
        .map(|field| field.ty)
        .ok_or_else(|| Error::Internal(format!("field '{}' vanished", f.name)))
}

/// Compares an exact record's computed layout with the compiler's, as CFFI does
/// on first use: for each field its size then its offset, then the total size,
/// then the alignment. The first disagreement, with CFFI's message, and the
/// record it makes unusable. A record that does not resolve is left for its
/// first use to report.
fn check_record(
    decls: &Declarations,
    resolver: &mut TypeResolver,
    id: TypeId,
    fields: &[RecordField],
    a: &[u64],
) -> Result<Option<(Arc<RecordType>, String)>> {
    let Ok(ct) = resolver.resolve(&decls.types, id) else {
        return Ok(None);
    };
    let (Some(layout), CKind::Record(record)) = (ct.record_layout(), ct.kind()) else {
        return Ok(None);
    };
    match first_mismatch(ct.cname(), layout, fields, a)? {
        Some(why) => Ok(Some((record.clone(), why))),
        None => Ok(None),
    }
}

/// CFFI's message for the first difference between `layout` and the
/// compiler's answers `a` (see [`check_record`]).
fn first_mismatch(
    cname: &str,
    layout: &RecordLayout,
    fields: &[RecordField],
    a: &[u64],
) -> Result<Option<String>> {
    let mismatch = |what: String, cdef: u64, cc: u64| {
        Ok(Some(format!(
            "{cname}: {what} (cdef says {cdef}, but C compiler says {cc}). fix it or use \
             \"...;\" as the last field in the cdef for {cname} to make it flexible"
        )))
    };
    for (i, f) in fields.iter().enumerate() {
        if f.bitfield {
            continue;
        }
        let Some(fl) = layout.fields.iter().find(|fl| fl.name == f.name) else {
            return Err(Error::Internal(format!(
                "{cname}: field '{}' not laid out",
                f.name
            )));
        };
        let answer = FieldAnswer::of(a, i);
        let (offset, size) = (answer.offset, answer.size);
        if !f.open_array {
            let cdef = fl.ty.size().unwrap_or(0);
            if cdef != size {
                return mismatch(format!("wrong size for field '{}'", f.name), cdef, size);
            }
        }
        answer.check_kind(cname, f)?;
        if fl.offset != offset {
            return mismatch(
                format!("wrong offset for field '{}'", f.name),
                fl.offset,
                offset,
            );
        }
    }
    if layout.size != a[0] {
        return mismatch("wrong total size".to_owned(), layout.size, a[0]);
    }
    if layout.align != a[1] {
        return mismatch("wrong total alignment".to_owned(), layout.align, a[1]);
    }
    Ok(None)
}
