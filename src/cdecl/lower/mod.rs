//! lang-c → model: runs lang-c on rewritten cdef text and lowers its syntax tree into
//! [`Declarations`], with CFFI's rules and messages. The only module that imports lang-c.
//!
//! Split by job: declarations (here), [`records`], constant evaluation ([`consts`]),
//! and [`diagnostics`] (parsing and error positions).

mod consts;
mod diagnostics;
mod records;

use consts::is_ident;
use diagnostics::parse;
use records::opaque_record;

use lang_c::ast::{
    ArraySize, BinaryOperator, Constant, Declaration, DeclarationSpecifier, Declarator,
    DeclaratorKind, DerivedDeclarator, Ellipsis, EnumType, Expression, ExternalDeclaration,
    FunctionDeclarator, Initializer, IntegerBase, PointerQualifier, SpecifierQualifier,
    StorageClassSpecifier, StructDeclaration, StructKind, StructType, TypeQualifier, TypeSpecifier,
    UnaryOperator,
};
use lang_c::driver::{parse_preprocessed, Config, Flavor};
use lang_c::span::Node;

use super::declare::{declare_lib, declare_typedef, ensure_constant};
use super::prims::{builtin_typedef, char_value, parse_int_literal, resolve_keywords};
use super::rewrite::{
    self, location, nth_line, DOTS, DOTS_ARRAY, DOTS_ENUM, DOTS_FLOAT, DOTS_INT, DOTS_VALUE,
};
use super::rewrite::{PY_PLUS_C_START, PY_START, PY_STOP};
use super::CdefOptions;
use crate::error::{Error, Result};
use crate::model::{
    ArrayLen, ConstValue, Decl, Declarations, EnumDef, Field, FuncType, GlobalVar, Packing, Prim,
    Record, RecordKind, Type, TypeId,
};

/// Deepest recursion the lowering itself allows (declarators, expressions).
const MAX_RECURSION: usize = 2000;

/// What the base type of a declaration turned out to be.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Base {
    Normal,
    /// `...` (opaque typedef, partial-struct marker, lone varargs).
    Dots,
    DotsInt,
    DotsFloat,
}

/// The text handed to lang-c and how it maps back to the user's.
pub(super) struct Source<'a> {
    /// Everything lang-c parses: placeholder typedefs, a line marker, the body.
    pub full: String,
    /// Byte offset in `full` where the declarations to lower start (after the prefix).
    pub body_start: usize,
    /// Byte offset in `full` of the user's first line.
    pub quote_start: usize,
    /// The user's own text, for quoting lines.
    pub user: &'a str,
}

/// State of one lowering run.
pub(super) struct Lowerer<'a> {
    pub decls: &'a mut Declarations,
    pub opts: CdefOptions,
    pub src: Source<'a>,
    /// Next number for anonymous `$N` records and enums.
    pub anon: u64,
    extern_py: Option<bool>,
    cur: usize,
    depth: usize,
}

/// The result of applying a declarator to a base type.
struct Declared {
    name: Option<String>,
    ty: TypeId,
    /// `const` applies to the outermost level (`T *const x`, `const int x`, `const T a[3]`).
    konst: bool,
    /// Some array length was `[...]`.
    unknown_len: bool,
}

