//! Text rewriting of CFFI's extensions before lang-c sees the source, as CFFI does
//! around pycparser: comments and `#define` lines go, `...` becomes placeholder names,
//! `extern "Python"` becomes marker declarations, calling conventions vanish.
//!
//! Every rewrite keeps the line structure of the user's text (newlines are never added
//! or removed), so lang-c's positions map straight back to the user's lines.

use crate::error::{Error, Result};

/// The file name CFFI gives the cdef text in messages.
pub const SOURCE_NAME: &str = "<cdef source string>";

/// Placeholder type name for a lone `...` (typedef, struct member, varargs).
pub const DOTS: &str = "__dotdotdot__";
/// Placeholder type name for `int...` and friends.
pub const DOTS_INT: &str = "__dotdotdotint__";
/// Placeholder type name for `float...` / `double...`.
pub const DOTS_FLOAT: &str = "__dotdotdotfloat__";
/// Placeholder identifier for `[...]` array lengths.
pub const DOTS_ARRAY: &str = "__dotdotdotarray__";
/// Placeholder identifier for an enumerator value `= ...`.
pub const DOTS_VALUE: &str = "__dotdotdotval__";
/// Placeholder enumerator for a trailing `...` in an enum.
pub const DOTS_ENUM: &str = "__dotdotdotenum__";
/// Marker variables standing for `extern "Python"` regions.
pub const PY_START: &str = "__cffi_extern_python_start";
/// Marker for the start of an `extern "Python+C"` region.
pub const PY_PLUS_C_START: &str = "__cffi_extern_python_plus_c_start";
/// Marker for the end of an `extern "Python"` region.
pub const PY_STOP: &str = "__cffi_extern_python_stop";

/// Deepest bracket nesting (or longest run of prefix operators) accepted.
pub const MAX_NESTING: usize = 200;

/// A `#define NAME value` line.
#[derive(Clone, Debug)]
pub struct Macro {
    pub name: String,
    pub value: String,
    /// Byte offset of the line in the rewritten body.
    pub offset: usize,
}

/// The cdef text after rewriting.
#[derive(Debug)]
pub struct Rewritten {
    /// The body, same lines as the user's text.
    pub body: String,
    pub macros: Vec<Macro>,
    /// Identifiers appearing in the body (to decide which typedef names to pre-declare).
    pub words: Vec<String>,
    /// Builtin type names the body defines itself with `typedef` (not to pre-declare).
    pub typedefd: Vec<String>,
    /// Deepest nesting seen (brackets or prefix-operator runs).
    pub depth: usize,
    /// Number of tokens.
    pub tokens: usize,
}

/// Location of a byte offset in text that may contain `# N "file"` line markers.
pub fn location(text: &str, offset: usize) -> (String, usize) {
    let mut file = String::new();
    let mut line = 1usize;
    let mut pos = 0usize;
    for raw in text.split_inclusive('\n') {
        let end = pos + raw.len();
        if offset < end || end == text.len() {
            break;
        }
        match parse_line_marker(raw.trim_end_matches(['\n', '\r'])) {
            Some((n, f)) => {
                line = n;
                if let Some(f) = f {
                    file = f;
                }
            }
            None => line += 1,
        }
        pos = end;
    }
    (file, line)
}

/// `# 42 "foo.h"` or `#line 42 "foo.h"`: the number and the file, if the line is one.
pub fn parse_line_marker(line: &str) -> Option<(usize, Option<String>)> {
    let rest = line.trim_start().strip_prefix('#')?.trim_start();
    let rest = rest
        .strip_prefix("line")
        .map(str::trim_start)
        .unwrap_or(rest);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    let n = digits.parse::<usize>().ok()?;
    let rest = rest[digits.len()..].trim_start();
    let file = rest
        .strip_prefix('"')
        .and_then(|r| r.find('"').map(|e| r[..e].to_owned()));
    Some((n, file))
}

/// Text of physical line `idx` (0-based) of `src`, or "".
pub fn nth_line(src: &str, idx: usize) -> &str {
    src.split('\n')
        .nth(idx)
        .unwrap_or("")
        .trim_end_matches('\r')
}

