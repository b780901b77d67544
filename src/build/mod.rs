//! Building a `set_source()` module: the C glue emitted next to the user's
//! source, and completing the declarations with what the compiler measured.
//!
//! As CFFI's recompiler does, the build makes the C compiler the authority on
//! everything the cdef leaves open (`...`) and checks what it states exactly.
//! The flow:
//!
//! 1. [`generate`] turns the whole cdef of a module into a [`Glue`]: one C
//!    translation unit appended after the user's `set_source()` text (so the
//!    user's includes, typedefs and macros are visible to it) and compiled with
//!    it and its `sources=`, for wasm32-wasi or natively — the same text builds
//!    for both.
//! 2. At import, [`plan`] rebuilds the same [`LayoutPlan`] from the declarations
//!    (nothing else is stored), the loader reads the layout table from the
//!    module (`_cffi_layout()` / `_cffi_layout_len()`), and [`complete`] applies
//!    it to the declarations and the resolver.
//!
//! # Glue conventions
//!
//! Every exported symbol is declared `_CFFI_EXPORT(name)`: `export_name` on
//! wasm32, default visibility natively.
//!
//! - `void _cffi_f_NAME(void **args, void *result)` for each non-variadic cdef
//!   function: `args[i]` points at argument `i` (a value of the declared
//!   parameter type, structs by value included), and the result (if not `void`)
//!   is stored at `result`, which must have room and alignment for it. One
//!   convention for every signature, on both targets.
//! - For each variadic function ([`LayoutPlan::variadic`]): on wasm32 the same
//!   `_cffi_f_NAME`, with one more argument after the `N` fixed ones: `args[N]`
//!   points at the `void *` the wasm C ABI passes for the variadic part (a
//!   buffer of the promoted values);
//!   natively `void *_cffi_v_NAME(void)`, the function's address, called through
//!   libffi.
//! - `RET _cffi_d_NAME(T0, …)` for each non-variadic function whose parameters
//!   and result are scalars (no struct, union or array by value): `NAME` with
//!   its own signature, a direct entry the host calls with plain wasm values (or
//!   through libffi natively), skipping the memory traffic of `_cffi_f_NAME`.
//! - `extern "Python"` functions and `void *_cffi_fp_NAME(void)` (a function's
//!   address): see `callbacks`.
//! - `void *_cffi_g_NAME(void)` for each global: `&NAME`.
//! - `void _cffi_c_NAME(void *out)` for each non-integer `static const T NAME;`
//!   and each `const` scalar global (read as a constant, as CFFI does):
//!   stores the value at `out`.
//! - `const unsigned long long *_cffi_layout(void)` and
//!   `unsigned long long _cffi_layout_len(void)`: the layout table.
//!
//! # The layout table
//!
//! An array of `unsigned long long`, the answers to [`LayoutPlan::questions`]
//! in order, each [`Question`] taking [`Question::entries`] entries:
//!
//! | question | entries |
//! |---|---|
//! | struct/union `P` (named, not opaque) | `sizeof(P)`, `_Alignof(P)`, then per field (anonymous members lifted, unnamed bitfields left out) `offsetof(P, f)`, `sizeof(((P *)0)->f)`; [`SENTINEL`] for a bitfield's two entries and for the size of `T f[]` |
//! | integer constant / enumerator `X` | `(unsigned long long)X`, `X < 0` |
//! | `typedef int... t` | `sizeof(t)`, `((t)-1) < 0` |
//! | `typedef float... t` | `sizeof(t)`, `((t)1) / 2 * 2` (1 for a floating type) |
//! | `[...]` array object `E` with `n` levels | `sizeof(E)`, `sizeof(E[0])`, … `sizeof(E[0]…[0])` (`n + 1` entries; `n` when the outer level is `[]`) |
//!
//! Records come first (each preceded by the `[...]` questions of its fields),
//! then `lib` items by name (integer constants, `[...]` globals), then enums,
//! then typedefs by name.

#![forbid(unsafe_code)]

mod callbacks;
mod complete;
mod glue_block;
mod plan;

pub use glue_block::GlueBlock;
pub use plan::{record_c_name, ArrayTarget, LayoutPlan, Question, RecordField, SENTINEL};

