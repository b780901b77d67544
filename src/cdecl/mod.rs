//! cdef text → [`Declarations`]: lang-c parses the C, and CFFI's extensions
//! (`...` in structs, enums, arrays and typedefs, `#define N ...`,
//! `extern "Python"`) are rewritten around it.
//!
//! - [`rewrite`](self) turns CFFI's extensions into plain C with placeholder names,
//!   keeping the user's line structure;
//! - `lower` runs lang-c and lowers its tree into the model with CFFI's rules;
//! - `fast` answers the common `parse_type` spellings (`int *`, `foo_t[3]`) without lang-c;
//! - `include` copies another FFI's declarations; `dump` prints a readable summary.

#![forbid(unsafe_code)]

mod declare;
mod dump;
mod fast;
mod include;
mod lower;
mod prims;
mod rewrite;

use crate::error::{Error, Result};
use crate::model::{Declarations, Type, TypeId};

#[doc(hidden)]
pub use dump::dump;
pub use prims::FILE_RECORD;

/// Options of one `cdef()` call.
#[derive(Clone, Copy, Debug, Default)]
pub struct CdefOptions {
    /// `packed=True`: every struct of this call has its fields aligned to 1.
    pub packed: bool,
    /// `pack=N`: fields aligned to at most N (a power of two).
    pub pack: Option<u64>,
    /// `override=True`: names may replace earlier declarations.
    pub override_names: bool,
}

/// Stack for parsing inputs that nest deeply (lang-c's parser recurses a lot).
const DEEP_STACK: usize = 256 << 20;

/// Runs `f` on a thread with a big stack when the input is deep or long.
fn with_stack<T: Send>(deep: bool, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    if !deep {
        return f();
    }
    std::thread::scope(|s| {
        match std::thread::Builder::new()
            .stack_size(DEEP_STACK)
            .spawn_scoped(s, f)
        {
            Ok(h) => h
                .join()
                .unwrap_or_else(|_| Err(Error::Internal("the cdef parser thread panicked".into()))),
            Err(e) => Err(Error::Internal(format!(
                "cannot start the cdef parser thread: {e}"
            ))),
        }
    })
}

