//! Model types → [`CType`] descriptors for one target, cached.
//!
//! Resolution is split in two steps, so that recursive and forward-declared
//! records work:
//!
//! 1. [`TypeResolver::get`] makes (or fetches) the descriptor of a type. A record
//!    gets a [`RecordType`] with an empty layout, which goes into the cache
//!    *before* anything else is resolved, so `struct s { struct s *next; }` finds
//!    itself. Pointers never need their pointee's layout.
//! 2. [`TypeResolver::ensure_layout`] lays a record out once its model is complete.
//!    It runs for records used by value: the type asked for, array items and
//!    fields. Records still without a layout are retried at every
//!    [`TypeResolver::resolve`] call, so a later `cdef()` completing `struct s`
//!    also completes the `struct s` behind an already cached `struct s *`.
//!
//! Where an error surfaces follows CFFI's ABI mode, except for partial records:
//! `typedef int... t` and `T[...]` cannot even be named (resolve-time errors, also
//! through pointers); a `...;` record resolves, with no layout, so that pointers
//! to it work as they will after compilation, and sizing it is CFFI's
//! `VerificationMissing` ([`CType::sizeof`]).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::{
    ArrayLen, EnumDef, FuncType, Prim, Record, RecordId, RecordKind, Type, TypeId, TypeTable,
};

use super::record::{lay_out, FieldInput};
use super::{
    CKind, CType, CTypeData, EnumType, FieldLayout, FuncInfo, MeasuredRecord, RecordLayout,
    RecordType, Target,
};

/// Resolves model types of one FFI for one target, one `CType` per model type.
pub struct TypeResolver {
    target: Target,
    cache: HashMap<TypeId, CType>,
    /// Records that have no layout yet but may get one from a later `cdef()`.
    pending: Vec<CType>,
    /// Records whose fields are being laid out (to detect `struct s { struct s x; }`).
    in_progress: HashSet<RecordId>,
    /// How deep `get`/`ensure_layout` are nested, to refuse absurd nesting before the stack runs out.
    depth: u32,
    /// Layouts a C compiler measured (a build's layout table), used instead of computing one.
    measured: HashMap<RecordId, MeasuredRecord>,
}

/// What [`TypeResolver::adopt`] did with another FFI's descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adoption {
    /// Taken: both FFIs now share it.
    Taken,
    /// Not taken: this FFI keeps its own.
    Kept,
    /// Not taken: the other FFI has the record opaque, this one with fields.
    Conflict,
}

/// Deepest nesting of declarators and by-value records resolved (`int ****…`).
const MAX_DEPTH: u32 = 200;

impl TypeResolver {
    /// True when `ct` is this resolver's own descriptor (not another FFI's).
    pub fn owns(&self, ct: &CType) -> bool {
        self.cache
            .get(&ct.data().model_id)
            .is_some_and(|own| Arc::ptr_eq(&own.0, &ct.0))
    }

    /// A resolver with an empty cache.
    pub fn new(target: Target) -> Self {
        TypeResolver {
            target,
            cache: HashMap::new(),
            pending: Vec::new(),
            in_progress: HashSet::new(),
            depth: 0,
            measured: HashMap::new(),
        }
    }

    /// A resolver for the same target that knows the same measured layouts but
    /// has resolved nothing yet: for another FFI with a copy of the same
    /// declarations. (Resolved types are never shared between resolvers: each
    /// one fills its own records' layouts.)
    pub fn fork(&self) -> Self {
        TypeResolver {
            measured: self.measured.clone(),
            ..TypeResolver::new(self.target)
        }
    }

    /// Gives record `rid` the layout a C compiler measured (what `build::complete`
    /// learns for a partial `...;` record). It is used instead of computing one
    /// when the record is next laid out, also for a `CType` already made while
    /// the record had no layout. A record already laid out keeps its layout.
    pub fn set_measured_layout(&mut self, rid: RecordId, layout: MeasuredRecord) {
        self.measured.insert(rid, layout);
    }