use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::layout::TypeResolver;
use crate::model::{Aliases, Decl, Declarations, Type, TypeId, TypeTable};

/// C emitted next to the user's source, and the list of questions it asks the compiler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glue {
    /// The glue translation unit, to append after the `set_source()` text.
    pub c_source: String,
    pub plan: LayoutPlan,
}

/// Generates the glue for `decls` (the whole cdef of the module).
///
/// # Errors
/// `Error::Internal` if the declarations are inconsistent.
pub fn generate(decls: &Declarations) -> Result<Glue> {
    let plan = plan::plan(decls)?;
    let c_source = emit(decls, &plan)?;
    Ok(Glue { c_source, plan })
}

/// The questions alone (same order as in the generated table), rebuilt from the
/// declarations at import time. Call it on the declarations as they were when
/// [`generate`] ran, before [`complete`] changes them.
///
/// # Errors
/// As [`generate`].
pub fn plan(decls: &Declarations) -> Result<LayoutPlan> {
    plan::plan(decls)
}

/// Applies the compiler's answers (`table`, as read from `_cffi_layout()`) to
/// `decls` and `resolver`:
///
/// - partial (`...;`) structs and unions get the measured field offsets, total
///   size and alignment ([`TypeResolver::set_measured_layout`]);
/// - enumerators of `...` enums and `#define X ...` / integer `static const`
///   constants get their values; a known `#define X 42` is checked;
/// - `typedef int... t` becomes `int8_t` … `uint64_t` by size and signedness,
///   `typedef float... t` becomes `float` or `double`, everywhere `t` is used;
/// - `[...]` lengths of globals, struct fields and typedefs become fixed;
/// - every exact struct or union is laid out and compared with the compiler.
///
/// # Errors
/// `Error::Verification` for an exact record the compiler disagrees with, worded
/// as CFFI's (`struct foo: wrong offset for field 'b' (cdef says 4, but C
/// compiler says 8). fix it or use "...;" as the last field in the cdef for
/// struct foo to make it flexible`), for a constant whose cdef value is wrong, for
/// `float...` naming an integer type and for a table that does not fit the plan;
/// `Error::NotImplemented` for a bitfield in a partial record or `float...` that
/// is `long double`.
pub fn complete(
    decls: &mut Declarations,
    resolver: &mut TypeResolver,
    plan: &LayoutPlan,
    table: &[u64],
) -> Result<()> {
    complete::complete(decls, resolver, plan, table)
}

// The glue text. Return types are spelled through typedefs so that the export
// attribute always sits between the declaration specifiers and the name, where
// GCC and clang apply it to the function.

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

/// Around the field-type checks: C only, and no warnings about qualifiers,
/// which the model does not keep (so a function-pointer field whose
/// parameters are `const T *` is spelled with `T *` parameters: clang calls
/// those function pointer types incompatible).
const CHECKS_BEGIN: &str = r#"#ifndef __cplusplus
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wincompatible-pointer-types-discards-qualifiers"
#pragma clang diagnostic ignored "-Wincompatible-function-pointer-types"
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"
#endif
"#;
const CHECKS_END: &str = r#"#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#endif
"#;

