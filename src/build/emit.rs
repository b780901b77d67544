//! The glue C text: wrappers, accessors and the layout table of a [`LayoutPlan`].
//!
//! The glue is one piece of C appended after the user's `set_source()` text, so
//! every name the cdef uses is visible; it adds only `<stddef.h>` (for
//! `offsetof`). Exported symbols go through `_CFFI_EXPORT(name)`, which names
//! the wasm export on wasm32 and gives default visibility elsewhere. Return
//! types are spelled through typedefs so the attribute always sits between the
//! declaration specifiers and the name, where GCC and clang apply it to the
//! function.

use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::model::{Decl, Declarations, Type, TypeTable};

use super::plan::{ArrayTarget, LayoutPlan, Question};

/// The fixed head of every glue: includes, the export macro, helper typedefs.
const PRELUDE: &str = r#"
/************************************************************/
/* wasmcffi glue: generated, do not edit                    */
/************************************************************/
#include <stddef.h>
#ifdef __wasm__
#  define _CFFI_EXPORT(name) __attribute__((export_name(#name))) name
#else
#  define _CFFI_EXPORT(name) __attribute__((visibility("default"))) name
#endif
typedef void *_cffi_voidp;
typedef const unsigned long long *_cffi_tablep;
typedef unsigned long long _cffi_u64;
#define _CFFI_NOT_ASKED ((unsigned long long)-1)
"#;

/// The glue C for `decls` following `plan`.
pub(super) fn emit(decls: &Declarations, plan: &LayoutPlan) -> Result<String> {
    let table = &decls.types;
    let mut c = String::from(PRELUDE);
    for name in &plan.functions {
        function_wrapper(&mut c, table, decls, name)?;
    }
    for name in &plan.globals {
        let _ = writeln!(
            c,
            "_cffi_voidp _CFFI_EXPORT(_cffi_g_{name})(void) {{ return (_cffi_voidp)&({name}); }}"
        );
    }
    for name in &plan.copied_constants {
        let Some(Decl::Constant { ty, .. }) = decls.lib_items.get(name) else {
            return Err(Error::Internal(format!("constant '{name}' vanished")));
        };
        let target = table.c_decl(*ty, "*_o");
        let _ = writeln!(
            c,
            "void _CFFI_EXPORT(_cffi_c_{name})(void *out) {{ {target} = out; *_o = ({name}); }}"
        );
    }
    c.push_str("static const unsigned long long _cffi_layout_table[] = {\n");
    for q in &plan.questions {
        for entry in entries(q) {
            let _ = writeln!(c, "  (unsigned long long)({entry}),");
        }
    }
    // A trailing entry keeps the array non-empty; `_cffi_layout_len` excludes it.
    c.push_str("  0\n};\n");
    let _ = writeln!(
        c,
        "_cffi_tablep _CFFI_EXPORT(_cffi_layout)(void) {{ return _cffi_layout_table; }}\n\
         _cffi_u64 _CFFI_EXPORT(_cffi_layout_len)(void) {{ return {}ULL; }}",
        plan.table_len()
    );
    Ok(c)
}

/// `void _cffi_f_NAME(void **args, void *result)`: calls `NAME` with
/// `*(Ti *)args[i]` and stores a non-void result through `result`.
fn function_wrapper(c: &mut String, table: &TypeTable, decls: &Declarations, name: &str) -> Result<()> {
    let Some(Decl::Function { ty }) = decls.lib_items.get(name) else {
        return Err(Error::Internal(format!("function '{name}' vanished")));
    };
    let Type::Function(f) = table.get(*ty) else {
        return Err(Error::Internal(format!("'{name}' is not a function type")));
    };
    let _ = writeln!(
        c,
        "void _CFFI_EXPORT(_cffi_f_{name})(void **args, void *result) {{"
    );
    let mut call_args = Vec::with_capacity(f.params.len());
    for (i, &p) in f.params.iter().enumerate() {
        let _ = writeln!(c, "  {} = args[{i}];", table.c_decl(p, &format!("*_a{i}")));
        call_args.push(format!("*_a{i}"));
    }
    let call = format!("{name}({})", call_args.join(", "));
    if matches!(table.get(f.ret), Type::Void) {
        let _ = writeln!(c, "  (void)result;\n  {call};");
    } else {
        let _ = writeln!(c, "  {} = result;\n  *_r = {call};", table.c_decl(f.ret, "*_r"));
    }
    if f.params.is_empty() {
        c.push_str("  (void)args;\n");
    }
    c.push_str("}\n");
    Ok(())
}

/// The C expressions answering one question, in table order.
fn entries(q: &Question) -> Vec<String> {
    match q {
        Question::Record { c_type, fields, .. } => {
            let mut out = vec![format!("sizeof({c_type})"), format!("_Alignof({c_type})")];
            for f in fields {
                let member = format!("((({c_type} *)0)->{})", f.name);
                out.push(if f.bitfield {
                    "_CFFI_NOT_ASKED".to_owned()
                } else {
                    format!("offsetof({c_type}, {})", f.name)
                });
                out.push(if f.bitfield || f.open_array {
                    "_CFFI_NOT_ASKED".to_owned()
                } else {
                    format!("sizeof{member}")
                });
            }
            out
        }
        Question::IntConst { name, .. } | Question::Enumerator { name, .. } => {
            vec![format!("({name}) | 0"), format!("({name}) < 0")]
        }
        Question::IntTypedef { name, .. } => {
            vec![format!("sizeof({name})"), format!("(({name})-1 | 0) < 0")]
        }
        Question::FloatTypedef { name, .. } => {
            // `((t)1) / 2 * 2` is 1 for a floating type and 0 for an integer one.
            vec![format!("sizeof({name})"), format!("(({name})1) / 2 * 2")]
        }
        Question::ArrayLens { target, levels, skip_outer } => {
            let base = match target {
                ArrayTarget::Global(name) => format!("({name})"),
                ArrayTarget::Typedef(name) => format!("(*({name} *)0)"),
                ArrayTarget::Field { c_type, name, .. } => format!("((({c_type} *)0)->{name})"),
            };
            let first = usize::from(*skip_outer);
            (first..=*levels)
                .map(|depth| format!("sizeof({base}{})", "[0]".repeat(depth)))
                .collect()
        }
    }
}