    /// Takes `ct`, another FFI's descriptor of the same declaration, as this
    /// resolver's descriptor of `id`, so both FFIs share one type object (what
    /// `ffi.include()` of a compiled module gives, as in CFFI). Not taken when
    /// `id` is resolved already, or `ct` is of another target or kind; nor for a
    /// record that `ct` has without fields while this model gives it some (the
    /// other FFI's layout would then be filled from this model), which is a
    /// [`Adoption::Conflict`] when `ct` is opaque (not merely waiting for a
    /// compiler).
    pub fn adopt(&mut self, table: &TypeTable, id: TypeId, ct: CType) -> Adoption {
        if self.cache.contains_key(&id) || ct.data().target != self.target {
            return Adoption::Kept;
        }
        let same_kind = match (table.get(id), ct.kind()) {
            (Type::Record(rid), CKind::Record(theirs)) => {
                if theirs.layout.get().is_none() && table.record(*rid).fields.is_some() {
                    return if theirs.is_partial() {
                        Adoption::Kept
                    } else {
                        Adoption::Conflict
                    };
                }
                true
            }
            (Type::Pointer(_), CKind::Pointer(_) | CKind::Function(_))
            | (Type::Array { .. }, CKind::Array { .. })
            | (Type::Enum(_), CKind::Enum(_)) => true,
            _ => false,
        };
        if !same_kind {
            return Adoption::Kept;
        }
        self.cache.insert(id, ct);
        Adoption::Taken
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
    /// More precisely (CFFI's messages throughout):
    /// - `typedef int... t` anywhere in the type: `Error::NotImplemented`
    ///   (`integer type 't' can only be used after compilation`);
    /// - `T[...]` anywhere in the type: `Error::CDef` (`cannot render the type <int[...]>: unknown length`);
    /// - a partial enum (`enum e { A, ... }` or a value to complete): `Error::Verification`
    ///   (CFFI's `VerificationMissing`);
    /// - a partial record resolves without a layout; see [`CType::sizeof`].
    ///
    /// # Errors
    /// As above, and the layout errors CFFI gives: `Error::Type` for a field of
    /// unknown size or a bad bitfield, `Error::Value` for an array of items of
    /// unknown size, `Error::Overflow` for an object too large for the target,
    /// `Error::NotImplemented` for a record containing itself by value.
    pub fn resolve(&mut self, table: &TypeTable, id: TypeId) -> Result<CType> {
        self.retry_pending(table);
        let ct = self.get(table, id)?;
        self.ensure_layout(table, &ct)?;
        // Records reached through pointers while making `ct` are laid out now,
        // so `ffi.new("struct s *")` knows the size of `struct s`.
        self.retry_pending(table);
        Ok(ct)
    }

    /// Gives a layout to the records that got complete in the model since their
    /// descriptor was made. Errors are left for when the record itself is resolved.
    fn retry_pending(&mut self, table: &TypeTable) {
        if self.pending.is_empty() {
            return;
        }
        for ct in std::mem::take(&mut self.pending) {
            // An error leaves the record without a layout; it is reported when the
            // record (or something containing it by value) is resolved.
            let _ = self.ensure_layout(table, &ct);
            let done = ct.record_layout().is_some()
                || record_of(table, &ct).is_some_and(|(_, r)| r.opaque);
            if !done {
                self.pending.push(ct);
            }
        }
    }

    /// The descriptor of `id`, made if needed, without laying out a record.
    fn get(&mut self, table: &TypeTable, id: TypeId) -> Result<CType> {
        if let Some(ct) = self.cache.get(&id) {
            return Ok(ct.clone());
        }
        if let Some(why) = table.unsupported(id) {
            return Err(why.clone());
        }
        self.nested(|this| this.make(table, id))
    }

    /// Runs `f` one nesting level deeper, refusing to go past [`MAX_DEPTH`].
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth >= MAX_DEPTH {
            return Err(Error::CDef(format!(
                "type nested more than {MAX_DEPTH} levels deep"
            )));
        }
        self.depth += 1;
        let res = f(self);
        self.depth -= 1;
        res
    }