/// Replaces comments by spaces (keeping their newlines). Line-marker lines are left alone.
fn strip_comments(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let mut line_start = true;
    while i < b.len() {
        if line_start {
            let line_end = src[i..].find('\n').map_or(b.len(), |e| i + e);
            if parse_line_marker(&src[i..line_end]).is_some() {
                out.push_str(&src[i..line_end]);
                i = line_end;
                line_start = false;
                continue;
            }
        }
        line_start = false;
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            let end = src[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
            out.push(' ');
            out.extend(src[i..end].chars().filter(|&c| c == '\n'));
            i = end;
            line_start = src[..i].ends_with('\n');
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            // To the end of the line, honouring backslash continuations.
            let mut j = i + 2;
            while j < b.len() && b[j] != b'\n' {
                if b[j] == b'\\' && b.get(j + 1) == Some(&b'\n') {
                    out.push('\n');
                    j += 1;
                }
                j += 1;
            }
            out.push(' ');
            i = j;
        } else {
            let c = src[i..].chars().next().unwrap_or(' ');
            out.push(c);
            if c == '\n' {
                line_start = true;
            }
            i += c.len_utf8();
        }
    }
    out
}

/// One lexical token; whitespace is kept as tokens so the text can be rebuilt exactly.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Space(String),
    Word(String),
    Punct(String),
    Other(String),
}

impl Tok {
    fn text(&self) -> &str {
        match self {
            Tok::Space(s) | Tok::Word(s) | Tok::Punct(s) | Tok::Other(s) => s,
        }
    }
    fn is(&self, p: &str) -> bool {
        matches!(self, Tok::Punct(s) if s == p)
    }
    fn word(&self) -> Option<&str> {
        match self {
            Tok::Word(s) => Some(s),
            _ => None,
        }
    }
}