/// The glue C for `decls` following `plan`.
fn emit(decls: &Declarations, plan: &LayoutPlan) -> Result<String> {
    let table = &decls.types;
    let aliases = source_aliases(decls);
    let mut c = String::from(PRELUDE);
    for name in &plan.functions {
        function_wrapper(&mut c, table, &aliases, decls, name)?;
        direct_wrapper(&mut c, table, &aliases, decls, name)?;
    }
    for name in &plan.variadic {
        variadic_wrapper(&mut c, table, &aliases, decls, name)?;
    }
    callbacks::emit(&mut c, decls, plan)?;
    for name in &plan.globals {
        let _ = writeln!(
            c,
            "_cffi_voidp _CFFI_EXPORT(_cffi_g_{name})(void) {{ return (_cffi_voidp)&({name}); }}"
        );
    }
    for name in &plan.copied_constants {
        let ty = match decls.lib_items.get(name) {
            Some(Decl::Constant { ty, .. }) => ty,
            Some(Decl::Global(g)) => &g.ty,
            _ => return Err(Error::Internal(format!("constant '{name}' vanished"))),
        };
        let target = typed_pointer(table, &aliases, *ty, "_o", "out");
        let _ = writeln!(
            c,
            "void _CFFI_EXPORT(_cffi_c_{name})(void *out) {{ {target}; *_o = ({name}); }}"
        );
    }
    c.push_str(CHECKS_BEGIN);
    for (i, q) in plan.questions.iter().enumerate() {
        if let Question::Record { c_type, fields, .. } = q {
            field_type_checks(&mut c, table, &aliases, i, c_type, fields);
        }
    }
    c.push_str(CHECKS_END);
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

/// A function the compiler checks and never runs, as CFFI's generated C has:
/// each field of the cdef's record has the cdef's type in C. An integer field
/// (or bitfield; not a character one) must be an integer; a pointer field takes the value of a
/// pointer of the cdef's type, any other field gives its address to a pointer
/// to the cdef's type; arrays are checked by their item (their lengths are in
/// the layout table). A mismatch is a warning (an error under `-Werror`). The
/// model keeps no qualifiers, so warnings about dropped qualifiers are
/// silenced; types C cannot name (anonymous) are not checked, nor C++ sources.
fn field_type_checks(
    c: &mut String,
    table: &TypeTable,
    aliases: &Aliases,
    index: usize,
    c_type: &str,
    fields: &[plan::RecordField],
) {
    let _ = writeln!(
        c,
        "__attribute__((unused)) static void _cffi_checkfld_{index}({c_type} *p) {{\n  (void)p;"
    );
    for f in fields {
        let Some(field) = table
            .record(f.owner)
            .fields
            .as_ref()
            .and_then(|v| v.get(f.index))
        else {
            continue;
        };
        // As CFFI: any integer will do for an integer field, but not for a
        // character one (`char`, `wchar_t`, ...), whose type must match.
        let integer = |ty| {
            plan::is_integer(table, ty) && !matches!(table.get(ty), Type::Prim(p) if p.is_char())
        };
        let (mut ty, mut member) = (field.ty, format!("p->{}", f.name));
        if f.bitfield || integer(ty) {
            let _ = writeln!(c, "  (void)(({member}) | 0);");
            continue;
        }
        while let Type::Array { item, .. } = table.get(ty) {
            ty = *item;
            member.push_str("[0]");
        }
        let line = match table.get(ty) {
            _ if integer(ty) => format!("(void)(({member}) | 0);"),
            Type::Pointer(_) | Type::Function(_) => {
                let decl = table.c_decl_aliased(ty, "tmp", aliases);
                format!("{{ {decl} = {member}; (void)tmp; }}")
            }
            _ => {
                let decl = table.c_decl_aliased(ty, "*tmp", aliases);
                format!("{{ {decl} = &{member}; (void)tmp; }}")
            }
        };
        if !line.contains('$') {
            let _ = writeln!(c, "  {line}");
        }
    }
    c.push_str("}\n");
}

/// `T *var = (T *)expr`: a `void *` as a pointer to `ty`, the conversion
/// spelled out (C++ does not make it implicitly).
fn typed_pointer(
    table: &TypeTable,
    aliases: &Aliases,
    ty: TypeId,
    var: &str,
    expr: &str,
) -> String {
    let decl = table.c_decl_aliased(ty, &format!("*{var}"), aliases);
    format!(
        "{decl} = ({})({expr})",
        table.c_decl_aliased(ty, "*", aliases)
    )
}

/// The typedef names the glue spells types by when C cannot name them
/// otherwise: a pointer to an opaque (`typedef ... *t;`) or anonymous
/// (`typedef struct { ... } *t;`) struct, whose model name starts with `$`,
/// and an array whose length only the compiler knows (`typedef int t[...];`).
fn source_aliases(decls: &Declarations) -> Aliases {
    let table = &decls.types;
    decls
        .typedefs
        .iter()
        .filter(|&(_, &id)| {
            let spelled = table.c_decl(id, "");
            spelled.contains('$') || spelled.contains("[...]")
        })
        .map(|(name, &id)| (id, name.clone()))
        .collect()
}

/// The signature of cdef function `name`.
fn function_type<'a>(
    table: &'a TypeTable,
    decls: &Declarations,
    name: &str,
) -> Result<&'a crate::model::FuncType> {
    let Some(Decl::Function { ty }) = decls.lib_items.get(name) else {
        return Err(Error::Internal(format!("function '{name}' vanished")));
    };
    match table.get(*ty) {
        Type::Function(f) => Ok(f),
        _ => Err(Error::Internal(format!("'{name}' is not a function type"))),
    }
}