    /// Makes the descriptor of a type not in the cache yet.
    fn make(&mut self, table: &TypeTable, id: TypeId) -> Result<CType> {
        let cname = table.c_name(id);
        let kind = match table.get(id) {
            Type::Void => CKind::Void,
            Type::Prim(prim) => CKind::Prim(*prim, self.target.prim_layout(*prim)),
            Type::Pointer(pointee) => match table.get(*pointee) {
                Type::Function(func) => CKind::Function(self.func_info(table, func)?),
                _ => CKind::Pointer(self.get(table, *pointee)?),
            },
            Type::Array { item, len } => {
                let len = match len {
                    ArrayLen::Fixed(n) => Some(*n),
                    ArrayLen::Open => None,
                    ArrayLen::Unknown => {
                        return Err(Error::CDef(format!(
                            "cannot render the type <{cname}>: unknown length"
                        )))
                    }
                };
                let item = self.get(table, *item)?;
                self.ensure_layout(table, &item)?;
                self.check_array(&item, len)?;
                CKind::Array { item, len }
            }
            Type::Record(rid) => {
                let rec = table.record(*rid);
                CKind::Record(Arc::new(RecordType::new(rec.kind, rec.name.clone())))
            }
            Type::Enum(eid) => CKind::Enum(Arc::new(self.enum_type(table.enum_def(*eid), &cname)?)),
            Type::Function(_) => {
                return Err(Error::CDef(format!(
                    "the type '{cname}' is a function type, not a pointer-to-function type"
                )))
            }
            Type::UnknownPrim { name, float } => {
                let what = if *float { "float" } else { "integer" };
                return Err(Error::NotImplemented(format!(
                    "{what} type '{name}' can only be used after compilation"
                )));
            }
        };
        let is_record = matches!(kind, CKind::Record(_));
        let ct = CType(Arc::new(CTypeData {
            model_id: id,
            target: self.target,
            cname,
            kind,
        }));
        self.cache.insert(id, ct.clone());
        if is_record {
            self.pending.push(ct.clone());
        }
        Ok(ct)
    }

