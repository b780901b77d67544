//! Structs, unions and enums: their fields and bitfields, packing, partial
//! (`...;`) and anonymous records, enumerators.

use super::*;

impl Lowerer<'_> {
    pub(super) fn next_anon(&mut self) -> String {
        self.anon += 1;
        format!("${}", self.anon)
    }

    pub(super) fn packing(&self) -> Packing {
        let max_align = if self.opts.packed {
            Some(1)
        } else {
            self.opts.pack.filter(|&p| p > 0)
        };
        Packing { max_align }
    }

    pub(super) fn record(
        &mut self,
        st: &Node<StructType>,
        force: Option<&str>,
        nested: bool,
    ) -> Result<TypeId> {
        self.enter()?;
        let r = self.record_inner(st, force, nested);
        self.depth -= 1;
        r
    }

    pub(super) fn record_inner(
        &mut self,
        st: &Node<StructType>,
        force: Option<&str>,
        nested: bool,
    ) -> Result<TypeId> {
        let st = &st.node;
        let kind = match st.kind.node {
            StructKind::Struct => RecordKind::Struct,
            StructKind::Union => RecordKind::Union,
        };
        let word = if kind == RecordKind::Struct {
            "struct"
        } else {
            "union"
        };
        let ty = match &st.identifier {
            Some(id) => {
                let tag = id.node.name.clone();
                let tags = match kind {
                    RecordKind::Struct => &self.decls.struct_tags,
                    RecordKind::Union => &self.decls.union_tags,
                };
                match tags.get(&tag) {
                    Some(&ty) => ty,
                    None => {
                        let ty = self.decls.types.add_record(Record {
                            kind,
                            name: tag.clone(),
                            fields: None,
                            partial: false,
                            opaque: false,
                            packing: Packing::default(),
                            typedef_name: None,
                        });
                        match kind {
                            RecordKind::Struct => self.decls.struct_tags.insert(tag, ty),
                            RecordKind::Union => self.decls.union_tags.insert(tag, ty),
                        };
                        ty
                    }
                }
            }
            None => {
                let name = match force {
                    Some(f) => format!("${f}"),
                    None => self.next_anon(),
                };
                self.decls.types.add_record(Record {
                    kind,
                    name,
                    fields: None,
                    partial: false,
                    opaque: false,
                    packing: Packing::default(),
                    typedef_name: None,
                })
            }
        };
        let Type::Record(rid) = *self.decls.types.get(ty) else {
            return Err(Error::Internal("record type is not a record".into()));
        };
        // `typedef struct foo foo_t;`: CFFI prints `struct foo` as `foo_t` from then on.
        if let (Some(name), Some(_)) = (force, &st.identifier) {
            let rec = self.decls.types.record_mut(rid);
            if rec.typedef_name.is_none() {
                rec.typedef_name = Some(name.to_owned());
            }
        }
        let Some(members) = &st.declarations else {
            return Ok(ty);
        };
        if self.decls.types.record(rid).fields.is_some() {
            let name = self.decls.types.record(rid).name.clone();
            return Err(Error::CDef(format!(
                "duplicate declaration of {word} {name}"
            )));
        }
        let mut fields = Vec::new();
        let mut partial = false;
        for m in members {
            let StructDeclaration::Field(f) = &m.node else {
                return Err(Error::CDef(
                    "_Static_assert is not supported in cdef()".into(),
                ));
            };
            let f = &f.node;
            let specs = field_specs(&f.specifiers);
            let (base, bconst, bkind) = self.specifiers_nested(&specs, None, true)?;
            if bkind == Base::Dots && f.declarators.is_empty() {
                partial = true;
                continue;
            }
            if bkind != Base::Normal {
                return Err(self.ffi_at(self.cur, "bad usage of \"...\""));
            }
            if f.declarators.is_empty() {
                let anonymous_record = specs.types.iter().any(|t| match t {
                    TypeSpecifier::Struct(s) => s.node.identifier.is_none(),
                    _ => false,
                });
                if !anonymous_record {
                    return Err(Error::CDef(format!(
                        "{word}: member declaration does not declare anything"
                    )));
                }
                fields.push(Field {
                    name: String::new(),
                    ty: base,
                    bits: None,
                });
                partial |= self.is_partial_record(base);
                continue;
            }
            for sd in &f.declarators {
                let bits = match &sd.node.bit_width {
                    Some(e) => {
                        let v = self.eval(e)?;
                        Some(
                            u32::try_from(v)
                                .map_err(|_| Error::CDef(format!("invalid bitfield width {v}")))?,
                        )
                    }
                    None => None,
                };
                let (name, fty) = match &sd.node.declarator {
                    Some(d) => {
                        let dd = self.declarator(base, bconst, d, true)?;
                        partial |= dd.unknown_len;
                        (dd.name.unwrap_or_default(), dd.ty)
                    }
                    None => (String::new(), base),
                };
                partial |= self.is_partial_record(fty);
                fields.push(Field {
                    name,
                    ty: fty,
                    bits,
                });
            }
        }
        let name = self.decls.types.record(rid).name.clone();
        if partial {
            if fields.iter().any(|f| f.bits.is_some()) && kind == RecordKind::Struct {
                return Err(Error::NotImplemented(format!(
                    "<{word} {name}>: using both bitfields and '...;'"
                )));
            }
            if !nested
                && name
                    .strip_prefix('$')
                    .is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()))
            {
                return Err(Error::NotImplemented(format!(
                    "<{word} {name}> is partial but has no C name"
                )));
            }
        }
        let packing = self.packing();
        let rec = self.decls.types.record_mut(rid);
        rec.fields = Some(fields);
        rec.partial = partial;
        rec.opaque = false;
        rec.packing = packing;
        Ok(ty)
    }

    pub(super) fn is_partial_record(&self, ty: TypeId) -> bool {
        match self.decls.types.get(ty) {
            Type::Record(rid) => self.decls.types.record(*rid).partial,
            _ => false,
        }
    }

    pub(super) fn enum_type(&mut self, et: &Node<EnumType>, force: Option<&str>) -> Result<TypeId> {
        let et = &et.node;
        if let Some(id) = &et.identifier {
            let tag = &id.node.name;
            if let Some(&ty) = self.decls.enum_tags.get(tag) {
                if !et.enumerators.is_empty() {
                    return Err(Error::NotImplemented(format!(
                        "enum {tag}: the '{{}}' declaration should appear on the first time the enum is mentioned, not later"
                    )));
                }
                return Ok(ty);
            }
        }
        let name = match (&et.identifier, force) {
            (Some(id), _) => id.node.name.clone(),
            (None, Some(f)) => format!("${f}"),
            (None, None) => self.next_anon(),
        };
        let ty = self.decls.types.add_enum(EnumDef {
            name: name.clone(),
            values: Vec::new(),
            partial: false,
            repr: None,
        });
        if et.identifier.is_some() {
            self.decls.enum_tags.insert(name, ty);
        }
        let Type::Enum(eid) = *self.decls.types.get(ty) else {
            return Err(Error::Internal("enum type is not an enum".into()));
        };
        let mut values = Vec::new();
        let mut partial = false;
        let mut next: Option<i128> = Some(0);
        for e in &et.enumerators {
            let e = &e.node;
            let ename = e.identifier.node.name.clone();
            if ename == DOTS_ENUM {
                partial = true;
                continue;
            }
            if ename.starts_with("__dotdotdot") {
                return Err(Error::CDef("Enums cannot be declared with ...".into()));
            }
            let value = match &e.expression {
                Some(x) if is_ident(x, DOTS_VALUE) => None,
                Some(x) => Some(self.eval(x)?),
                None => next,
            };
            let value_c = match value {
                Some(v) => {
                    ensure_constant(self.decls, &ename, v)?;
                    ConstValue::Int(v)
                }
                None => ConstValue::Unknown,
            };
            declare_lib(
                self.decls,
                &ename,
                Decl::Constant { ty, value: value_c },
                "constant",
                self.opts.override_names,
            )?;
            values.push((ename, value));
            next = value.and_then(|v| v.checked_add(1));
            self.decls.types.enum_def_mut(eid).values = values.clone();
        }
        let def = self.decls.types.enum_def_mut(eid);
        def.values = values;
        def.partial = partial;
        Ok(ty)
    }
}

pub(super) fn opaque_record(name: String) -> Record {
    Record {
        kind: RecordKind::Struct,
        name,
        fields: None,
        partial: false,
        opaque: true,
        packing: Packing::default(),
        typedef_name: None,
    }
}
