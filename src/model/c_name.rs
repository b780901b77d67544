//! C spellings of model types, in CFFI's style (`int * *`, `int(*)[3]`, `int(*)(int, ...)`).

use std::collections::HashMap;

use super::{ArrayLen, Type, TypeId, TypeTable};

/// Names that stand for whole types in generated source: typedefs of types C
/// cannot spell otherwise (a pointer to an anonymous or opaque struct).
pub type Aliases = HashMap<TypeId, String>;

/// How a type is spelled for one purpose.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    /// As CFFI prints it in reprs and `cname`.
    Cffi,
    /// As C source spells it (for generated glue).
    Source,
}

/// The CFFI display name of `id`.
pub(super) fn c_name(table: &TypeTable, id: TypeId) -> String {
    spell(table, id, String::new(), Style::Cffi, &Aliases::new())
}

/// The CFFI display name of `id` with `&` at the declarator's place.
pub(super) fn c_name_marked(table: &TypeTable, id: TypeId) -> String {
    spell(table, id, "&".to_owned(), Style::Cffi, &Aliases::new())
}

/// A C declaration of `name` with type `id`, for generated source.
pub(super) fn c_decl(table: &TypeTable, id: TypeId, name: &str, aliases: &Aliases) -> String {
    spell(table, id, name.to_owned(), Style::Source, aliases)
}

/// Wraps a declarator in parentheses when a suffix (`[N]`, `(args)`) must bind after a `*`.
fn parenthesize(inner: String) -> String {
    if inner.starts_with('*') {
        format!("({inner})")
    } else {
        inner
    }
}

fn spell(table: &TypeTable, id: TypeId, inner: String, style: Style, aliases: &Aliases) -> String {
    if let Some(alias) = aliases.get(&id) {
        return with_declarator(alias.clone(), inner, style);
    }
    match table.get(id) {
        Type::Pointer(pointee) => {
            let inner = if inner.starts_with('*') {
                format!("* {inner}")
            } else {
                format!("*{inner}")
            };
            spell(table, *pointee, inner, style, aliases)
        }
        Type::Array { item, len } => {
            let len = match len {
                ArrayLen::Fixed(n) => n.to_string(),
                ArrayLen::Open => String::new(),
                ArrayLen::Unknown => "...".to_owned(),
            };
            spell(
                table,
                *item,
                format!("{}[{len}]", parenthesize(inner)),
                style,
                aliases,
            )
        }
        Type::Function(func) => {
            let mut params: Vec<String> = func
                .params
                .iter()
                .map(|&p| spell(table, p, String::new(), style, aliases))
                .collect();
            if func.variadic {
                params.push("...".to_owned());
            }
            if params.is_empty() && style == Style::Source {
                params.push("void".to_owned());
            }
            let declarator = if inner.is_empty() {
                inner
            } else {
                format!("({inner})")
            };
            spell(
                table,
                func.ret,
                format!("{declarator}({})", params.join(", ")),
                style,
                aliases,
            )
        }
        base => with_declarator(base_name(table, base, style), inner, style),
    }
}

/// A base type name followed by a declarator (`int`, `* *p` → `int * *p`).
fn with_declarator(base: String, inner: String, style: Style) -> String {
    if inner.is_empty() {
        base
    } else if inner.starts_with('*') || style == Style::Source && !inner.starts_with('[') {
        format!("{base} {inner}")
    } else {
        format!("{base}{inner}")
    }
}

/// The name of a type that has no declarator part.
fn base_name(table: &TypeTable, ty: &Type, style: Style) -> String {
    match ty {
        Type::Void => "void".to_owned(),
        Type::Prim(p) => match style {
            Style::Cffi => p.name().to_owned(),
            Style::Source => p.c_spelling().to_owned(),
        },
        Type::Record(rid) => {
            let rec = table.record(*rid);
            let keyword = match rec.kind {
                super::RecordKind::Struct => "struct",
                super::RecordKind::Union => "union",
            };
            match &rec.typedef_name {
                Some(name) => name.clone(),
                None => tagged_name(keyword, &rec.name),
            }
        }
        Type::Enum(eid) => tagged_name("enum", &table.enum_def(*eid).name),
        Type::UnknownPrim { name, .. } => name.clone(),
        Type::Pointer(_) | Type::Array { .. } | Type::Function(_) => {
            unreachable!("declarator types are spelled by spell()")
        }
    }
}

/// `struct foo`, or `foo_t` for a record named after its typedef (`$foo_t`),
/// or `struct $1` for a fully anonymous one, as CFFI prints them.
fn tagged_name(keyword: &str, name: &str) -> String {
    match name.strip_prefix('$') {
        Some(typedef) if !typedef.starts_with(|c: char| c.is_ascii_digit()) => typedef.to_owned(),
        _ => format!("{keyword} {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;

    #[test]
    fn c_name_matches_cffi_spelling() {
        let mut t = TypeTable::new();
        let int = t.prim(Prim::Int);
        let p = t.pointer_to(int);
        let pp = t.pointer_to(p);
        assert_eq!(t.c_name(pp), "int * *");
        let arr3 = t.intern(Type::Array {
            item: int,
            len: ArrayLen::Fixed(3),
        });
        let parr = t.pointer_to(arr3);
        assert_eq!(t.c_name(parr), "int(*)[3]");
        let ptr_arr = t.intern(Type::Array {
            item: p,
            len: ArrayLen::Fixed(3),
        });
        assert_eq!(t.c_name(ptr_arr), "int *[3]");
        let arr34 = t.intern(Type::Array {
            item: arr3,
            len: ArrayLen::Open,
        });
        assert_eq!(t.c_name(arr34), "int[][3]");
        let f = t.intern(Type::Function(FuncType {
            ret: int,
            params: vec![int],
            variadic: true,
        }));
        let fp = t.pointer_to(f);
        assert_eq!(t.c_name(fp), "int(*)(int, ...)");
        let fpp = t.pointer_to(fp);
        assert_eq!(t.c_name(fpp), "int(* *)(int, ...)");
        let fp_arr = t.intern(Type::Array {
            item: fp,
            len: ArrayLen::Fixed(3),
        });
        assert_eq!(t.c_name(fp_arr), "int(*[3])(int, ...)");
        let g = t.intern(Type::Function(FuncType {
            ret: parr,
            params: vec![int],
            variadic: false,
        }));
        let gp = t.pointer_to(g);
        assert_eq!(t.c_name(gp), "int(*(*)(int))[3]");
        assert_eq!(t.c_decl(fp, "cb"), "int (*cb)(int, ...)");
        assert_eq!(t.c_decl(p, "x"), "int *x");
        assert_eq!(t.c_name_marked(p), "int *&");
        assert_eq!(t.c_name_marked(arr3), "int&[3]");
        assert_eq!(t.c_name_marked(fp), "int(*&)(int, ...)");
    }

    #[test]
    fn c_name_of_records() {
        let mut t = TypeTable::new();
        let rec = |name: &str| Record {
            kind: RecordKind::Struct,
            name: name.to_owned(),
            fields: None,
            partial: false,
            opaque: false,
            packing: Packing::default(),
            typedef_name: None,
        };
        let s = t.add_record(rec("foo"));
        let td = t.add_record(rec("$foo_t"));
        let anon = t.add_record(rec("$2"));
        assert_eq!(t.c_name(s), "struct foo");
        assert_eq!(t.c_name(td), "foo_t");
        assert_eq!(t.c_name(anon), "struct $2");
    }
}