impl<'a> Lowerer<'a> {
    /// A lowering run over `src`.
    pub fn new(decls: &'a mut Declarations, opts: CdefOptions, src: Source<'a>, anon: u64) -> Self {
        Lowerer {
            decls,
            opts,
            src,
            anon,
            extern_py: None,
            cur: 0,
            depth: 0,
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_RECURSION {
            return Err(Error::CDef("declaration nested too deeply".into()));
        }
        Ok(())
    }

    /// Parses and lowers a whole cdef.
    pub fn run_cdef(&mut self, macros: &[rewrite::Macro]) -> Result<()> {
        let unit = {
            let decls = &*self.decls;
            let known = |w: &str| {
                decls.typedefs.contains_key(w)
                    || super::prims::is_builtin_typedef(w)
                    || w.starts_with("__dotdotdot")
            };
            parse(&self.src, &known)?
        };
        for m in macros {
            let at = self.src.body_start + m.offset;
            self.cur = at;
            self.lower_macro(m).map_err(|e| self.locate(e, at))?;
        }
        for ext in &unit.0 {
            if ext.span.start < self.src.body_start {
                continue;
            }
            self.cur = ext.span.start;
            self.depth = 0;
            let r = match &ext.node {
                ExternalDeclaration::Declaration(d) => self.declaration(d),
                ExternalDeclaration::FunctionDefinition(_) => Err(Error::CDef(
                    "unexpected <FuncDef>: this construct is valid C but not valid in cdef()"
                        .into(),
                )),
                ExternalDeclaration::StaticAssert(_) => Err(Error::CDef(
                    "unexpected <StaticAssert>: this construct is valid C but not valid in cdef()"
                        .into(),
                )),
            };
            r.map_err(|e| self.locate(e, ext.span.start))?;
        }
        Ok(())
    }

    /// Parses `void __dummy(\n<type>\n);` and returns the parameter's type.
    pub fn run_type(&mut self) -> Result<TypeId> {
        let unit = {
            let decls = &*self.decls;
            let known = |w: &str| {
                decls.typedefs.contains_key(w)
                    || super::prims::is_builtin_typedef(w)
                    || w.starts_with("__dotdotdot")
            };
            parse(&self.src, &known)?
        };
        let exts: Vec<_> = unit
            .0
            .iter()
            .filter(|e| e.span.start >= self.src.body_start)
            .collect();
        let bad = || Error::CDef(format!("cannot parse \"{}\"", self.src.user.trim()));
        let [ext] = exts.as_slice() else {
            return Err(bad());
        };
        let ExternalDeclaration::Declaration(d) = &ext.node else {
            return Err(bad());
        };
        let [init] = d.node.declarators.as_slice() else {
            return Err(bad());
        };
        let [derived] = init.node.declarator.node.derived.as_slice() else {
            return Err(bad());
        };
        let params = match &derived.node {
            DerivedDeclarator::Function(f) => &f.node,
            DerivedDeclarator::KRFunction(ids) => {
                return Err(match ids.first() {
                    Some(id) => Error::CDef(format!("unknown identifier '{}'", id.node.name)),
                    None => Error::CDef("cannot parse \"\": empty type".into()),
                });
            }
            _ => return Err(bad()),
        };
        let [param] = params.parameters.as_slice() else {
            return Err(bad());
        };
        if params.ellipsis == Ellipsis::Some {
            return Err(bad());
        }
        self.cur = param.span.start;
        let (base, konst, kind) = self.specifiers(&decl_specs(&param.node.specifiers), None)?;
        if kind != Base::Normal {
            return Err(self.ffi_at(param.span.start, "bad usage of \"...\""));
        }
        match &param.node.declarator {
            Some(d) => Ok(self.declarator(base, konst, d, false)?.ty),
            None => Ok(base),
        }
    }

    fn lower_macro(&mut self, m: &rewrite::Macro) -> Result<()> {
        let int = self.decls.types.prim(Prim::Int);
        if m.value == "..." {
            return declare_lib(
                self.decls,
                &m.name,
                Decl::Constant {
                    ty: int,
                    value: ConstValue::Unknown,
                },
                "macro",
                self.opts.override_names,
            );
        }
        match parse_int_literal(&m.value) {
            Some(v) => {
                ensure_constant(self.decls, &m.name, v)?;
                declare_lib(self.decls, &m.name, Decl::Constant { ty: int, value: ConstValue::Int(v) }, "macro", self.opts.override_names)
            }
            None => Err(Error::CDef(format!(
                "only supports one of the following syntax:\n  #define {0} ...     (literally dot-dot-dot)\n  #define {0} NUMBER  (with NUMBER an integer constant, decimal/hex/octal)\ngot:\n  #define {0} {1}",
                m.name, m.value
            ))),
        }
    }

    fn declaration(&mut self, d: &Node<Declaration>) -> Result<()> {
        let d = &d.node;
        let mut storage = None;
        for s in &d.specifiers {
            match &s.node {
                DeclarationSpecifier::StorageClass(sc) => storage = Some(sc.node.clone()),
                DeclarationSpecifier::Alignment(_) => {
                    return Err(Error::CDef("_Alignas is not supported in cdef()".into()))
                }
                DeclarationSpecifier::Extension(_) => {
                    return Err(Error::CDef(
                        "__attribute__ and other extensions are not supported in cdef()".into(),
                    ))
                }
                _ => {}
            }
        }
        let is_typedef = storage == Some(StorageClassSpecifier::Typedef);
        // `typedef struct { } foo_t;` names the struct `$foo_t`.
        let force = if is_typedef {
            d.declarators
                .iter()
                .find_map(|i| match &i.node.declarator.node {
                    Declarator { kind, derived, .. } if derived.is_empty() => match &kind.node {
                        DeclaratorKind::Identifier(id) => Some(id.node.name.clone()),
                        _ => None,
                    },
                    _ => None,
                })
        } else {
            None
        };
        let specs = decl_specs(&d.specifiers);
        let (base, base_const, kind) = self.specifiers(&specs, force.as_deref())?;
        if d.declarators.is_empty() {
            let tagged = specs
                .types
                .iter()
                .any(|t| matches!(t, TypeSpecifier::Struct(_) | TypeSpecifier::Enum(_)));
            if !tagged {
                return Err(Error::CDef(
                    "construct does not declare any variable".into(),
                ));
            }
            return Ok(());
        }
        for init in &d.declarators {
            let decl = &init.node.declarator;
            if is_typedef {
                self.typedef(base, base_const, kind, decl)?;
                continue;
            }
            if kind != Base::Normal {
                return Err(self.ffi_at(decl.span.start, "bad usage of \"...\""));
            }
            let dd = self.declarator(base, base_const, decl, true)?;
            let Some(name) = dd.name else {
                return Err(Error::CDef(
                    "construct does not declare any variable".into(),
                ));
            };
            let param_text = if self.extern_py.is_some() {
                self.param_text(&decl.node)
            } else {
                Vec::new()
            };
            self.object(
                &name,
                dd.ty,
                dd.konst,
                storage.as_ref(),
                init.node.initializer.as_ref(),
                param_text,
            )?;
        }
        Ok(())
    }

    /// The source text of each parameter type of a function declarator (names
    /// blanked out), qualifiers kept; empty when the declarator has not exactly
    /// one parameter list (a function returning a function pointer) or is `(void)`.
    fn param_text(&self, decl: &Declarator) -> Vec<String> {
        let mut lists = decl.derived.iter().filter_map(|d| match &d.node {
            DerivedDeclarator::Function(f) => Some(&f.node),
            _ => None,
        });
        let (Some(list), None) = (lists.next(), lists.next()) else {
            return Vec::new();
        };
        let full = &self.src.full;
        let mut out = Vec::with_capacity(list.parameters.len());
        for p in &list.parameters {
            let (start, end) = (p.span.start, p.span.end);
            let Some(text) = full.get(start..end) else {
                return Vec::new();
            };
            let mut text = text.to_owned();
            if let Some(id) = p
                .node
                .declarator
                .as_ref()
                .and_then(|d| declarator_ident(&d.node))
            {
                let Some(range) = id.start.checked_sub(start).zip(id.end.checked_sub(start)) else {
                    return Vec::new();
                };
                text.replace_range(range.0..range.1, " ");
            }
            if text.trim() == "void" {
                return Vec::new();
            }
            out.push(text.trim().to_owned());
        }
        out
    }

    fn typedef(
        &mut self,
        base: TypeId,
        konst: bool,
        kind: Base,
        decl: &Node<Declarator>,
    ) -> Result<()> {
        let derived = &decl.node.derived;
        let name = match &decl.node.kind.node {
            DeclaratorKind::Identifier(id) => Some(id.node.name.clone()),
            _ => None,
        };
        let ov = self.opts.override_names;
        if kind != Base::Normal {
            let bad = || self.ffi_at(decl.span.start, "unsupported usage of \"...\" in typedef");
            let Some(name) = name else { return Err(bad()) };
            let ty = match (kind, derived.as_slice()) {
                (Base::Dots, []) => self
                    .decls
                    .types
                    .add_record(opaque_record(format!("${name}"))),
                (Base::Dots, [p]) if matches!(p.node, DerivedDeclarator::Pointer(_)) => {
                    let rec = self
                        .decls
                        .types
                        .add_record(opaque_record(format!("$${name}")));
                    self.decls.types.pointer_to(rec)
                }
                (Base::DotsInt, []) => self.decls.types.intern(Type::UnknownPrim {
                    name: name.clone(),
                    float: false,
                }),
                (Base::DotsFloat, []) => self.decls.types.intern(Type::UnknownPrim {
                    name: name.clone(),
                    float: true,
                }),
                _ => return Err(bad()),
            };
            return declare_typedef(self.decls, &name, ty, ov);
        }
        let dd = self.declarator(base, konst, decl, true)?;
        let Some(name) = dd.name else {
            return Err(Error::CDef("typedef does not declare any name".into()));
        };
        declare_typedef(self.decls, &name, dd.ty, ov)?;
        if dd.konst {
            self.decls.const_typedefs.insert(name);
        } else {
            self.decls.const_typedefs.remove(&name);
        }
        Ok(())
    }

    /// A named non-typedef declaration: function, global, constant or marker.
    fn object(
        &mut self,
        name: &str,
        ty: TypeId,
        konst: bool,
        storage: Option<&StorageClassSpecifier>,
        init: Option<&Node<Initializer>>,
        param_text: Vec<String>,
    ) -> Result<()> {
        let ov = self.opts.override_names;
        if let Type::Function(f) = self.decls.types.get(ty) {
            let variadic = f.variadic;
            let decl = match self.extern_py {
                Some(also_c) => {
                    if variadic {
                        return Err(Error::CDef(format!(
                            "{name}: extern \"Python\" functions cannot be variadic"
                        )));
                    }
                    Decl::ExternPython {
                        ty,
                        also_c,
                        param_text,
                    }
                }
                None => Decl::Function { ty },
            };
            let kind = if self.extern_py.is_some() {
                "extern_python"
            } else {
                "function"
            };
            return declare_lib(self.decls, name, decl, kind, ov);
        }
        if matches!(self.decls.types.get(ty), Type::Void)
            && name.starts_with("__cffi_extern_python_")
        {
            self.extern_py = match name {
                PY_START => Some(false),
                PY_PLUS_C_START => Some(true),
                PY_STOP => None,
                _ => self.extern_py,
            };
            return Ok(());
        }
        let integer = match self.decls.types.get(ty) {
            Type::Prim(p) => p.is_integral(),
            Type::UnknownPrim { float, .. } => !float,
            _ => false,
        };
        if integer {
            if let Some(Initializer::Expression(e)) = init.map(|i| &i.node) {
                let v = self.eval(e)?;
                ensure_constant(self.decls, name, v)?;
                return declare_lib(
                    self.decls,
                    name,
                    Decl::Constant {
                        ty,
                        value: ConstValue::Int(v),
                    },
                    "macro",
                    ov,
                );
            }
        }
        if self.extern_py.is_some() {
            return Err(Error::CDef(
                "cannot declare constants or variables with 'extern \"Python\"'".into(),
            ));
        }
        if matches!(self.decls.types.get(ty), Type::Void) {
            return Err(Error::CDef(format!("{name}: variable of type 'void'")));
        }
        let is_array = matches!(self.decls.types.get(ty), Type::Array { .. });
        if konst && !is_array && storage == Some(&StorageClassSpecifier::Static) {
            return declare_lib(
                self.decls,
                name,
                Decl::Constant {
                    ty,
                    value: ConstValue::Unknown,
                },
                "constant",
                ov,
            );
        }
        let kind = if konst { "constant" } else { "variable" };
        declare_lib(
            self.decls,
            name,
            Decl::Global(GlobalVar {
                ty,
                is_const: konst,
            }),
            kind,
            ov,
        )
    }

    /// The base type of a specifier list, its `const`, and whether it is a `...` placeholder.
    fn specifiers(&mut self, specs: &Specs, force: Option<&str>) -> Result<(TypeId, bool, Base)> {
        self.specifiers_nested(specs, force, false)
    }

    fn specifiers_nested(
        &mut self,
        specs: &Specs,
        force: Option<&str>,
        nested: bool,
    ) -> Result<(TypeId, bool, Base)> {
        if specs.extension {
            return Err(Error::CDef(
                "__attribute__ and other extensions are not supported in cdef()".into(),
            ));
        }
        let mut words: Vec<&str> = Vec::new();
        let mut other: Vec<&TypeSpecifier> = Vec::new();
        for t in &specs.types {
            let w = match t {
                TypeSpecifier::Void => "void",
                TypeSpecifier::Char => "char",
                TypeSpecifier::Short => "short",
                TypeSpecifier::Int => "int",
                TypeSpecifier::Long => "long",
                TypeSpecifier::Float => "float",
                TypeSpecifier::Double => "double",
                TypeSpecifier::Signed => "signed",
                TypeSpecifier::Unsigned => "unsigned",
                TypeSpecifier::Bool => "_Bool",
                TypeSpecifier::Complex => "_Complex",
                _ => {
                    other.push(t);
                    continue;
                }
            };
            words.push(w);
        }
        let konst = specs.konst;
        match (other.as_slice(), words.is_empty()) {
            ([], false) => {
                let ty = resolve_keywords(&words)?;
                Ok((self.decls.types.intern(ty), konst, Base::Normal))
            }
            ([one], true) => match one {
                TypeSpecifier::Struct(st) => {
                    Ok((self.record(st, force, nested)?, konst, Base::Normal))
                }
                TypeSpecifier::Enum(et) => Ok((self.enum_type(et, force)?, konst, Base::Normal)),
                TypeSpecifier::TypedefName(id) => {
                    let name = id.node.name.as_str();
                    let kind = match name {
                        DOTS => Base::Dots,
                        DOTS_INT => Base::DotsInt,
                        DOTS_FLOAT => Base::DotsFloat,
                        _ => Base::Normal,
                    };
                    if kind != Base::Normal {
                        return Ok((self.decls.types.intern(Type::Void), konst, kind));
                    }
                    if let Some(&ty) = self.decls.typedefs.get(name) {
                        let konst = konst || self.decls.const_typedefs.contains(name);
                        return Ok((ty, konst, Base::Normal));
                    }
                    match builtin_typedef(self.decls, name) {
                        Some(ty) => Ok((ty, konst, Base::Normal)),
                        None => Err(Error::CDef(format!("unknown type name '{name}'"))),
                    }
                }
                _ => Err(Error::CDef(
                    "unsupported type specifier (typeof, _Atomic, _FloatN)".into(),
                )),
            },
            ([], true) => Err(Error::CDef("missing type specifier".into())),
            _ => Err(Error::Ffi(format!(
                ":{}: bad or unsupported type declaration",
                self.line_of(self.cur).1
            ))),
        }
    }

    /// Applies a declarator to `base`. `partial_ok` allows `[...]`.
    fn declarator(
        &mut self,
        base: TypeId,
        konst: bool,
        d: &Node<Declarator>,
        partial_ok: bool,
    ) -> Result<Declared> {
        let mut out = Declared {
            name: declarator_name(&d.node),
            ty: base,
            konst,
            unknown_len: false,
        };
        let mut cur = &d.node;
        let mut levels = 0;
        loop {
            self.enter()?;
            levels += 1;
            if !cur.extensions.is_empty() {
                self.depth -= levels;
                return Err(Error::CDef(
                    "__attribute__ and other extensions are not supported in cdef()".into(),
                ));
            }
            let r = self.apply_derived(&mut out, &cur.derived, partial_ok);
            if let Err(e) = r {
                self.depth -= levels;
                return Err(e);
            }
            match &cur.kind.node {
                DeclaratorKind::Abstract => break,
                DeclaratorKind::Identifier(_) => break,
                DeclaratorKind::Declarator(inner) => cur = &inner.node,
            }
        }
        self.depth -= levels;
        Ok(out)
    }

    fn apply_derived(
        &mut self,
        out: &mut Declared,
        derived: &[Node<DerivedDeclarator>],
        partial_ok: bool,
    ) -> Result<()> {
        let split = derived
            .iter()
            .position(|d| !matches!(d.node, DerivedDeclarator::Pointer(_)))
            .unwrap_or(derived.len());
        for d in &derived[..split] {
            if let DerivedDeclarator::Pointer(quals) = &d.node {
                out.ty = self.decls.types.pointer_to(out.ty);
                out.konst = quals.iter().any(|q| {
                    matches!(&q.node, PointerQualifier::TypeQualifier(t) if t.node == TypeQualifier::Const)
                });
                if quals
                    .iter()
                    .any(|q| matches!(q.node, PointerQualifier::Extension(_)))
                {
                    return Err(Error::CDef(
                        "__attribute__ and other extensions are not supported in cdef()".into(),
                    ));
                }
            }
        }
        for d in derived[split..].iter().rev() {
            match &d.node {
                DerivedDeclarator::Pointer(_) => {
                    return Err(Error::CDef(
                        "unexpected pointer after a declarator suffix".into(),
                    ));
                }
                DerivedDeclarator::Array(a) => {
                    let len = match &a.node.size {
                        ArraySize::Unknown => ArrayLen::Open,
                        ArraySize::VariableUnknown => {
                            return Err(Error::CDef(
                                "variable-length array '[*]' is not supported".into(),
                            ))
                        }
                        ArraySize::VariableExpression(e) | ArraySize::StaticExpression(e) => {
                            if is_ident(e, DOTS_ARRAY) {
                                if !partial_ok {
                                    return Err(self.ffi_at(
                                        e.span.start,
                                        "unsupported '[...]' here, cannot derive the actual array length in this context",
                                    ));
                                }
                                out.unknown_len = true;
                                ArrayLen::Unknown
                            } else {
                                let v = self.eval(e)?;
                                let n = u64::try_from(v).map_err(|_| {
                                    Error::CDef(format!("negative array length {v}"))
                                })?;
                                ArrayLen::Fixed(n)
                            }
                        }
                    };
                    if matches!(self.decls.types.get(out.ty), Type::Function(_)) {
                        return Err(Error::CDef("array of functions is not valid C".into()));
                    }
                    out.ty = self.decls.types.intern(Type::Array { item: out.ty, len });
                }
                DerivedDeclarator::Function(f) => {
                    let (params, variadic) = self.params(&f.node, out.name.as_deref())?;
                    out.ty = self.decls.types.intern(Type::Function(FuncType {
                        ret: out.ty,
                        params,
                        variadic,
                    }));
                    out.konst = false;
                }
                DerivedDeclarator::KRFunction(ids) => {
                    if let Some(id) = ids.first() {
                        return Err(Error::CDef(format!(
                            "{} arg 1: unknown type '{}' (if you meant to use the old C syntax of giving untyped arguments, it is not supported)",
                            out.name.as_deref().unwrap_or("in expression"), id.node.name
                        )));
                    }
                    out.ty = self.decls.types.intern(Type::Function(FuncType {
                        ret: out.ty,
                        params: Vec::new(),
                        variadic: false,
                    }));
                    out.konst = false;
                }
                DerivedDeclarator::Block(_) => {
                    return Err(Error::CDef("blocks ('^') are not supported".into()))
                }
            }
        }
        Ok(())
    }

    fn params(
        &mut self,
        f: &FunctionDeclarator,
        fname: Option<&str>,
    ) -> Result<(Vec<TypeId>, bool)> {
        let fname = fname.unwrap_or("in expression");
        let mut variadic = f.ellipsis == Ellipsis::Some;
        let mut out = Vec::new();
        let n = f.parameters.len();
        for (i, p) in f.parameters.iter().enumerate() {
            let p = &p.node;
            if !p.extensions.is_empty() {
                return Err(Error::CDef(
                    "__attribute__ and other extensions are not supported in cdef()".into(),
                ));
            }
            let (base, konst, kind) = self.specifiers(&decl_specs(&p.specifiers), None)?;
            if kind == Base::Dots && p.declarator.is_none() && i + 1 == n {
                if n == 1 {
                    return Err(Error::CDef(format!(
                        "{fname}: a function with only '(...)' as argument is not correct C"
                    )));
                }
                variadic = true;
                continue;
            }
            if kind != Base::Normal {
                return Err(self.ffi_at(self.cur, "bad usage of \"...\""));
            }
            let ty = match &p.declarator {
                Some(d) => self.declarator(base, konst, d, false)?.ty,
                None => base,
            };
            let ty = match self.decls.types.get(ty).clone() {
                Type::Array { item, .. } => self.decls.types.pointer_to(item),
                Type::Function(_) => self.decls.types.pointer_to(ty),
                _ => ty,
            };
            out.push(ty);
        }
        if !variadic && out.len() == 1 && matches!(self.decls.types.get(out[0]), Type::Void) {
            out.clear();
        }
        Ok((out, variadic))
    }
}

/// Specifiers of a declaration, parameter or field, sorted out.
#[derive(Default)]
struct Specs<'n> {
    types: Vec<&'n TypeSpecifier>,
    konst: bool,
    extension: bool,
}

