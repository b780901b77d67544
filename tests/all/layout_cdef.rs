//! Test support: a tiny reader for the C struct, union and enum definitions
//! the layout oracle uses, building model types directly.
//!
//! It reads exactly the subset written in `layout_oracle.rs` (primitive type
//! names, `struct`/`union`/`enum` tags, inline anonymous members, `*`, `[N]`,
//! `[]`, `(*f)(params)`, `: N`, `__attribute__((packed))` and
//! `#pragma pack(push, N)` / `#pragma pack(pop)`), so the same text is both the
//! model and the C source the compiler checks. It stands in until the real
//! cdef parser (`wasmcffi::cdecl`) is available, and panics on anything else.

use std::collections::HashMap;

use wasmcffi::model::{
    ArrayLen, EnumDef, Field, FuncType, Packing, Prim, Record, RecordKind, Type, TypeId, TypeTable,
};

/// What the reader produced: the model and the top-level tagged records, in order.
pub struct Parsed {
    pub table: TypeTable,
    pub records: Vec<(String, TypeId)>,
}

struct Reader<'a> {
    toks: Vec<&'a str>,
    pos: usize,
    table: TypeTable,
    tags: HashMap<String, TypeId>,
    pack: Vec<Option<u64>>,
    anon: u32,
}

/// Reads `src`; see the module doc for the accepted subset.
pub fn parse(src: &str) -> Parsed {
    let src = strip_comments(src);
    let mut toks = Vec::new();
    for line in src.lines() {
        // Pragmas become pseudo-tokens: `@push N` and `@pop`.
        match line.trim().strip_prefix("#pragma pack(") {
            Some(p) if p.starts_with("pop") => toks.push("@pop"),
            Some(p) => {
                toks.push("@push");
                toks.push(p.trim_start_matches("push,").trim().trim_end_matches(')'));
            }
            None => toks.extend(tokenize(line)),
        }
    }
    let mut r = Reader {
        toks,
        pos: 0,
        table: TypeTable::new(),
        tags: HashMap::new(),
        pack: vec![None],
        anon: 0,
    };
    let mut records = Vec::new();
    while r.pos < r.toks.len() {
        match r.next() {
            "@push" => {
                let n = r.next().parse().expect("pack value");
                r.pack.push(Some(n));
            }
            "@pop" => {
                r.pack.pop();
            }
            kw @ ("struct" | "union" | "enum") => {
                let (name, ty) = r.tagged(kw);
                r.expect(";");
                if kw != "enum" {
                    records.push((name, ty));
                }
            }
            other => panic!("unexpected top-level token {other:?}"),
        }
    }
    Parsed {
        table: r.table,
        records,
    }
}

/// `src` with its `/* ... */` comments blanked out (line breaks kept).
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("*/")
            .map_or(rest.len(), |e| start + e + 2);
        out.extend(rest[start..end].chars().filter(|&c| c == '\n'));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn tokenize(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphanumeric() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push(&line[start..i]);
        } else if line[i..].starts_with("...") {
            out.push("...");
            i += 3;
        } else {
            out.push(&line[i..=i]);
            i += 1;
        }
    }
    out
}

