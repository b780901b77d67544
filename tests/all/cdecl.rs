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
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "cdef")) {
        let got = run_case(&std::fs::read_to_string(&path).unwrap());
        let out = path.with_extension("out");
        if bless {
            std::fs::write(&out, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&out).unwrap_or_default();
        if got != want {
            failures.push(format!("{}:\n--- want\n{want}--- got\n{got}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