fn decl_specs(specs: &[Node<DeclarationSpecifier>]) -> Specs<'_> {
    let mut out = Specs::default();
    for s in specs {
        match &s.node {
            DeclarationSpecifier::TypeSpecifier(t) => out.types.push(&t.node),
            DeclarationSpecifier::TypeQualifier(q) => out.konst |= q.node == TypeQualifier::Const,
            DeclarationSpecifier::Extension(_) | DeclarationSpecifier::Alignment(_) => {
                out.extension = true
            }
            _ => {}
        }
    }
    out
}

fn field_specs(specs: &[Node<SpecifierQualifier>]) -> Specs<'_> {
    let mut out = Specs::default();
    for s in specs {
        match &s.node {
            SpecifierQualifier::TypeSpecifier(t) => out.types.push(&t.node),
            SpecifierQualifier::TypeQualifier(q) => out.konst |= q.node == TypeQualifier::Const,
            SpecifierQualifier::Extension(_) => out.extension = true,
        }
    }
    out
}

/// Where the identifier a declarator declares sits, if it has one.
fn declarator_ident(mut d: &Declarator) -> Option<lang_c::span::Span> {
    loop {
        match &d.kind.node {
            DeclaratorKind::Abstract => return None,
            DeclaratorKind::Identifier(id) => return Some(id.span),
            DeclaratorKind::Declarator(inner) => d = &inner.node,
        }
    }
}

/// The identifier a declarator declares, if any.
fn declarator_name(mut d: &Declarator) -> Option<String> {
    loop {
        match &d.kind.node {
            DeclaratorKind::Abstract => return None,
            DeclaratorKind::Identifier(id) => return Some(id.node.name.clone()),
            DeclaratorKind::Declarator(inner) => d = &inner.node,
        }
    }
}