    /// Refuses arrays of items without a size, and arrays too large for the target.
    fn check_array(&self, item: &CType, len: Option<u64>) -> Result<()> {
        let Some(item_size) = item.size() else {
            if let CKind::Record(r) = item.kind() {
                if r.is_partial() {
                    return Err(Error::VerificationMissing(item.cname().to_owned()));
                }
            }
            return Err(Error::Value(format!(
                "array item of unknown size: '{}'",
                item.cname()
            )));
        };
        if let Some(n) = len {
            if n.checked_mul(item_size)
                .is_none_or(|size| size > self.max_object_size())
            {
                return Err(Error::Overflow(
                    "array size would overflow a Py_ssize_t".to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// The largest object size the target's C allows (`PTRDIFF_MAX`).
    fn max_object_size(&self) -> u64 {
        (1u64 << (self.target.pointer_size() * 8 - 1)) - 1
    }

    /// The signature behind a function pointer type.
    fn func_info(&mut self, table: &TypeTable, func: &FuncType) -> Result<FuncInfo> {
        let ret = self.get(table, func.ret)?;
        if matches!(ret.kind(), CKind::Array { .. }) {
            return Err(Error::Type(format!(
                "invalid result type: '{}'",
                ret.cname()
            )));
        }
        let params = func
            .params
            .iter()
            .map(|&p| self.get(table, p))
            .collect::<Result<Vec<_>>>()?;
        // As CFFI: a function type cannot take or return an opaque struct by
        // value (one no cdef gave fields: nothing could ever pass it).
        let opaque = |id: TypeId| matches!(table.get(id), Type::Record(rid) if table.record(*rid).fields.is_none());
        if opaque(func.ret) {
            return Err(Error::Type(format!(
                "result type '{}' is not yet initialized",
                ret.cname()
            )));
        }
        if let Some((_, ty)) = func.params.iter().zip(&params).find(|(&id, _)| opaque(id)) {
            return Err(Error::Type(format!(
                "ctype '{}' has incomplete type",
                ty.cname()
            )));
        }
        Ok(FuncInfo {
            ret,
            params,
            variadic: func.variadic,
        })
    }

    /// An enum's integer representation, chosen as CFFI (and GCC) choose it:
    /// `unsigned int` when no value is negative and all fit, else `int`; 8 bytes
    /// when 4 are not enough.
    fn enum_type(&self, def: &EnumDef, cname: &str) -> Result<EnumType> {
        let mut values = Vec::with_capacity(def.values.len());
        for (name, value) in &def.values {
            match value {
                Some(v) if !def.partial => values.push((name.clone(), *v)),
                _ => return Err(Error::VerificationMissing(cname.to_owned())),
            }
        }
        if def.partial {
            return Err(Error::VerificationMissing(cname.to_owned()));
        }
        let min = values.iter().map(|(_, v)| *v).min().unwrap_or(0);
        let max = values.iter().map(|(_, v)| *v).max().unwrap_or(0);
        let prim = if let Some((size, signed)) = def.repr {
            // The compiler's choice, for an enum completed from a `...` cdef.
            match (size, signed) {
                (8, true) => Prim::LongLong,
                (8, false) => Prim::ULongLong,
                (_, true) => Prim::Int,
                (_, false) => Prim::UInt,
            }
        } else if min >= 0 {
            if max <= i128::from(u32::MAX) {
                Prim::UInt
            } else if max <= i128::from(u64::MAX) {
                Prim::ULongLong
            } else {
                return Err(enum_too_wide(cname));
            }
        } else if min >= i128::from(i32::MIN) && max <= i128::from(i32::MAX) {
            Prim::Int
        } else if min >= i128::from(i64::MIN) && max <= i128::from(i64::MAX) {
            Prim::LongLong
        } else {
            return Err(enum_too_wide(cname));
        };
        Ok(EnumType {
            name: def.name.clone(),
            repr: self.target.prim_layout(prim),
            values,
        })
    }

    /// Lays out a record used by value, if its model is complete. Other types
    /// are left alone.
    fn ensure_layout(&mut self, table: &TypeTable, ct: &CType) -> Result<()> {
        let CKind::Record(rt) = ct.kind() else {
            return Ok(());
        };
        // An adopted descriptor is laid out by the resolver that made it.
        if rt.layout.get().is_some() || !self.owns(ct) {
            return Ok(());
        }
        let Some((rid, rec)) = record_of(table, ct) else {
            return Err(Error::Internal(format!(
                "'{}' is not a record in the model",
                ct.cname()
            )));
        };
        if self.in_progress.contains(&rid) {
            return Err(Error::NotImplemented(format!(
                "recursive structure declaration for '{}'",
                rec.name
            )));
        }
        if rec.opaque || rec.fields.is_none() {
            return Ok(());
        }
        if let Some(measured) = self.measured.get(&rid) {
            let measured = measured.clone();
            self.in_progress.insert(rid);
            let res = self.nested(|this| this.measured_layout(table, &measured, rt.kind));
            self.in_progress.remove(&rid);
            // Only this resolver fills this OnceLock, and it was empty above.
            let _ = rt.layout.set(res?);
            return Ok(());
        }
        if rec.partial {
            rt.needs_compiler.store(true, Ordering::Relaxed);
            return Ok(());
        }
        self.in_progress.insert(rid);
        let res = self.nested(|this| this.lay_out_record(table, ct, rec));
        self.in_progress.remove(&rid);
        match res? {
            Some(layout) => {
                // Only this resolver fills this OnceLock, and it was empty above.
                let _ = rt.layout.set(layout);
            }
            None => rt.needs_compiler.store(true, Ordering::Relaxed),
        }
        Ok(())
    }

    /// The layout of a record from a compiler's measurements: field types are
    /// resolved here, offsets and sizes are taken as measured.
    fn measured_layout(
        &mut self,
        table: &TypeTable,
        m: &MeasuredRecord,
        kind: RecordKind,
    ) -> Result<RecordLayout> {
        let mut fields = Vec::with_capacity(m.fields.len());
        let mut flexible = false;
        // Where natural alignment would put the fields, to tell whether the
        // compiler's layout is a custom one (CFFI's CT_CUSTOM_FIELD_POS).
        let mut natural_end = 0u64;
        let mut natural_align = 1u64;
        let mut custom_field_pos = false;
        for (i, f) in m.fields.iter().enumerate() {
            let ty = self.get(table, f.ty)?;
            self.ensure_layout(table, &ty)?;
            let empty_array = matches!(
                ty.kind(),
                CKind::Array {
                    len: None | Some(0),
                    ..
                }
            );
            if i + 1 == m.fields.len() {
                flexible = matches!(ty.kind(), CKind::Array { len: None, .. })
                    || ty.record_layout().is_some_and(|l| l.has_flexible_array);
            }
            let align = ty.align().unwrap_or(1).max(1);
            let natural = match kind {
                RecordKind::Struct => natural_end.div_ceil(align) * align,
                RecordKind::Union => 0,
            };
            custom_field_pos |= natural != f.offset || f.skip_in_positional_init;
            natural_end = natural_end.max(natural + ty.size().unwrap_or(0));
            natural_align = natural_align.max(align);
            fields.push(FieldLayout {
                name: f.name.clone(),
                ty,
                offset: f.offset,
                bitshift: if empty_array { -2 } else { -1 },
                bitsize: -1,
                skip_in_positional_init: f.skip_in_positional_init,
            });
        }
        Ok(RecordLayout {
            size: m.size,
            align: m.align,
            fields,
            has_flexible_array: flexible,
            custom_field_pos: custom_field_pos
                || natural_align != m.align
                || natural_end.div_ceil(natural_align) * natural_align != m.size,
            packed_change: false,
        })
    }

    /// The layout of a complete record, or `None` when one of its fields needs
    /// a compiler (a `[...]` length or a partial record).
    fn lay_out_record(
        &mut self,
        table: &TypeTable,
        ct: &CType,
        rec: &Record,
    ) -> Result<Option<super::RecordLayout>> {
        let fields = rec.fields.as_deref().unwrap_or_default();
        let mut inputs = Vec::with_capacity(fields.len());
        for field in fields {
            if has_unknown_len(table, field.ty) {
                return Ok(None);
            }
            let ty = self.get(table, field.ty)?;
            self.ensure_layout(table, &ty)?;
            if let CKind::Record(r) = ty.kind() {
                if r.is_partial() && r.layout.get().is_none() {
                    return Ok(None);
                }
            }
            inputs.push(FieldInput {
                name: &field.name,
                ty,
                bits: field.bits,
            });
        }
        lay_out(
            ct.cname(),
            rec.kind,
            rec.packing,
            &inputs,
            self.max_object_size(),
        )
        .map(Some)
    }
}

/// The model record behind a record descriptor.
fn record_of<'t>(table: &'t TypeTable, ct: &CType) -> Option<(RecordId, &'t Record)> {
    match table.get(ct.data().model_id) {
        Type::Record(rid) => Some((*rid, table.record(*rid))),
        _ => None,
    }
}

/// True for `T[...]`, also nested in arrays (`T[...][3]`, `T[2][...]`).
fn has_unknown_len(table: &TypeTable, mut id: TypeId) -> bool {
    while let Type::Array { item, len } = table.get(id) {
        if *len == ArrayLen::Unknown {
            return true;
        }
        id = *item;
    }
    false
}

fn enum_too_wide(cname: &str) -> Error {
    Error::CDef(format!(
        "{cname} values don't all fit into either 'long' or 'unsigned long'"
    ))
}
