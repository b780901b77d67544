//! Glue for calls that go the other way: C calling Python (`extern "Python"`
//! functions) and C function pointers to a module's functions.
//!
//! - Every `extern "Python"` function `f` (number `k` in
//!   [`LayoutPlan::extern_python`](super::LayoutPlan::extern_python)) gets a C
//!   definition after the user's source, `static` unless declared
//!   `extern "Python+C"`, as CFFI generates it (so the user's source can call it
//!   after a forward declaration). It copies its arguments into one struct
//!   (members in parameter order, so at the offsets C's layout rules give: each
//!   aligned to its type's alignment), zeroes its result and calls
//!   `_cffi_call_python(k, &args, &result)` (`args` is NULL without parameters,
//!   `result` NULL for `void`): the host reads all arguments at once. On wasm32 that is the import
//!   `wasmcffi.call_python`; natively, a function pointer the host sets through
//!   the export `_cffi_set_call_python(fn, token)`, called as
//!   `fn(token, k, args, result)` (until it is set, calls return 0).
//! - `void *_cffi_fp_NAME(void)` for each function and `extern "Python"` function:
//!   the C function pointer (a table index on wasm32) of `_cffi_d_NAME`, its
//!   direct wrapper, when it has one (as CFFI's `ffi.addressof(lib, "f")`),
//!   else of `NAME`.

use std::fmt::Write as _;

use super::LayoutPlan;
use crate::error::{Error, Result};
use crate::model::{Decl, Declarations, Type};

/// How `extern "Python"` functions reach the host.
const CALL_PYTHON: &str = r#"
#ifdef __wasm__
__attribute__((import_module("wasmcffi"), import_name("call_python")))
void _cffi_call_python(int index, void *args, void *result);
#else
static void (*_cffi_call_python_fn)(void *, int, void *, void *);
static void *_cffi_call_python_token;
void _CFFI_EXPORT(_cffi_set_call_python)(void *fn, void *token) {
  _cffi_call_python_token = token;
  _cffi_call_python_fn = (void (*)(void *, int, void *, void *))fn;
}
static void _cffi_call_python(int index, void *args, void *result) {
  if (_cffi_call_python_fn)
    _cffi_call_python_fn(_cffi_call_python_token, index, args, result);
}
#endif
"#;

/// Appends the `extern "Python"` definitions and the function address accessors.
pub(super) fn emit(c: &mut String, decls: &Declarations, plan: &LayoutPlan) -> Result<()> {
    if !plan.extern_python.is_empty() {
        c.push_str(CALL_PYTHON);
    }
    for (index, name) in plan.extern_python.iter().enumerate() {
        extern_python_definition(c, decls, index, name)?;
    }
    for name in plan.functions.iter().chain(&plan.extern_python) {
        // As CFFI: a function's address is its direct wrapper's, which has the
        // cdef's signature exactly (the C definition may differ: `char f(char)`
        // for `long f(long)`, or a macro, which has no address).
        let direct = match decls.lib_items.get(name) {
            Some(Decl::Function { .. }) => super::has_direct_wrapper(
                &decls.types,
                super::function_type(&decls.types, decls, name)?,
            ),
            _ => false,
        };
        let address = if direct {
            format!("&_cffi_d_{name}")
        } else {
            format!("&{name}")
        };
        let _ = writeln!(
            c,
            "_cffi_voidp _CFFI_EXPORT(_cffi_fp_{name})(void) {{ return (_cffi_voidp){address}; }}"
        );
    }
    Ok(())
}

/// The C definition of `extern "Python"` function `name`, number `index`.
fn extern_python_definition(
    c: &mut String,
    decls: &Declarations,
    index: usize,
    name: &str,
) -> Result<()> {
    let table = &decls.types;
    let Some(Decl::ExternPython {
        ty,
        also_c,
        param_text,
    }) = decls.lib_items.get(name)
    else {
        return Err(Error::Internal(format!(
            "extern \"Python\" '{name}' vanished"
        )));
    };
    let Type::Function(f) = table.get(*ty) else {
        return Err(Error::Internal(format!("'{name}' is not a function type")));
    };
    if f.variadic {
        return Err(Error::CDef(format!(
            "extern \"Python\" function '{name}' cannot be variadic"
        )));
    }
    // The cdef's own spelling keeps qualifiers (`const char *`), so the
    // definition matches the user's forward declaration; the model's spelling
    // is the fallback.
    let spell = |i: usize, var: &str| match param_text.get(i) {
        Some(text) if param_text.len() == f.params.len() => format!("__typeof__({text}) {var}"),
        _ => table.c_decl(f.params[i], var),
    };
    let params: Vec<String> = (0..f.params.len())
        .map(|i| spell(i, &format!("_a{i}")))
        .collect();
    let params = if params.is_empty() {
        "void".to_owned()
    } else {
        params.join(", ")
    };
    let head = table.c_decl(f.ret, &format!("{name}({params})"));
    let storage = if *also_c { "" } else { "static " };
    let _ = writeln!(c, "{storage}{head} {{");
    let args = if f.params.is_empty() {
        "0"
    } else {
        let members: String = (0..f.params.len())
            .map(|i| format!(" {};", spell(i, &format!("m{i}"))))
            .collect();
        let values: Vec<String> = (0..f.params.len()).map(|i| format!("_a{i}")).collect();
        let _ = writeln!(
            c,
            "  struct {{{members} }} _args = {{ {} }};",
            values.join(", ")
        );
        "&_args"
    };
    if matches!(table.get(f.ret), Type::Void) {
        let _ = writeln!(c, "  _cffi_call_python({index}, {args}, 0);");
    } else {
        let _ = writeln!(c, "  {};", table.c_decl(f.ret, "_r"));
        let _ = writeln!(c, "  __builtin_memset(&_r, 0, sizeof _r);");
        let _ = writeln!(c, "  _cffi_call_python({index}, {args}, &_r);");
        let _ = writeln!(c, "  return _r;");
    }
    c.push_str("}\n");
    Ok(())
}
