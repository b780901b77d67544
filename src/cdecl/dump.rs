//! A readable, stable text form of [`Declarations`], for snapshot tests and debugging.

use std::fmt::Write;

use crate::model::{ConstValue, Decl, Declarations, RecordKind};

/// Every typedef, struct/union/enum and `lib` item of `decls`, one per line, sorted.
pub fn dump(decls: &Declarations) -> String {
    let t = &decls.types;
    let mut out = String::new();
    for (name, &ty) in &decls.typedefs {
        let _ = writeln!(out, "typedef {name} = {}", t.c_name(ty));
    }
    let mut records: Vec<_> = t.records().collect();
    records.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    for (_, r) in records {
        let ty = if r.kind == RecordKind::Struct {
            "struct"
        } else {
            "union"
        };
        let mut flags = String::new();
        if r.partial {
            flags.push_str(" partial");
        }
        if r.opaque {
            flags.push_str(" opaque");
        }
        if let Some(a) = r.packing.max_align {
            let _ = write!(flags, " pack={a}");
        }
        match &r.fields {
            None => {
                let _ = writeln!(out, "{ty} {}{flags} incomplete", r.name);
            }
            Some(fields) => {
                let fs: Vec<String> = fields
                    .iter()
                    .map(|f| {
                        let bits = f.bits.map(|b| format!(":{b}")).unwrap_or_default();
                        format!("{} {}{bits}", t.c_name(f.ty), f.name)
                    })
                    .collect();
                let _ = writeln!(out, "{ty} {}{flags} {{ {} }}", r.name, fs.join("; "));
            }
        }
    }
    for (_, e) in t.enums() {
        let vals: Vec<String> = e
            .values
            .iter()
            .map(|(n, v)| match v {
                Some(v) => format!("{n}={v}"),
                None => format!("{n}=?"),
            })
            .collect();
        let partial = if e.partial { " partial" } else { "" };
        let _ = writeln!(out, "enum {}{partial} {{ {} }}", e.name, vals.join(", "));
    }
    for (name, d) in &decls.lib_items {
        let line = match d {
            Decl::Typedef(ty) => format!("typedef-item {name}: {}", t.c_name(*ty)),
            Decl::Function { ty } => format!("function {name}: {}", t.c_name(*ty)),
            Decl::ExternPython { ty, also_c, .. } => {
                format!(
                    "extern-python{} {name}: {}",
                    if *also_c { "+c" } else { "" },
                    t.c_name(*ty)
                )
            }
            Decl::Global(g) => {
                format!(
                    "global{} {name}: {}",
                    if g.is_const { " const" } else { "" },
                    t.c_name(g.ty)
                )
            }
            Decl::Constant { ty, value } => match value {
                ConstValue::Int(v) => format!("constant {name}: {} = {v}", t.c_name(*ty)),
                ConstValue::Unknown => format!("constant {name}: {} = ...", t.c_name(*ty)),
                ConstValue::Disagrees { compiler, cdef } => format!(
                    "constant {name}: {} = {cdef} (the compiler says {compiler})",
                    t.c_name(*ty)
                ),
            },
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}
