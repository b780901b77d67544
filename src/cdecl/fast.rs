//! The cheap path of `parse_type`: `int`, `unsigned long *`, `struct foo *`,
//! `foo_t[3]`, `const char *` are resolved from the tables without running lang-c.
//! Anything else (`int(*)(int)`, unknown names, odd spellings) goes the slow way.

use super::prims::{builtin_typedef, resolve_keywords, PRIM_KEYWORDS};
use crate::model::{ArrayLen, Declarations, Type, TypeId};

fn tokens(text: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        let Some(c) = rest.chars().next() else {
            return Some(out);
        };
        let len = if c.is_ascii_alphanumeric() || c == '_' {
            rest.find(|d: char| !(d.is_ascii_alphanumeric() || d == '_'))
                .unwrap_or(rest.len())
        } else if matches!(c, '*' | '[' | ']') {
            1
        } else {
            return None;
        };
        out.push(&rest[..len]);
        rest = &rest[len..];
    }
}

/// The type `text` spells, if it is one of the simple forms; `None` means "ask lang-c".
pub fn parse_type(decls: &mut Declarations, text: &str) -> Option<TypeId> {
    let toks = tokens(text)?;
    let is_qual = |t: &str| matches!(t, "const" | "volatile" | "restrict");
    let mut i = 0;
    let mut words: Vec<&str> = Vec::new();
    let mut named: Option<TypeId> = None;
    while i < toks.len() {
        let t = toks[i];
        if is_qual(t) {
            i += 1;
        } else if PRIM_KEYWORDS.contains(&t) && named.is_none() {
            words.push(t);
            i += 1;
        } else if matches!(t, "struct" | "union" | "enum") && named.is_none() && words.is_empty() {
            let tag = *toks.get(i + 1)?;
            if !tag.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                return None;
            }
            let map = match t {
                "struct" => &decls.struct_tags,
                "union" => &decls.union_tags,
                _ => &decls.enum_tags,
            };
            named = Some(*map.get(tag)?);
            i += 2;
        } else if t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && named.is_none()
            && words.is_empty()
            && !t.starts_with("__dotdotdot")
        {
            named = Some(match decls.typedefs.get(t) {
                Some(&ty) => ty,
                None => builtin_typedef(decls, t)?,
            });
            i += 1;
        } else {
            break;
        }
    }
    let mut ty = match named {
        Some(ty) => ty,
        None => {
            let t = resolve_keywords(&words).ok()?;
            decls.types.intern(t)
        }
    };
    while i < toks.len() && (toks[i] == "*" || is_qual(toks[i])) {
        if toks[i] == "*" {
            ty = decls.types.pointer_to(ty);
        }
        i += 1;
    }
    let mut lens = Vec::new();
    while i < toks.len() {
        if toks[i] != "[" {
            return None;
        }
        match toks.get(i + 1..i + 3)? {
            ["]", ..] => {
                lens.push(ArrayLen::Open);
                i += 2;
            }
            [n, "]"]
                if n.bytes().all(|b| b.is_ascii_digit())
                    && (n.len() == 1 || !n.starts_with('0')) =>
            {
                lens.push(ArrayLen::Fixed(n.parse().ok()?));
                i += 3;
            }
            _ => return None,
        }
    }
    if !lens.is_empty() && matches!(decls.types.get(ty), Type::Void | Type::Function(_)) {
        return None;
    }
    for len in lens.into_iter().rev() {
        ty = decls.types.intern(Type::Array { item: ty, len });
    }
    Some(ty)
}