fn lex(src: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        let take = |pred: &dyn Fn(char) -> bool,
                    chars: &mut std::iter::Peekable<std::str::CharIndices>| {
            let mut end = i;
            while let Some(&(j, d)) = chars.peek() {
                if !pred(d) {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            src[i..end].to_owned()
        };
        if c.is_whitespace() {
            toks.push(Tok::Space(take(&|d: char| d.is_whitespace(), &mut chars)));
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
            toks.push(Tok::Word(take(
                &|d: char| d.is_ascii_alphanumeric() || d == '_' || d == '$',
                &mut chars,
            )));
        } else if c == '"' || c == '\'' {
            chars.next();
            let mut end = i + 1;
            let mut esc = false;
            for (j, d) in chars.by_ref() {
                end = j + d.len_utf8();
                if d == '\n' {
                    break;
                }
                if !esc && d == c {
                    break;
                }
                esc = !esc && d == '\\';
            }
            toks.push(Tok::Other(src[i..end].to_owned()));
        } else if src[i..].starts_with("...") {
            chars.next();
            chars.next();
            chars.next();
            toks.push(Tok::Punct("...".to_owned()));
        } else {
            chars.next();
            let two = src.get(i..i + 2).unwrap_or("");
            if matches!(two, "<<" | ">>" | "->" | "++" | "--" | "&&" | "||") {
                chars.next();
                toks.push(Tok::Punct(two.to_owned()));
            } else {
                toks.push(Tok::Punct(c.to_string()));
            }
        }
    }
    toks
}

/// Index of the next non-space token at or after `i`.
fn next_sig(toks: &[Tok], mut i: usize) -> Option<usize> {
    while i < toks.len() {
        if !matches!(toks[i], Tok::Space(_)) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Index of the previous non-space token before `i`.
fn prev_sig(toks: &[Tok], i: usize) -> Option<usize> {
    (0..i).rev().find(|&j| !matches!(toks[j], Tok::Space(_)))
}

/// Replaces the tokens `from..=to` by `text`, keeping the newlines they held.
fn splice(toks: &mut Vec<Tok>, from: usize, to: usize, text: &str) -> usize {
    let newlines: String = toks[from..=to]
        .iter()
        .flat_map(|t| t.text().chars())
        .filter(|&c| c == '\n')
        .collect();
    let mut repl = vec![
        Tok::Space(" ".into()),
        Tok::Word(text.to_owned()),
        Tok::Space(" ".into()),
    ];
    if !newlines.is_empty() {
        repl.push(Tok::Space(newlines));
    }
    let n = repl.len();
    toks.splice(from..=to, repl);
    n
}

/// Handles the `#` lines: `#define` into macros, line markers kept, anything else refused.
fn directives(src: &str) -> Result<(String, Vec<Macro>)> {
    let mut out = String::with_capacity(src.len());
    let mut macros = Vec::new();
    let mut lines = src.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if !trimmed.starts_with('#') {
            out.push_str(line);
            continue;
        }
        if parse_line_marker(line.trim_end()).is_some() {
            // lang-c only knows the `# N "file"` spelling.
            let (n, f) = parse_line_marker(line.trim_end()).unwrap_or((1, None));
            match f {
                Some(f) => out.push_str(&format!("# {n} \"{f}\"")),
                None => out.push_str(&format!("# {n}")),
            }
            if line.ends_with('\n') {
                out.push('\n');
            }
            continue;
        }
        // Join continuation lines.
        let offset = out.len();
        let mut full = line.to_owned();
        let mut count = 1;
        while full.trim_end_matches(['\n', '\r']).ends_with('\\') {
            match lines.next() {
                Some(next) => {
                    full.push_str(next);
                    count += 1;
                }
                None => break,
            }
        }
        let body = full.trim_start()[1..].trim_start();
        let define = body
            .strip_prefix("define")
            .filter(|r| r.starts_with(|c: char| c.is_whitespace()));
        match define {
            Some(rest) => {
                let rest = rest.trim_start();
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                    let shown = full.trim_end().to_owned();
                    return Err(Error::CDef(format!(
                        "cannot parse \"{}\"\n{SOURCE_NAME}:{}:1: Directives not supported yet",
                        shown.trim(),
                        location(&out, offset).1
                    )));
                }
                let value = rest[name.len()..]
                    .replace("\\\r\n", "")
                    .replace("\\\n", "")
                    .trim()
                    .to_owned();
                macros.push(Macro {
                    name,
                    value,
                    offset,
                });
            }
            None => {
                let (file, line_no) = location(&out, offset);
                let file = if file.is_empty() {
                    SOURCE_NAME.to_owned()
                } else {
                    file
                };
                return Err(Error::CDef(format!(
                    "cannot parse \"{}\"\n{file}:{line_no}:1: Directives not supported yet",
                    full.lines().next().unwrap_or("").trim()
                )));
            }
        }
        for _ in 1..count {
            out.push('\n');
        }
        if full.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok((out, macros))
}

/// Rewrites `src` for lang-c. `for_type` is set for `parse_type` text.
pub fn rewrite(src: &str) -> Result<Rewritten> {
    let stripped = strip_comments(src);
    let (text, macros) = directives(&stripped)?;
    let mut toks = lex(&text);

    // Calling conventions: accepted and ignored.
    for t in toks.iter_mut() {
        if matches!(t.word(), Some("__stdcall" | "WINAPI" | "__cdecl")) {
            *t = Tok::Space(" ".into());
        }
    }
    extern_python(&mut toks, &text)?;
    dots(&mut toks);

    let mut depth = 0usize;
    let mut max_depth = 0usize;
    let mut run = 0usize;
    let mut words = Vec::new();
    for t in &toks {
        match t {
            Tok::Punct(p) if matches!(p.as_str(), "(" | "[" | "{") => {
                depth += 1;
                run += 1;
            }
            Tok::Punct(p) if matches!(p.as_str(), ")" | "]" | "}") => {
                depth = depth.saturating_sub(1);
                run = 0;
            }
            Tok::Punct(p)
                if matches!(p.as_str(), "-" | "+" | "~" | "!" | "*" | "&" | "--" | "++") =>
            {
                run += 1
            }
            Tok::Space(_) => {}
            Tok::Word(w) => {
                words.push(w.clone());
                run = 0;
            }
            _ => run = 0,
        }
        max_depth = max_depth.max(depth).max(run);
    }
    let typedefd = typedefd_names(&toks);
    let body: String = toks.iter().map(Tok::text).collect();
    Ok(Rewritten {
        body,
        macros,
        words,
        typedefd,
        depth: max_depth,
        tokens: toks.len(),
    })
}

/// `extern "Python" decl;` and `extern "Python" { decls }` → marker declarations.
fn extern_python(toks: &mut Vec<Tok>, text: &str) -> Result<()> {
    let mut i = 0;
    while i < toks.len() {
        if toks[i].word() != Some("extern") {
            i += 1;
            continue;
        }
        let Some(s) = next_sig(toks, i + 1) else {
            break;
        };
        let Tok::Other(lit) = &toks[s] else {
            i += 1;
            continue;
        };
        let inner: String = lit
            .trim_matches('"')
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let marker = match inner.as_str() {
            "Python" => PY_START,
            "Python+C" | "C+Python" => PY_PLUS_C_START,
            _ => {
                i += 1;
                continue;
            }
        };
        let n = splice(toks, i, s, &format!("void {marker};"));
        let Some(start) = next_sig(toks, i + n) else {
            return Err(Error::CDef("'extern \"Python\": no ';' found".into()));
        };
        if toks[start].is("{") {
            let close = (start..toks.len()).find(|&j| toks[j].is("}"));
            let Some(close) = close else {
                return Err(Error::CDef("'extern \"Python\" {': no '}' found".into()));
            };
            if (start + 1..close).any(|j| toks[j].is("{")) {
                return Err(Error::NotImplemented(
                    "cannot use { } inside a block 'extern \"Python\" { ... }'".into(),
                ));
            }
            toks[start] = Tok::Space(" ".into());
            toks[close] = Tok::Word(format!(" void {PY_STOP};"));
            i = close + 1;
        } else {
            let semi = (start..toks.len()).find(|&j| toks[j].is(";"));
            let Some(semi) = semi else {
                let _ = text;
                return Err(Error::CDef("'extern \"Python\": no ';' found".into()));
            };
            toks[semi] = Tok::Word(format!("; void {PY_STOP};"));
            i = semi + 1;
        }
    }
    Ok(())
}

/// Replaces every `...` by the placeholder lang-c can parse in its position.
fn dots(toks: &mut Vec<Tok>) {
    let mut i = 0;
    while i < toks.len() {
        if !toks[i].is("...") {
            i += 1;
            continue;
        }
        let prev = prev_sig(toks, i);
        let next = next_sig(toks, i + 1);
        let prev_is = |p: &str| prev.is_some_and(|j| toks[j].is(p));
        let next_is = |p: &str| next.is_some_and(|j| toks[j].is(p));
        if prev_is("[") && next_is("]") {
            let _ = splice(toks, i, i, DOTS_ARRAY);
        } else if prev_is("=") && (next_is(",") || next_is("}")) {
            let _ = splice(toks, i, i, DOTS_VALUE);
        } else if next_is("}") {
            let _ = splice(toks, i, i, DOTS_ENUM);
        } else if prev_is(",") && next_is(")") {
            // Varargs: lang-c parses them itself.
        } else {
            // `int...`, `unsigned long...`, `float...`: swallow the keywords before.
            let mut first = i;
            let mut kind = None;
            let mut j = prev;
            while let Some(k) = j {
                match toks[k].word() {
                    Some("int" | "long" | "short" | "signed" | "unsigned" | "char")
                        if kind != Some(DOTS_FLOAT) =>
                    {
                        kind = Some(DOTS_INT);
                        first = k;
                    }
                    Some("float" | "double") if kind.is_none() => {
                        kind = Some(DOTS_FLOAT);
                        first = k;
                        break;
                    }
                    _ => break,
                }
                j = prev_sig(toks, k);
            }
            let name = kind.unwrap_or(DOTS);
            let _ = splice(toks, first, i, name);
            i = first;
        }
        i += 1;
    }
}

/// Names that a `typedef` in the body defines (cffi's `_common_type_names` rule).
fn typedefd_names(toks: &[Tok]) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_typedef = false;
    let mut paren = 0i32;
    let mut prev: Option<&str> = None;
    for t in toks.iter().filter(|t| !matches!(t, Tok::Space(_))) {
        match t {
            Tok::Word(w) if w == "typedef" => {
                in_typedef = true;
                paren = 0;
            }
            Tok::Punct(p) if p == "(" => paren += 1,
            Tok::Punct(p) if p == ")" => paren -= 1,
            Tok::Punct(p) if p == ";" || (p == "," && paren == 0) => {
                if in_typedef {
                    if let Some(w) = prev {
                        out.push(w.to_owned());
                    }
                }
                if p == ";" {
                    in_typedef = false;
                }
            }
            _ => {}
        }
        prev = t.word();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_lines() {
        let src = "int a; /* x\n y */ int b;\n#define N 3\nstruct s { int x; ...; };\nenum e { A = ..., B, ... };\ntypedef unsigned long... t;\nextern \"Python\"\n int f(int);\n";
        let r = rewrite(src).unwrap();
        assert_eq!(
            r.body.matches('\n').count(),
            src.matches('\n').count(),
            "{}",
            r.body
        );
        assert!(r.body.contains(DOTS_INT), "{}", r.body);
        assert!(
            r.body.contains(DOTS_VALUE) && r.body.contains(DOTS_ENUM),
            "{}",
            r.body
        );
        assert!(
            r.body.contains(PY_START) && r.body.contains(PY_STOP),
            "{}",
            r.body
        );
        assert_eq!(r.macros.len(), 1);
        assert_eq!(r.macros[0].value, "3");
    }

    #[test]
    fn locations_follow_markers() {
        let t = "a\n# 42 \"foo.h\"\nb\nc\n";
        assert_eq!(location(t, 0), (String::new(), 1));
        let c = t.find('c').unwrap();
        assert_eq!(location(t, c), ("foo.h".to_owned(), 43));
    }

    #[test]
    fn typedefd() {
        let r = rewrite("typedef unsigned long size_t, *psize; size_t x;").unwrap();
        assert_eq!(r.typedefd, vec!["size_t", "psize"]);
    }
}
