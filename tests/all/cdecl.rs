//! cdef front end: data-driven snapshots (`tests/data/cdecl/*.cdef` → `*.out`),
//! `parse_type` cases, and a property test that nothing panics.
//!
//! A `.cdef` file holds one or more `cdef()` calls separated by lines `---- [options]`
//! (options: `packed`, `pack=N`, `override`). The `.out` file holds `dump()` after
//! all calls, or `ERROR <kind>: <message>` for the first failing call (then the dump
//! must equal the one before that call). Set `BLESS=1` to rewrite the `.out` files.

use std::path::Path;

use proptest::prelude::*;
use wasmcffi::cdecl::{dump, include, parse_cdef, parse_type, CdefOptions};
use wasmcffi::model::Declarations;
use wasmcffi::Error;

fn kind(e: &Error) -> &'static str {
    match e {
        Error::CDef(_) => "CDefError",
        Error::Ffi(_) => "FFIError",
        Error::NotImplemented(_) => "NotImplementedError",
        Error::Value(_) => "ValueError",
        _ => "other",
    }
}

fn run_case(text: &str) -> String {
    let mut decls = Declarations::new();
    let mut opts = CdefOptions::default();
    let mut chunk = String::new();
    let mut calls = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("----") {
            calls.push((std::mem::take(&mut chunk), opts));
            opts = CdefOptions::default();
            for w in rest.split_whitespace() {
                match w {
                    "packed" => opts.packed = true,
                    "override" => opts.override_names = true,
                    _ => opts.pack = w.strip_prefix("pack=").and_then(|n| n.parse().ok()),
                }
            }
        } else {
            chunk.push_str(line);
        }
    }
    calls.push((chunk, opts));
    for (src, opts) in calls {
        let before = dump(&decls);
        if let Err(e) = parse_cdef(&mut decls, &src, &opts) {
            assert_eq!(before, dump(&decls), "decls changed by a failing cdef");
            return format!("ERROR {}: {e}\n", kind(&e));
        }
    }
    dump(&decls)
}