/// The placeholder typedefs lang-c must know, on one line, then a line marker.
fn prefix(decls: &Declarations, rw: &rewrite::Rewritten) -> String {
    let mut names: Vec<&str> = rw
        .words
        .iter()
        .map(String::as_str)
        .filter(|w| {
            decls.typedefs.contains_key(*w)
                || (prims::is_builtin_typedef(w) && !rw.typedefd.iter().any(|t| t == w))
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut out = String::new();
    for n in names {
        out.push_str("typedef int ");
        out.push_str(n);
        out.push_str("; ");
    }
    out.push_str(&format!(
        "typedef int {}, {}, {};\n# 1 \"{}\"\n",
        rewrite::DOTS_INT,
        rewrite::DOTS_FLOAT,
        rewrite::DOTS,
        rewrite::SOURCE_NAME
    ));
    out
}

fn check_depth(rw: &rewrite::Rewritten) -> Result<bool> {
    if rw.depth > rewrite::MAX_NESTING {
        return Err(Error::CDef(format!(
            "{}: declaration nested too deeply (more than {} levels)",
            rewrite::SOURCE_NAME,
            rewrite::MAX_NESTING
        )));
    }
    Ok(rw.depth > 12 || rw.tokens > 4000)
}

/// The highest `$N` used by anonymous records and enums so far.
fn anon_counter(decls: &Declarations) -> u64 {
    let num = |n: &str| {
        n.strip_prefix('$')
            .and_then(|d| d.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let r = decls
        .types
        .records()
        .map(|(_, r)| num(&r.name))
        .max()
        .unwrap_or(0);
    let e = decls
        .types
        .enums()
        .map(|(_, e)| num(&e.name))
        .max()
        .unwrap_or(0);
    r.max(e)
}

/// Parses `source` and adds its declarations to `decls`.
///
/// # Errors
/// `Error::CDef` naming the line (`<cdef source string>:3: unknown type name 'foo_t'`)
/// and quoting it; `Error::Ffi` for conflicting redeclarations (CFFI's `FFIError`);
/// `Error::NotImplemented` and `Error::Value` where CFFI raises those.
/// `decls` is left unchanged on error.
pub fn parse_cdef(decls: &mut Declarations, source: &str, opts: &CdefOptions) -> Result<()> {
    if opts.packed && opts.pack.is_some_and(|p| p != 0) {
        return Err(Error::Value("cannot give both 'pack' and 'packed'".into()));
    }
    if let Some(p) = opts.pack {
        if p != 0 && !p.is_power_of_two() {
            return Err(Error::Value(format!(
                "'pack' must be a power of two, not {p}"
            )));
        }
    }
    let rw = rewrite::rewrite(source)?;
    let deep = check_depth(&rw)?;
    let pre = prefix(decls, &rw);
    let body_start = pre.len();
    let full = pre + &rw.body + "\n";
    let mut work = decls.clone();
    let anon = anon_counter(&work);
    let opts = *opts;
    with_stack(deep, || {
        let src = lower::Source {
            full,
            body_start,
            quote_start: body_start,
            user: source,
        };
        let mut l = lower::Lowerer::new(&mut work, opts, src, anon);
        l.run_cdef(&rw.macros)
    })?;
    *decls = work;
    Ok(())
}

/// Parses a type string as `ffi.typeof("int *")`, `ffi.new("struct foo[]")` take it.
/// A bare function type (`"int(int)"`) is returned as such; the caller decides.
///
/// # Errors
/// `Error::CDef` for text that is not a type or names an unknown type
/// (`unknown identifier 'foo_t'`); `Error::Ffi` for unsupported spellings (`int int`).
pub fn parse_type(decls: &mut Declarations, text: &str) -> Result<TypeId> {
    if let Some(ty) = fast::parse_type(decls, text) {
        return Ok(ty);
    }
    let rw = rewrite::rewrite(text)?;
    if !rw.macros.is_empty() {
        return Err(Error::CDef(format!(
            "cannot parse \"{}\": directives are not types",
            text.trim()
        )));
    }
    let deep = check_depth(&rw)?;
    let pre = prefix(decls, &rw);
    let body_start = pre.len();
    let full = format!("{pre}void __dummy(\n{}\n);\n", rw.body);
    let quote_start = body_start + "void __dummy(\n".len();
    let saved = (
        decls.struct_tags.clone(),
        decls.union_tags.clone(),
        decls.enum_tags.clone(),
    );
    let anon = anon_counter(decls);
    let r = with_stack(deep, || {
        let src = lower::Source {
            full,
            body_start,
            quote_start,
            user: text,
        };
        let mut l = lower::Lowerer::new(decls, CdefOptions::default(), src, anon);
        l.run_type()
    });
    match r {
        Ok(ty) => Ok(ty),
        Err(err) => {
            (decls.struct_tags, decls.union_tags, decls.enum_tags) = saved;
            Err(match err {
                // A cdef refuses it as bad text; as a type to make, CFFI's
                // ValueError (`ffi.cast("int[-5]", 0)`).
                Error::CDef(m) if m.starts_with("negative array length") => Error::Value(m),
                err => err,
            })
        }
    }
}

/// Adds every declaration of `other` to `decls` (`ffi.include(other_ffi)`),
/// re-interning its types into `decls.types`. Tagged structs, unions and enums keep
/// their identity by tag (an incomplete one is completed by the other's definition);
/// anonymous `$N` ones are renumbered.
///
/// # Errors
/// `Error::Ffi` when a name is declared differently in both. `decls` is left unchanged on error.
pub fn include(decls: &mut Declarations, other: &Declarations) -> Result<()> {
    let mut work = decls.clone();
    let anon = anon_counter(&work);
    include::include(&mut work, other, anon)?;
    *decls = work;
    Ok(())
}

/// True if `ty` is a function type (not a pointer to one).
#[doc(hidden)]
pub fn is_function(decls: &Declarations, ty: TypeId) -> bool {
    matches!(decls.types.get(ty), Type::Function(_))
}

#[cfg(test)]
mod tests;