/// Primitive spellings, longest first so that `unsigned long long` wins over `unsigned long`.
fn prim_spellings() -> Vec<(Vec<&'static str>, Prim)> {
    let mut v: Vec<(Vec<&'static str>, Prim)> = Prim::ALL
        .iter()
        .map(|p| (p.c_spelling().split(' ').collect(), *p))
        .collect();
    v.push((vec!["bool"], Prim::Bool));
    v.sort_by_key(|(words, _)| std::cmp::Reverse(words.len()));
    v
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> &'a str {
        let t = self.toks[self.pos];
        self.pos += 1;
        t
    }
    fn peek(&self) -> &'a str {
        self.toks.get(self.pos).copied().unwrap_or("")
    }
    fn expect(&mut self, tok: &str) {
        let got = self.next();
        assert_eq!(got, tok, "at token {}", self.pos);
    }
    fn num(&mut self) -> i128 {
        let neg = self.peek() == "-";
        if neg {
            self.pos += 1;
        }
        let t = self.next().trim_end_matches(['u', 'U', 'l', 'L']);
        let v = match t.strip_prefix("0x") {
            Some(hex) => i128::from_str_radix(hex, 16).expect("hex"),
            None => t.parse().expect("number"),
        };
        if neg {
            -v
        } else {
            v
        }
    }

    /// After `struct`/`union`/`enum`: an optional attribute, tag and body.
    fn tagged(&mut self, kw: &str) -> (String, TypeId) {
        let mut packed = false;
        if self.peek() == "__attribute__" {
            for t in ["__attribute__", "(", "(", "packed", ")", ")"] {
                self.expect(t);
            }
            packed = true;
        }
        let name = if self.peek() == "{" {
            self.anon += 1;
            format!("${}", self.anon)
        } else {
            self.next().to_owned()
        };
        let key = format!("{kw} {name}");
        if kw == "enum" {
            if let Some(&ty) = self.tags.get(&key) {
                return (name, ty);
            }
            self.expect("{");
            let mut values = Vec::new();
            let mut next = 0i128;
            while self.peek() != "}" {
                let n = self.next().to_owned();
                if self.peek() == "=" {
                    self.pos += 1;
                    next = self.num();
                }
                values.push((n, Some(next)));
                next += 1;
                if self.peek() == "," {
                    self.pos += 1;
                }
            }
            self.expect("}");
            let ty = self.table.add_enum(EnumDef {
                name: name.clone(),
                values,
                partial: false,
            });
            self.tags.insert(key, ty);
            return (name, ty);
        }
        let kind = if kw == "struct" {
            RecordKind::Struct
        } else {
            RecordKind::Union
        };
        let ty = match self.tags.get(&key) {
            Some(&ty) => ty,
            None => {
                let ty = self.table.add_record(Record {
                    kind,
                    name: name.clone(),
                    fields: None,
                    partial: false,
                    opaque: false,
                    packing: Packing::default(),
                    typedef_name: None,
                });
                self.tags.insert(key, ty);
                ty
            }
        };
        if self.peek() == "{" {
            self.pos += 1;
            let mut fields = Vec::new();
            while self.peek() != "}" {
                self.member(&mut fields);
            }
            self.expect("}");
            let max_align = if packed {
                Some(1)
            } else {
                *self.pack.last().expect("pack stack")
            };
            let Type::Record(rid) = *self.table.get(ty) else {
                unreachable!()
            };
            let rec = self.table.record_mut(rid);
            rec.fields = Some(fields);
            rec.packing = Packing { max_align };
        }
        (name, ty)
    }

    /// A base type: a primitive spelling, `void`, or a tagged type.
    fn base(&mut self) -> TypeId {
        let t = self.peek();
        if matches!(t, "struct" | "union" | "enum") {
            self.pos += 1;
            return self.tagged(t).1;
        }
        if t == "void" {
            self.pos += 1;
            return self.table.intern(Type::Void);
        }
        for (words, prim) in prim_spellings() {
            if self.toks[self.pos..].starts_with(&words) {
                self.pos += words.len();
                return self.table.prim(prim);
            }
        }
        panic!("unknown type at {t:?}")
    }

    /// One member line: `T d1, d2;` or an anonymous `struct { ... };`.
    fn member(&mut self, fields: &mut Vec<Field>) {
        let base = self.base();
        if self.peek() == ";" {
            self.pos += 1;
            fields.push(Field {
                name: String::new(),
                ty: base,
                bits: None,
            });
            return;
        }
        loop {
            let (name, ty) = self.declarator(base);
            let bits = if self.peek() == ":" {
                self.pos += 1;
                Some(u32::try_from(self.num()).expect("width"))
            } else {
                None
            };
            fields.push(Field { name, ty, bits });
            match self.next() {
                "," => continue,
                ";" => break,
                other => panic!("unexpected {other:?} after a declarator"),
            }
        }
    }

    /// `*... name [N]...`, `(*name)(params)`, or an unnamed bitfield.
    fn declarator(&mut self, base: TypeId) -> (String, TypeId) {
        let mut ty = base;
        while self.peek() == "*" {
            self.pos += 1;
            ty = self.table.pointer_to(ty);
        }
        if self.peek() == "(" {
            self.pos += 1;
            self.expect("*");
            let name = self.next().to_owned();
            self.expect(")");
            self.expect("(");
            let mut params = Vec::new();
            let mut variadic = false;
            while self.peek() != ")" {
                if self.peek() == "..." {
                    self.pos += 1;
                    variadic = true;
                } else if self.peek() == "void" && self.toks[self.pos + 1] == ")" {
                    self.pos += 1;
                } else {
                    let mut p = self.base();
                    while self.peek() == "*" {
                        self.pos += 1;
                        p = self.table.pointer_to(p);
                    }
                    params.push(p);
                }
                if self.peek() == "," {
                    self.pos += 1;
                }
            }
            self.expect(")");
            let f = self.table.intern(Type::Function(FuncType {
                ret: ty,
                params,
                variadic,
            }));
            return (name, self.table.pointer_to(f));
        }
        let name = if self.peek() == ":" {
            String::new()
        } else {
            self.next().to_owned()
        };
        let mut dims = Vec::new();
        while self.peek() == "[" {
            self.pos += 1;
            if self.peek() == "]" {
                dims.push(ArrayLen::Open);
            } else {
                dims.push(ArrayLen::Fixed(u64::try_from(self.num()).expect("length")));
            }
            self.expect("]");
        }
        for len in dims.into_iter().rev() {
            ty = self.table.intern(Type::Array { item: ty, len });
        }
        (name, ty)
    }
}