/// `void _cffi_f_NAME(void **args, void *result)`: calls `NAME` with
/// `*(Ti *)args[i]` and stores a non-void result through `result`.
fn function_wrapper(
    c: &mut String,
    table: &TypeTable,
    aliases: &Aliases,
    decls: &Declarations,
    name: &str,
) -> Result<()> {
    let f = function_type(table, decls, name)?;
    pointer_table_wrapper(c, table, aliases, f, name, name, None);
    Ok(())
}

/// The body of `_cffi_f_NAME` calling `callee` (an expression naming the
/// function) with `*(Ti *)args[i]`, then `extra_arg` if any.
fn pointer_table_wrapper(
    c: &mut String,
    table: &TypeTable,
    aliases: &Aliases,
    f: &crate::model::FuncType,
    name: &str,
    callee: &str,
    extra_arg: Option<&str>,
) {
    let _ = writeln!(
        c,
        "void _CFFI_EXPORT(_cffi_f_{name})(void **args, void *result) {{"
    );
    let mut call_args = Vec::with_capacity(f.params.len() + 1);
    for (i, &p) in f.params.iter().enumerate() {
        // Function pointers travel as `void *`: the model drops qualifiers
        // (`const void *` parameters of a comparator), which C would reject.
        let decl = if table.is_function_pointer(p) {
            format!("void **_a{i} = (void **)args[{i}]")
        } else {
            typed_pointer(table, aliases, p, &format!("_a{i}"), &format!("args[{i}]"))
        };
        let _ = writeln!(c, "  {decl};");
        call_args.push(format!("*_a{i}"));
    }
    call_args.extend(extra_arg.map(str::to_owned));
    let call = format!("{callee}({})", call_args.join(", "));
    if matches!(table.get(f.ret), Type::Void) {
        let _ = writeln!(c, "  (void)result;\n  {call};");
    } else if table.is_function_pointer(f.ret) {
        let _ = writeln!(c, "  *(void **)result = (void *){call};");
    } else {
        // The model has no `const`: the cast keeps a `const T *` result from
        // warning that the qualifier is dropped.
        let call = match table.get(f.ret) {
            Type::Pointer(_) => format!("({}){call}", table.c_decl_aliased(f.ret, "", aliases)),
            _ => call,
        };
        let result = typed_pointer(table, aliases, f.ret, "_r", "result");
        let _ = writeln!(c, "  {result};\n  *_r = {call};");
    }
    if call_args.is_empty() {
        c.push_str("  (void)args;\n");
    }
    c.push_str("}\n");
}

/// A variadic function `NAME(T0, …, ...)`. On wasm32, where the C ABI passes the
/// variadic part as one pointer to a buffer of the promoted values (each at its
/// alignment), `_cffi_f_NAME` takes that pointer as one more argument (`args[N]`
/// points at it, after the fixed arguments) and calls `NAME` through a
/// non-variadic function type with a final `void *`, which is the same wasm
/// function type. Natively the host calls `NAME`
/// itself through libffi: `void *_cffi_v_NAME(void)` returns its address.
fn variadic_wrapper(
    c: &mut String,
    table: &TypeTable,
    aliases: &Aliases,
    decls: &Declarations,
    name: &str,
) -> Result<()> {
    let f = function_type(table, decls, name)?;
    let mut params: Vec<String> = f
        .params
        .iter()
        .map(|&p| table.c_decl_aliased(p, "", aliases))
        .collect();
    params.push("void *".to_owned());
    let fixed = f.params.len();
    let _ = writeln!(
        c,
        "#ifdef __wasm__\ntypedef {};",
        table.c_decl_aliased(
            f.ret,
            &format!("(*_cffi_vt_{name})({})", params.join(", ")),
            aliases
        )
    );
    // Through a volatile pointer: were the compiler to see which function is
    // called, it could turn the call back into a variadic one.
    let _ = writeln!(
        c,
        "static _cffi_vt_{name} volatile _cffi_vp_{name} = (_cffi_vt_{name})&{name};"
    );
    let callee = format!("_cffi_vp_{name}");
    pointer_table_wrapper(
        c,
        table,
        aliases,
        f,
        name,
        &callee,
        Some(&format!("*(void **)args[{fixed}]")),
    );
    let _ = writeln!(
        c,
        "#else\n_cffi_voidp _CFFI_EXPORT(_cffi_v_{name})(void) {{ return (_cffi_voidp)&{name}; }}\n#endif"
    );
    Ok(())
}

