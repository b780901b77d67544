//! Text CFFI puts in messages and reprs: Python-style `repr()` of bytes and
//! str, `<cdata 'T' value>` for primitives, `%LE` for `long double`, and the
//! C name of a pointer to a type.

#![forbid(unsafe_code)]
#![warn(clippy::cast_possible_truncation)]

use std::fmt::Write as _;

use crate::error::Result;
use crate::layout::{CKind, CType, PrimClass};

use super::prim::{prim_layout, read_int, read_prim_value};
use super::{Addr, Memory, Value};

/// Python's `repr(bytes)`: `b'A'`, `b'\xc8'`, `b"it's"`.
pub fn py_bytes_repr(data: &[u8]) -> String {
    let quote = if data.contains(&b'\'') && !data.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = format!("b{quote}");
    for &b in data {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ if char::from(b) == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push(quote);
    out
}

/// Python's `repr(str)` for a string of code points (lone surrogates escaped).
pub fn py_str_repr(code_points: &[u32]) -> String {
    let has = |c: char| code_points.contains(&u32::from(c));
    let quote = if has('\'') && !has('"') { '"' } else { '\'' };
    let mut out = String::from(quote);
    for &cp in code_points {
        match char::from_u32(cp) {
            Some('\\') => out.push_str("\\\\"),
            Some('\n') => out.push_str("\\n"),
            Some('\r') => out.push_str("\\r"),
            Some('\t') => out.push_str("\\t"),
            Some(c) if c == quote => {
                out.push('\\');
                out.push(c);
            }
            Some(c)
                if (' '..='~').contains(&c) || (cp >= 0xa1 && cp != 0xad && !c.is_control()) =>
            {
                out.push(c)
            }
            _ if cp < 0x100 => {
                let _ = write!(out, "\\x{cp:02x}");
            }
            _ if cp < 0x10000 => {
                let _ = write!(out, "\\u{cp:04x}");
            }
            _ => {
                let _ = write!(out, "\\U{cp:08x}");
            }
        }
    }
    out.push(quote);
    out
}

/// C's `printf("%LE", x)`, which CFFI uses in `long double` reprs: `1.500000E+00`.
pub fn format_long_double(x: f64) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() { "-NAN" } else { "NAN" }.into();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-INF" } else { "INF" }.into();
    }
    let s = format!("{x:.6E}");
    match s.split_once('E') {
        Some((mant, exp)) => {
            let (sign, digits) = exp.strip_prefix('-').map_or(('+', exp), |d| ('-', d));
            format!("{mant}E{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// The C name of a pointer to `item`, spelled as CFFI does: `int *`,
/// `int * *`, `int(*)[3]`, `int(* *)(int)`.
pub fn pointer_cname(item: &CType) -> String {
    let name = item.cname();
    let pos = name.find(['[', ')']).unwrap_or(name.len());
    let extra = if matches!(item.kind(), CKind::Array { .. }) {
        "(*)"
    } else {
        " *"
    };
    format!("{}{extra}{}", &name[..pos], &name[pos..])
}

/// The repr CFFI gives a primitive or enum cdata: `<cdata 'int' 2>`,
/// `<cdata 'char' b'A'>`, `<cdata 'enum e' 5: B>`, `<cdata 'long double' 1.500000E+00>`.
///
/// # Errors
/// Memory errors, and `Error::Type` for non-primitive types.
pub fn cdata_repr(mem: &dyn Memory, ty: &CType, addr: Addr) -> Result<String> {
    let value = match ty.kind() {
        CKind::Enum(e) => {
            let v = read_int(mem, addr, e.repr)?;
            match e.values.iter().find(|(_, x)| *x == v) {
                Some((name, _)) => format!("{v}: {name}"),
                None => v.to_string(),
            }
        }
        _ => match prim_layout(ty) {
            Some(l) if l.class == PrimClass::LongDouble => {
                let mut bytes = [0u8; 16];
                mem.read(addr, &mut bytes)?;
                super::prim::long_double_repr(&bytes, mem.target())
            }
            _ => value_repr(&read_prim_value(mem, addr, ty)?),
        },
    };
    Ok(format!("<cdata '{}' {value}>", ty.cname()))
}

/// Python's `repr()` of a converted primitive value.
pub(crate) fn value_repr(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Bytes(b) => py_bytes_repr(b),
        Value::Str(s) => py_str_repr(s),
        Value::Float(f) => py_float_repr(*f),
        Value::Complex(re, im) => {
            if *re == 0.0 && re.is_sign_positive() {
                format!("{}j", py_float_repr_short(*im))
            } else {
                let sign = if *im < 0.0 || (*im == 0.0 && im.is_sign_negative()) {
                    "-"
                } else {
                    "+"
                };
                format!(
                    "({}{sign}{}j)",
                    py_float_repr_short(*re),
                    py_float_repr_short(im.abs())
                )
            }
        }
        other => other.type_name().to_string(),
    }
}

/// Python's `repr(float)` (shortest round-trip digits).
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf" } else { "inf" }.into();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = exp.strip_prefix('-').map_or(('+', exp), |d| ('-', d));
        return format!("{mant}e{sign}{digits:0>2}");
    }
    let s = format!("{f}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// Inside a complex repr Python drops a trailing `.0`: `(1+2j)`.
fn py_float_repr_short(f: f64) -> String {
    let s = py_float_repr(f);
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}
