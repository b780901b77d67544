//! Primitive type spellings: C keyword combinations (`unsigned long int`, `long double`,
//! `float _Complex`) and the builtin typedef names (`size_t`, `bool`, `FILE`, …).

use crate::error::{Error, Result};
use crate::model::{Declarations, Packing, Prim, Record, RecordKind, Type, TypeId};

/// The C keywords that spell primitive types.
pub const PRIM_KEYWORDS: [&str; 11] = [
    "void", "char", "short", "int", "long", "float", "double", "signed", "unsigned", "_Bool",
    "_Complex",
];

/// Resolves a list of primitive keywords (in source order) to a type.
///
/// # Errors
/// `Error::Ffi` with CFFI's "Unsupported type" message for impossible combinations.
pub fn resolve_keywords(words: &[&str]) -> Result<Type> {
    let count = |w: &str| words.iter().filter(|&&x| x == w).count();
    let (void, char_, short, int, long) = (
        count("void"),
        count("char"),
        count("short"),
        count("int"),
        count("long"),
    );
    let (float, double, signed, unsigned) = (
        count("float"),
        count("double"),
        count("signed"),
        count("unsigned"),
    );
    let (bool_, complex) = (count("_Bool"), count("_Complex"));
    let unsupported = || {
        Error::Ffi(format!(
            "Unsupported type: '{}'.  Please look at http://cffi.readthedocs.io/en/latest/cdef.html#ffi-cdef-limitations and file an issue if you think this type should really be supported.",
            words.join(" ")
        ))
    };
    if words.is_empty()
        || signed + unsigned > 1
        || int > 1
        || short > 1
        || long > 2
        || (short > 0 && long > 0)
    {
        return Err(unsupported());
    }
    let others = void + char_ + float + double + bool_;
    let sign = signed + unsigned > 0;
    let prim = if others == 0 {
        if complex > 0 {
            return Err(unsupported());
        }
        match (unsigned > 0, short, long) {
            (false, 1, _) => Prim::Short,
            (true, 1, _) => Prim::UShort,
            (false, 0, 0) => Prim::Int,
            (true, 0, 0) => Prim::UInt,
            (false, 0, 1) => Prim::Long,
            (true, 0, 1) => Prim::ULong,
            (false, _, _) => Prim::LongLong,
            (true, _, _) => Prim::ULongLong,
        }
    } else if others > 1 || int + short > 0 && char_ + float + double + bool_ + void > 0 {
        return Err(unsupported());
    } else if void == 1 {
        if sign || long + complex > 0 {
            return Err(unsupported());
        }
        return Ok(Type::Void);
    } else if char_ == 1 {
        if long + complex > 0 {
            return Err(unsupported());
        }
        match (signed, unsigned) {
            (1, _) => Prim::SChar,
            (_, 1) => Prim::UChar,
            _ => Prim::Char,
        }
    } else if bool_ == 1 {
        if sign || long + complex > 0 {
            return Err(unsupported());
        }
        Prim::Bool
    } else if sign {
        return Err(unsupported());
    } else if float == 1 {
        match (long, complex) {
            (0, 0) => Prim::Float,
            (0, 1) => Prim::FloatComplex,
            _ => return Err(unsupported()),
        }
    } else {
        match (long, complex) {
            (0, 0) => Prim::Double,
            (1, 0) => Prim::LongDouble,
            (0, 1) => Prim::DoubleComplex,
            _ => return Err(unsupported()),
        }
    };
    Ok(Type::Prim(prim))
}

/// The model's name of the opaque record behind the builtin `FILE`.
pub const FILE_RECORD: &str = "$FILE";

/// True if `name` is a type name CFFI knows without a declaration.
pub fn is_builtin_typedef(name: &str) -> bool {
    name == "FILE" || Prim::from_typedef_name(name).is_some()
}

/// The type of a builtin typedef name, creating the opaque `FILE` record on first use.
pub fn builtin_typedef(decls: &mut Declarations, name: &str) -> Option<TypeId> {
    if name == "FILE" {
        let existing = decls
            .types
            .records()
            .find(|(_, r)| r.name == FILE_RECORD && r.opaque)
            .map(|(rid, _)| rid);
        return Some(match existing {
            Some(rid) => decls.types.intern(Type::Record(rid)),
            None => decls.types.add_record(Record {
                kind: RecordKind::Struct,
                name: FILE_RECORD.to_owned(),
                fields: None,
                partial: false,
                opaque: true,
                packing: Packing::default(),
                typedef_name: None,
            }),
        });
    }
    Prim::from_typedef_name(name).map(|p| decls.types.prim(p))
}

/// The value of a character constant such as `'a'` or `'\n'`.
pub fn char_value(s: &str) -> Option<i128> {
    let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut chars = inner.chars();
    let c = chars.next()?;
    let v = if c == '\\' {
        let rest: String = chars.collect();
        match rest.as_str() {
            "n" => 10,
            "t" => 9,
            "r" => 13,
            "0" => 0,
            "a" => 7,
            "b" => 8,
            "f" => 12,
            "v" => 11,
            "\\" => 92,
            "'" => 39,
            "\"" => 34,
            _ if rest.starts_with('x') => i128::from_str_radix(&rest[1..], 16).ok()?,
            _ => i128::from_str_radix(&rest, 8).ok()?,
        }
    } else {
        if chars.next().is_some() {
            return None;
        }
        i128::from(u32::from(c))
    };
    Some(v)
}

/// An integer literal as `#define` accepts it (cffi's `_r_int_literal`): optional `-`,
/// decimal, octal or hex digits, `u`/`l` suffixes.
pub fn parse_int_literal(s: &str) -> Option<i128> {
    let lower = s.to_ascii_lowercase();
    let t = lower.trim_end_matches(['u', 'l']);
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let v = if let Some(h) = t.strip_prefix("0x") {
        i128::from_str_radix(h, 16).ok()?
    } else if t.len() > 1 && t.starts_with('0') {
        i128::from_str_radix(&t[1..], 8).ok()?
    } else {
        if !t.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse::<i128>().ok()?
    };
    if neg {
        v.checked_neg()
    } else {
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(words: &str) -> String {
        let w: Vec<&str> = words.split_whitespace().collect();
        match resolve_keywords(&w) {
            Ok(Type::Prim(p)) => p.name().to_owned(),
            Ok(Type::Void) => "void".to_owned(),
            Ok(other) => format!("{other:?}"),
            Err(e) => format!("ERR {e}"),
        }
    }

    #[test]
    fn spellings() {
        assert_eq!(name("unsigned long int"), "unsigned long");
        assert_eq!(name("long unsigned"), "unsigned long");
        assert_eq!(name("long long"), "long long");
        assert_eq!(name("unsigned long long int"), "unsigned long long");
        assert_eq!(name("signed"), "int");
        assert_eq!(name("unsigned"), "unsigned int");
        assert_eq!(name("short int"), "short");
        assert_eq!(name("signed char"), "signed char");
        assert_eq!(name("long double"), "long double");
        assert_eq!(name("float _Complex"), "_cffi_float_complex_t");
        assert_eq!(name("double _Complex"), "_cffi_double_complex_t");
        assert_eq!(name("_Bool"), "_Bool");
        assert_eq!(name("void"), "void");
        assert!(name("int int").starts_with("ERR Unsupported type: 'int int'"));
        assert!(name("long double _Complex").starts_with("ERR"));
        assert!(name("unsigned double").starts_with("ERR"));
        assert!(name("short long").starts_with("ERR"));
    }
}