#[test]
fn snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cdecl");
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "cdef"))
    {
        let got = run_case(&std::fs::read_to_string(&path).unwrap());
        let out = path.with_extension("out");
        if bless {
            std::fs::write(&out, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&out).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "{}:\n--- want\n{want}--- got\n{got}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn decls_of(src: &str) -> Declarations {
    let mut d = Declarations::new();
    parse_cdef(&mut d, src, &CdefOptions::default()).unwrap();
    d
}

fn ty(d: &mut Declarations, text: &str) -> Result<String, String> {
    parse_type(d, text)
        .map(|t| d.types.c_name(t))
        .map_err(|e| format!("{}: {e}", kind(&e)))
}

#[test]
fn parse_type_cases() {
    let mut d = decls_of("typedef int foo_t; struct foo { int x; }; typedef int (*cb_t)(int);");
    let ok = [
        ("int", "int"),
        ("int *", "int *"),
        ("const char *", "char *"),
        ("unsigned", "unsigned int"),
        ("unsigned long long int", "unsigned long long"),
        ("struct foo[]", "struct foo[]"),
        ("struct foo *", "struct foo *"),
        ("int(*)(int, ...)", "int(*)(int, ...)"),
        ("int[3][4]", "int[3][4]"),
        ("foo_t *", "int *"),
        ("foo_t", "int"),
        ("int(int)", "int(int)"),
        ("size_t", "size_t"),
        ("cb_t", "int(*)(int)"),
        ("char *[2]", "char *[2]"),
        ("int x", "int"),
        ("int[2+1]", "int[3]"),
        ("struct newone *", "struct newone *"),
    ];
    for (text, want) in ok {
        assert_eq!(ty(&mut d, text).as_deref(), Ok(want), "{text}");
    }
    let errs = [
        ("bar_t", "CDefError: unknown identifier 'bar_t'"),
        ("int int", "FFIError: Unsupported type: 'int int'"),
        ("garbage !!", "CDefError: cannot parse \"garbage !!\""),
        ("int[...]", "FFIError: :2: unsupported '[...]' here"),
        ("#define X 1", "CDefError"),
        ("int); int y(", "CDefError"),
    ];
    for (text, want) in errs {
        let got = ty(&mut d, text).unwrap_err();
        assert!(got.starts_with(want), "{text}: {got}");
    }
    // A failed parse leaves no new tags behind.
    let _ = ty(&mut d, "struct brandnew (");
    assert!(!d.struct_tags.contains_key("brandnew"));
}

#[test]
fn include_copies_and_keeps_identity() {
    let mut a = decls_of("struct s; typedef struct s s_t; int f(s_t *); enum e { A, B };");
    let b = decls_of("struct s { int x; }; typedef struct { int q; } anon_t; struct { int z; } *gp;\n#define N 3");
    let before_s = a.struct_tags["s"];
    include(&mut a, &b).unwrap();
    assert_eq!(a.struct_tags["s"], before_s, "struct s keeps its identity");
    let text = dump(&a);
    assert!(text.contains("struct s { int x }"), "{text}");
    assert!(text.contains("typedef anon_t = anon_t"), "{text}");
    assert!(text.contains("constant N: int = 3"), "{text}");
    // A conflicting name is an error and changes nothing.
    let c = decls_of("long f(int);");
    let snapshot = dump(&a);
    let err = include(&mut a, &c).unwrap_err();
    assert!(
        err.to_string()
            .contains("multiple declarations of function f"),
        "{err}"
    );
    assert_eq!(dump(&a), snapshot);
}

#[test]
fn same_record_completed_later() {
    let mut d = decls_of("struct foo; struct foo *mk(void);");
    let id = d.struct_tags["foo"];
    parse_cdef(&mut d, "struct foo { int a; };", &CdefOptions::default()).unwrap();
    assert_eq!(d.struct_tags["foo"], id);
    assert!(dump(&d).contains("struct foo { int a }"));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for depth in [50usize, 150, 1000, 100_000] {
        let src = format!("int x[{}1{}];", "(".repeat(depth), ")".repeat(depth));
        let mut d = Declarations::new();
        let r = parse_cdef(&mut d, &src, &CdefOptions::default());
        if depth <= 150 {
            r.unwrap();
        } else {
            assert!(r.unwrap_err().to_string().contains("nested too deeply"));
        }
        let s = format!(
            "struct a {{ {} int x; {} }};",
            "struct {".repeat(depth.min(190)),
            "} y;".repeat(depth.min(190))
        );
        let _ = parse_cdef(&mut d, &s, &CdefOptions::default());
        let t = format!(
            "int {}x{};",
            "(*".repeat(depth.min(190)),
            ")".repeat(depth.min(190))
        );
        let _ = parse_cdef(&mut d, &t, &CdefOptions::default());
        let u = format!("enum q{depth} {{ A{depth} = {}1 }};", "-".repeat(depth));
        let _ = parse_cdef(&mut d, &u, &CdefOptions::default());
        let v = format!(
            "enum r{depth} {{ B{depth} = 1{} }};",
            "+1".repeat(depth.min(5000))
        );
        let _ = parse_cdef(&mut d, &v, &CdefOptions::default());
        let _ = parse_type(&mut d, &format!("int{}", "*".repeat(depth)));
        let _ = parse_type(&mut d, &format!("int{}", "[1]".repeat(depth.min(190))));
    }
}

const FRAGMENTS: &[&str] = &[
    "int",
    "x",
    ";",
    ",",
    "*",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "...",
    "struct",
    "union",
    "enum",
    "typedef",
    "extern",
    "static",
    "const",
    "\"Python\"",
    "=",
    "1",
    "0x7fffffffffffffffffffffffffffffffff",
    "-",
    "<<",
    "unsigned",
    "long",
    "double",
    "float",
    "char",
    "void",
    ":",
    "foo_t",
    "#define",
    "\n",
    "A",
    "99999999999999999999999999999999999999999",
    "int...",
    "[...]",
    "float...",
    "#",
    "'a'",
    "/*",
    "*/",
    "//",
    "\\",
    "__dotdotdot__",
    "_Bool",
    "size_t",
    "FILE",
];

fn parse_any(text: &str) {
    let mut d = decls_of("typedef int foo_t; struct s { int a; }; enum e { E0 };");
    let _ = parse_cdef(&mut d, text, &CdefOptions::default());
    let _ = parse_cdef(
        &mut d,
        text,
        &CdefOptions {
            override_names: true,
            packed: true,
            pack: None,
        },
    );
    let _ = parse_type(&mut d, text);
    let _ = dump(&d);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,80}") {
        parse_any(&s);
    }

    #[test]
    fn fragment_soup_never_panics(parts in proptest::collection::vec(0..FRAGMENTS.len(), 0..40)) {
        let text: Vec<&str> = parts.iter().map(|&i| FRAGMENTS[i]).collect();
        parse_any(&text.join(" "));
    }

    #[test]
    fn mutated_valid_cdefs_never_panic(pos in 0usize..400, del in 0usize..5, ins in 0..FRAGMENTS.len()) {
        let base = "typedef struct { int x, y; ...; } point_t;\nint add(int, int);\nenum q { Q1 = 1 << 3, Q2, ... };\nstruct n { struct n *next; int bf : 3; char tail[]; };\n#define M 0x10\nextern \"Python\" int cb(int);\ntypedef int... i_t;\nint arr[...];\n";
        let mut s = base.to_owned();
        let mut p = pos.min(s.len());
        while !s.is_char_boundary(p) { p -= 1; }
        let end = (p + del).min(s.len());
        s.replace_range(p..end, FRAGMENTS[ins]);
        parse_any(&s);
    }
}