/// `RET _cffi_d_NAME(T0 a0, …) { return NAME(a0, …); }` for a function whose
/// parameters and result are all scalars (no struct, union or array by value):
/// its natural signature, which the wasm C ABI maps to plain wasm values, so the
/// host can call it with no memory traffic. Other functions get none.
fn direct_wrapper(
    c: &mut String,
    table: &TypeTable,
    aliases: &Aliases,
    decls: &Declarations,
    name: &str,
) -> Result<()> {
    let f = function_type(table, decls, name)?;
    if !has_direct_wrapper(table, f) {
        return Ok(());
    }
    // Function pointers travel as `void *`, as in `_cffi_f_NAME` (the model drops
    // the qualifiers of their parameter types, which C would reject).
    let spell = |ty, name: &str| {
        if table.is_function_pointer(ty) {
            format!("void *{name}")
        } else {
            table.c_decl_aliased(ty, name, aliases)
        }
    };
    let params: Vec<String> = f
        .params
        .iter()
        .enumerate()
        .map(|(i, &p)| spell(p, &format!("_a{i}")))
        .collect();
    let args: Vec<String> = (0..f.params.len()).map(|i| format!("_a{i}")).collect();
    let params = if params.is_empty() {
        "void".to_owned()
    } else {
        params.join(", ")
    };
    let call = format!("{name}({})", args.join(", "));
    let body = match table.get(f.ret) {
        Type::Void => format!("{call};"),
        _ if table.is_function_pointer(f.ret) => format!("return (void *){call};"),
        // As in `_cffi_f_NAME`: a `const T *` result loses its `const` visibly.
        Type::Pointer(_) => format!("return (_cffi_dr_{name}){call};"),
        _ => format!("return {call};"),
    };
    let _ = writeln!(
        c,
        "typedef {};\n_cffi_dr_{name} _CFFI_EXPORT(_cffi_d_{name})({params}) {{ {body} }}",
        spell(f.ret, &format!("_cffi_dr_{name}")),
    );
    Ok(())
}

/// Whether function `f` gets a `_cffi_d_NAME` wrapper: all its parameters and
/// its result are scalars (array parameters are pointers in C; only records
/// travel by value).
fn has_direct_wrapper(table: &TypeTable, f: &crate::model::FuncType) -> bool {
    !std::iter::once(f.ret)
        .chain(f.params.iter().copied())
        .any(|t| matches!(table.get(t), Type::Record(_)))
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
                // `((T)1) / 2 * 2` is 1 for a floating type and 0 for an integer one.
                out.push(if f.floating.is_some() {
                    format!("((__typeof__{member})1) / 2 * 2")
                } else {
                    "_CFFI_NOT_ASKED".to_owned()
                });
            }
            out
        }
        // `<= 0`, not `< 0`: GCC's -Wtype-limits (in -Wextra) warns about the
        // latter for an unsigned value; a non-positive value that is not 0 is
        // negative all the same.
        Question::IntConst { name, .. } | Question::Enumerator { name, .. } => {
            vec![format!("({name}) | 0"), format!("({name}) <= 0")]
        }
        Question::GlobalSize { name } => vec![format!("sizeof({name})")],
        Question::IntTypedef { name, .. } => {
            vec![format!("sizeof({name})"), format!("(({name})-1 | 0) <= 0")]
        }
        Question::EnumRepr { c_type, .. } => {
            vec![format!("sizeof({c_type})"), format!("(({c_type})-1) <= 0")]
        }
        Question::FloatTypedef { name, .. } => {
            // `((t)1) / 2 * 2` is 1 for a floating type and 0 for an integer one.
            vec![format!("sizeof({name})"), format!("(({name})1) / 2 * 2")]
        }
        Question::ArrayLens {
            target,
            levels,
            skip_outer,
        } => {
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
