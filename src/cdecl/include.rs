//! `ffi.include(other)`: copies another [`Declarations`] into this one, re-interning
//! its types. Works in type-id order, so no recursion: the parts of a structural type
//! always have smaller ids than the type itself.

use std::collections::HashMap;

use super::declare::{declare_lib, declare_typedef};
use crate::error::{Error, Result};
use crate::model::{
    Decl, Declarations, EnumDef, Field, FuncType, GlobalVar, Record, RecordId, RecordKind, Type,
    TypeId,
};

/// Copies `src` into `dst`; `anon` is the highest `$N` already used in `dst`.
pub fn include(dst: &mut Declarations, src: &Declarations, mut anon: u64) -> Result<()> {
    let mut map: HashMap<TypeId, TypeId> = HashMap::new();
    // Records whose fields must be copied once every type is mapped.
    let mut fill: Vec<(RecordId, RecordId)> = Vec::new();
    let mut ids: Vec<TypeId> = Vec::new();
    // Every type reachable from `src`'s names.
    let mut stack: Vec<TypeId> = src.typedefs.values().copied().collect();
    stack.extend(
        src.struct_tags
            .values()
            .chain(src.union_tags.values())
            .chain(src.enum_tags.values()),
    );
    for d in src.lib_items.values() {
        stack.push(decl_type(d));
    }
    let mut seen = std::collections::HashSet::new();
    while let Some(t) = stack.pop() {
        if !seen.insert(t) {
            continue;
        }
        ids.push(t);
        match src.types.get(t) {
            Type::Pointer(p) => stack.push(*p),
            Type::Array { item, .. } => stack.push(*item),
            Type::Function(f) => {
                stack.push(f.ret);
                stack.extend(&f.params);
            }
            Type::Record(rid) => {
                if let Some(fields) = &src.types.record(*rid).fields {
                    stack.extend(fields.iter().map(|f| f.ty));
                }
            }
            _ => {}
        }
    }
    ids.sort_unstable();
    let get = |map: &HashMap<TypeId, TypeId>, t: TypeId| {
        map.get(&t)
            .copied()
            .ok_or_else(|| Error::Internal(format!("include: type {t:?} not mapped")))
    };
    for id in ids {
        let new = match src.types.get(id).clone() {
            t @ (Type::Void | Type::Prim(_) | Type::UnknownPrim { .. }) => dst.types.intern(t),
            Type::Pointer(p) => {
                let p = get(&map, p)?;
                dst.types.pointer_to(p)
            }
            Type::Array { item, len } => {
                let item = get(&map, item)?;
                dst.types.intern(Type::Array { item, len })
            }
            Type::Function(f) => {
                let ret = get(&map, f.ret)?;
                let params = f
                    .params
                    .iter()
                    .map(|&p| get(&map, p))
                    .collect::<Result<Vec<_>>>()?;
                dst.types.intern(Type::Function(FuncType {
                    ret,
                    params,
                    variadic: f.variadic,
                }))
            }
            Type::Record(rid) => {
                let rec = src.types.record(rid).clone();
                let (ty, copy) = import_record(dst, &rec, &mut anon)?;
                if copy {
                    if let Type::Record(drid) = dst.types.get(ty) {
                        fill.push((rid, *drid));
                    }
                }
                ty
            }
            Type::Enum(eid) => import_enum(dst, src.types.enum_def(eid), &mut anon),
        };
        map.insert(id, new);
    }
    for (srid, drid) in fill {
        let rec = src.types.record(srid);
        let fields = match &rec.fields {
            Some(fs) => Some(
                fs.iter()
                    .map(|f| {
                        Ok(Field {
                            name: f.name.clone(),
                            ty: get(&map, f.ty)?,
                            bits: f.bits,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            None => None,
        };
        let d = dst.types.record_mut(drid);
        d.fields = fields;
        d.partial = rec.partial;
        d.opaque = rec.opaque;
        d.packing = rec.packing;
        if d.typedef_name.is_none() {
            d.typedef_name.clone_from(&rec.typedef_name);
        }
    }
    for (name, &t) in &src.typedefs {
        declare_typedef(dst, name, get(&map, t)?, false)?;
    }
    dst.const_typedefs
        .extend(src.const_typedefs.iter().cloned());
    for (name, d) in &src.lib_items {
        let (decl, kind) = match d {
            Decl::Typedef(t) => (Decl::Typedef(get(&map, *t)?), "typedef"),
            Decl::Function { ty } => (
                Decl::Function {
                    ty: get(&map, *ty)?,
                },
                "function",
            ),
            Decl::ExternPython {
                ty,
                also_c,
                param_text,
            } => (
                Decl::ExternPython {
                    ty: get(&map, *ty)?,
                    also_c: *also_c,
                    param_text: param_text.clone(),
                },
                "extern_python",
            ),
            Decl::Global(g) => (
                Decl::Global(GlobalVar {
                    ty: get(&map, g.ty)?,
                    is_const: g.is_const,
                }),
                "variable",
            ),
            Decl::Constant { ty, value } => (
                Decl::Constant {
                    ty: get(&map, *ty)?,
                    value: value.clone(),
                },
                "constant",
            ),
        };
        declare_lib(dst, name, decl, kind, false)?;
    }
    Ok(())
}

fn decl_type(d: &Decl) -> TypeId {
    match d {
        Decl::Typedef(t) => *t,
        Decl::Function { ty } | Decl::ExternPython { ty, .. } | Decl::Constant { ty, .. } => *ty,
        Decl::Global(g) => g.ty,
    }
}

fn is_anon_number(name: &str) -> bool {
    name.strip_prefix('$')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// The record in `dst` standing for `rec`, and whether its fields must be copied.
fn import_record(dst: &mut Declarations, rec: &Record, anon: &mut u64) -> Result<(TypeId, bool)> {
    let word = if rec.kind == RecordKind::Struct {
        "struct"
    } else {
        "union"
    };
    if is_anon_number(&rec.name) {
        *anon += 1;
        let mut new = rec.clone();
        new.name = format!("${anon}");
        new.fields = None;
        return Ok((dst.types.add_record(new), rec.fields.is_some()));
    }
    let existing = if rec.name.starts_with('$') {
        dst.types
            .records()
            .find(|(_, r)| r.name == rec.name && r.kind == rec.kind)
            .map(|(rid, _)| rid)
    } else {
        let tags = if rec.kind == RecordKind::Struct {
            &dst.struct_tags
        } else {
            &dst.union_tags
        };
        tags.get(&rec.name).and_then(|&t| match dst.types.get(t) {
            Type::Record(rid) => Some(*rid),
            _ => None,
        })
    };
    if let Some(rid) = existing {
        let ty = dst.types.intern(Type::Record(rid));
        let mine = dst.types.record(rid);
        return match (&mine.fields, &rec.fields) {
            (None, Some(_)) => Ok((ty, true)),
            (Some(a), Some(b)) if a.len() != b.len() || mine.partial != rec.partial => Err(Error::Ffi(format!(
                "multiple declarations of {word} {} (for interactive usage, try cdef(xx, override=True))",
                rec.name
            ))),
            _ => Ok((ty, false)),
        };
    }
    let mut new = rec.clone();
    new.fields = None;
    let ty = dst.types.add_record(new);
    if !rec.name.starts_with('$') {
        match rec.kind {
            RecordKind::Struct => dst.struct_tags.insert(rec.name.clone(), ty),
            RecordKind::Union => dst.union_tags.insert(rec.name.clone(), ty),
        };
    }
    Ok((ty, rec.fields.is_some()))
}

fn import_enum(dst: &mut Declarations, def: &EnumDef, anon: &mut u64) -> TypeId {
    if is_anon_number(&def.name) {
        *anon += 1;
        let mut new = def.clone();
        new.name = format!("${anon}");
        return dst.types.add_enum(new);
    }
    if !def.name.starts_with('$') {
        if let Some(&t) = dst.enum_tags.get(&def.name) {
            return t;
        }
        let t = dst.types.add_enum(def.clone());
        dst.enum_tags.insert(def.name.clone(), t);
        return t;
    }
    let found = dst
        .types
        .enums()
        .find(|(_, e)| e.name == def.name)
        .map(|(eid, _)| eid);
    match found {
        Some(eid) => dst.types.intern(Type::Enum(eid)),
        None => dst.types.add_enum(def.clone()),
    }
}
