//! Diagnostics of a lowering run: lang-c's parse with CFFI's syntax-error
//! messages, and where an error is (the file and line of a byte offset).

use super::*;

pub(super) fn syntax_error_message(
    src: &Source,
    offset: usize,
    known: &dyn Fn(&str) -> bool,
) -> String {
    let full = &src.full;
    let offset = offset.min(full.len());
    let (file, line) = location(full, offset);
    let line_start = full[..offset].rfind('\n').map_or(0, |p| p + 1);
    let col = full[line_start..offset].chars().count() + 1;
    let phys = full[src.quote_start.min(offset)..offset]
        .matches('\n')
        .count();
    let text = nth_line(src.user, phys).trim();
    let word_at = |pos: usize| -> String {
        full[pos..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let rest = full[offset..].trim_start();
    let detail = if rest.is_empty() {
        "At end of input".to_owned()
    } else {
        let here = word_at(offset);
        let after = full[offset + here.len()..].trim_start();
        let is_ident = |w: &str| {
            !w.is_empty()
                && !w.starts_with(|c: char| c.is_ascii_digit())
                && !lang_c_keyword(w)
                && !known(w)
        };
        let before = full[..offset].trim_end();
        let prev: String = before
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let prev: String = prev.chars().rev().collect();
        let before_prev = before[..before.len() - prev.len()].trim_end();
        let prev_starts_decl =
            before_prev.is_empty() || before_prev.ends_with(['(', ',', ';', '{', '}', '\n']);
        if is_ident(&here)
            && after
                .starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '*' || c == '(')
        {
            format!("unknown type name '{here}'")
        } else if is_ident(&prev)
            && prev_starts_decl
            && (rest.starts_with(['*', ')', ',']) || !here.is_empty())
        {
            format!("unknown type name '{prev}'")
        } else {
            let tok: String = if here.is_empty() {
                rest.chars().take(1).collect()
            } else {
                here
            };
            format!("before: {tok}")
        }
    };
    // As CFFI: the offending line is quoted only when the position is in the
    // cdef text itself, not in a file a `# N "file"` line names.
    let file = if file.is_empty() {
        rewrite::SOURCE_NAME.to_owned()
    } else {
        file
    };
    if text.is_empty() || file != rewrite::SOURCE_NAME {
        format!("parse error\n{file}:{line}:{col}: {detail}")
    } else {
        format!("cannot parse \"{text}\"\n{file}:{line}:{col}: {detail}")
    }
}

pub(super) fn lang_c_keyword(w: &str) -> bool {
    matches!(
        w,
        "auto"
            | "break"
            | "case"
            | "char"
            | "const"
            | "continue"
            | "default"
            | "do"
            | "double"
            | "else"
            | "enum"
            | "extern"
            | "float"
            | "for"
            | "goto"
            | "if"
            | "inline"
            | "int"
            | "long"
            | "register"
            | "restrict"
            | "return"
            | "short"
            | "signed"
            | "sizeof"
            | "static"
            | "struct"
            | "switch"
            | "typedef"
            | "union"
            | "unsigned"
            | "void"
            | "volatile"
            | "while"
            | "_Bool"
            | "_Complex"
    )
}

/// Parses `src.full` with lang-c (GNU C11).
pub(super) fn parse(
    src: &Source,
    known: &dyn Fn(&str) -> bool,
) -> Result<lang_c::ast::TranslationUnit> {
    let config = Config {
        cpp_command: String::new(),
        cpp_options: Vec::new(),
        flavor: Flavor::GnuC11,
    };
    match parse_preprocessed(&config, src.full.clone()) {
        Ok(p) => Ok(p.unit),
        Err(e) => Err(Error::CDef(syntax_error_message(src, e.offset, known))),
    }
}

impl Lowerer<'_> {
    /// `(file, line)` of a byte offset of `full`.
    pub(super) fn line_of(&self, offset: usize) -> (String, usize) {
        let (file, line) = location(&self.src.full, offset);
        (
            if file.is_empty() {
                rewrite::SOURCE_NAME.to_owned()
            } else {
                file
            },
            line,
        )
    }

    /// Adds CFFI's `file:line: ` prefix to a CDefError (other errors are
    /// CFFI's own messages, unchanged).
    pub(super) fn locate(&self, err: Error, offset: usize) -> Error {
        match err {
            Error::CDef(m) => {
                let (file, line) = self.line_of(offset);
                Error::CDef(format!("{file}:{line}: {m}"))
            }
            other => other,
        }
    }

    /// An FFIError in CFFI's `:N: message` form.
    pub(super) fn ffi_at(&self, offset: usize, msg: &str) -> Error {
        Error::Ffi(format!(":{}: {msg}", self.line_of(offset).1))
    }
}
