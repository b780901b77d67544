//! Layout checked against the C compilers (DESIGN §6): the layouts we compute
//! are turned into `_Static_assert`s on `sizeof`, `_Alignof` and `offsetof`, and
//! compiled with the host `gcc` (x86-64 LP64) and with zig's clang for
//! wasm32-wasi. Bitfield positions, which `offsetof` cannot see, are checked on
//! the host by running a program that sets each bitfield to all-ones in a
//! zeroed struct and prints the bytes. The same cases also go through the real
//! `cffi` package (ABI mode, host target) to compare sizes, alignments and
//! `ctype.fields` rows. A missing compiler or `cffi` skips its check with a message.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::zig_cc;
use wasmcffi::cdecl::{parse_cdef, CdefOptions};
use wasmcffi::layout::{CType, Target, TypeResolver};
use wasmcffi::model::{Declarations, Prim, RecordKind};

/// Headers that declare every primitive name CFFI knows.
const PRELUDE: &str =
    "#include <stddef.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <string.h>\n\
#include <uchar.h>\n#include <wchar.h>\n#include <sys/types.h>\n";

/// Hand-written cases: plain, nested, pointers, arrays, anonymous members,
/// unions, bitfields, packing and flexible arrays.
const CASES: &str = include_str!("../data/layout/cases.h");

/// One struct per primitive: its size and alignment show through `c`/`x`/`y`.
fn prim_cases() -> String {
    let mut src = String::new();
    for (i, p) in Prim::ALL.iter().enumerate() {
        let t = p.c_spelling();
        writeln!(
            src,
            "struct prim{i} {{ char c; {t} x; char d; {t} y[3]; }};"
        )
        .unwrap();
    }
    src
}

/// The C source of every case and its declarations, read by `parse_cdef`.
fn all_cases() -> (String, Declarations) {
    let src = format!("{}{}", prim_cases(), CASES);
    let mut decls = Declarations::new();
    for (chunk, opts) in cdef_chunks(&src) {
        parse_cdef(&mut decls, &chunk, &opts).unwrap_or_else(|e| panic!("{e}\nin:\n{chunk}"));
    }
    (src, decls)
}

/// The C source as cdef chunks, one `cdef()` call each (as CFFI needs them too):
/// `struct __attribute__((packed))` lines lose the attribute and get `packed`, lines
/// between `#pragma pack(push, N)` and `#pragma pack(pop)` get `pack: Some(N)`, and
/// consecutive lines with the same options share a chunk.
fn cdef_chunks(src: &str) -> Vec<(String, CdefOptions)> {
    let mut chunks: Vec<(String, CdefOptions)> = Vec::new();
    let mut pack = None;
    for line in src.lines() {
        let t = line.trim();
        if let Some(p) = t.strip_prefix("#pragma pack(") {
            // `push, N)` sets N; `pop)` goes back to no packing.
            pack = p
                .strip_prefix("push,")
                .map(|n| n.trim_end_matches(')').trim().parse().unwrap());
            continue;
        }
        let (text, opts) = match t.strip_prefix("struct __attribute__((packed)) ") {
            Some(rest) => (
                format!("struct {rest}\n"),
                CdefOptions {
                    packed: true,
                    ..CdefOptions::default()
                },
            ),
            None => (
                format!("{t}\n"),
                CdefOptions {
                    pack,
                    ..CdefOptions::default()
                },
            ),
        };
        match chunks.last_mut() {
            Some((chunk, o)) if (o.packed, o.pack) == (opts.packed, opts.pack) => {
                chunk.push_str(&text)
            }
            _ => chunks.push((text, opts)),
        }
    }
    chunks
}

/// A readable dump of the layouts of one target, one record per paragraph.
fn dump(layouts: &[(String, CType)]) -> String {
    let mut out = String::new();
    for (_, ct) in layouts {
        let l = ct.record_layout().unwrap();
        let flex = if l.has_flexible_array {
            " flexible"
        } else {
            ""
        };
        writeln!(
            out,
            "{} size={} align={}{flex}",
            ct.cname(),
            l.size,
            l.align
        )
        .unwrap();
        for f in &l.fields {
            let bits = if f.bitsize >= 0 {
                format!(" bits={}+{}", f.bitshift, f.bitsize)
            } else {
                String::new()
            };
            let skip = if f.skip_in_positional_init {
                " skip"
            } else {
                ""
            };
            writeln!(
                out,
                "  {} @{}{bits}{skip}: {}",
                f.name,
                f.offset,
                f.ty.cname()
            )
            .unwrap();
        }
    }
    out
}

/// Compares the dumps with `tests/data/layout/cases.<target>.txt`; `UPDATE_EXPECT=1` rewrites them.
#[test]
fn record_layout_dumps_match_snapshots() {
    let (_, decls) = all_cases();
    for (target, file) in [
        (Target::Host, "cases.x86_64.txt"),
        (Target::Wasm32, "cases.wasm32.txt"),
    ] {
        if target == Target::Host && !cfg!(all(target_arch = "x86_64", target_os = "linux")) {
            continue;
        }
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/layout")
            .join(file);
        let got = dump(&layouts(&decls, target));
        if std::env::var_os("UPDATE_EXPECT").is_some() {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            got == want,
            "{} is out of date (run with UPDATE_EXPECT=1 and review the diff)",
            path.display()
        );
    }
}

/// The layouts of every tagged record, in declaration order, for one target.
fn layouts(decls: &Declarations, target: Target) -> Vec<(String, CType)> {
    let mut r = TypeResolver::new(target);
    decls
        .types
        .records()
        .filter(|(_, rec)| !rec.name.starts_with('$'))
        .map(|(_, rec)| {
            let tags = match rec.kind {
                RecordKind::Struct => &decls.struct_tags,
                RecordKind::Union => &decls.union_tags,
            };
            let ct = r
                .resolve(&decls.types, tags[&rec.name])
                .unwrap_or_else(|e| panic!("{}: {e}", rec.name));
            (rec.name.clone(), ct)
        })
        .collect()
}

/// `_Static_assert` lines for sizes, alignments and non-bitfield offsets.
fn static_asserts(layouts: &[(String, CType)]) -> String {
    let mut out = String::new();
    for (name, ct) in layouts {
        let c = ct.cname();
        let size = ct.size().unwrap();
        let align = ct.align().unwrap();
        writeln!(
            out,
            "_Static_assert(sizeof({c}) == {size}, \"sizeof({c}) == {size}\");"
        )
        .unwrap();
        writeln!(
            out,
            "_Static_assert(_Alignof({c}) == {align}, \"_Alignof({c}) == {align}\");"
        )
        .unwrap();
        for f in &ct.record_layout().unwrap().fields {
            if f.bitsize < 0 {
                let (fname, off) = (&f.name, f.offset);
                writeln!(
                    out,
                    "_Static_assert(offsetof({c}, {fname}) == {off}, \"{name}.{fname} at {off}\");"
                )
                .unwrap();
            }
        }
    }
    out
}

/// A `main` that prints, for each bitfield, the record's bytes after setting it to all-ones.
fn bitfield_dump_program(layouts: &[(String, CType)]) -> (String, Vec<String>) {
    let mut prog = String::from(
        "static void dump(const char *n, const void *p, size_t len) {\n\
         const unsigned char *b = p; printf(\"%s \", n);\n\
         for (size_t i = 0; i < len; i++) printf(\"%02x\", b[i]);\n printf(\"\\n\");\n}\n\
         int main(void) {\n",
    );
    let mut expected = Vec::new();
    for (name, ct) in layouts {
        let c = ct.cname();
        let size = ct.size().unwrap();
        for f in ct
            .record_layout()
            .unwrap()
            .fields
            .iter()
            .filter(|f| f.bitsize > 0)
        {
            let label = format!("{name}.{}", f.name);
            writeln!(prog, "  {{ {c} s; memset(&s, 0, sizeof s); s.{} = -1; dump(\"{label}\", &s, sizeof s); }}", f.name)
                .unwrap();
            let mut bytes = vec![0u8; usize::try_from(size).unwrap()];
            let first = f.offset * 8 + u64::try_from(f.bitshift).unwrap();
            for bit in first..first + u64::try_from(f.bitsize).unwrap() {
                bytes[usize::try_from(bit / 8).unwrap()] |= 1 << (bit % 8);
            }
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            expected.push(format!("{label} {hex}"));
        }
    }
    prog.push_str("  return 0;\n}\n");
    (prog, expected)
}

fn work_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wasmcffi-layout-oracle-{}-{tag}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn host_cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "gcc".to_owned())
}

fn works(cmd: &mut Command) -> bool {
    cmd.output().is_ok_and(|o| o.status.success())
}

/// Runs a compiler command; panics with its output if it fails.
fn compile(mut cmd: Command, src: &Path) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "compiling {} failed (our layout disagrees with the compiler):\n{}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn record_layout_matches_gcc_host() {
    if !works(Command::new(host_cc()).arg("--version")) {
        eprintln!("skipping: no host C compiler ({})", host_cc());
        return;
    }
    let (cases, decls) = all_cases();
    let layouts = layouts(&decls, Target::Host);
    let dir = work_dir("host");
    let src = dir.join("oracle.c");
    std::fs::write(
        &src,
        format!("{PRELUDE}{cases}{}", static_asserts(&layouts)),
    )
    .unwrap();
    let mut cmd = Command::new(host_cc());
    cmd.args(["-std=gnu11", "-w", "-c", "-o"])
        .arg(dir.join("oracle.o"))
        .arg(&src);
    compile(cmd, &src);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bitfield_positions_match_gcc_host() {
    if !works(Command::new(host_cc()).arg("--version")) {
        eprintln!("skipping: no host C compiler ({})", host_cc());
        return;
    }
    let (cases, decls) = all_cases();
    let layouts = layouts(&decls, Target::Host);
    let (prog, expected) = bitfield_dump_program(&layouts);
    let dir = work_dir("bits");
    let src = dir.join("bits.c");
    let exe = dir.join("bits");
    std::fs::write(&src, format!("{PRELUDE}{cases}{prog}")).unwrap();
    let mut cmd = Command::new(host_cc());
    cmd.args(["-std=gnu11", "-w", "-o"]).arg(&exe).arg(&src);
    compile(cmd, &src);
    let out = Command::new(&exe).output().unwrap();
    assert_same_lines(
        &expected,
        &out.stdout,
        ("expected", "     gcc"),
        "bitfield positions differ",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn record_layout_matches_clang_wasm32() {
    let Some(mut probe) = zig_cc() else {
        eprintln!("skipping: no wasm32 C compiler (python3 -m ziglang)");
        return;
    };
    if !works(probe.arg("--version")) {
        eprintln!("skipping: no wasm32 C compiler (python3 -m ziglang)");
        return;
    }
    let (cases, decls) = all_cases();
    let layouts = layouts(&decls, Target::Wasm32);
    let dir = work_dir("wasm32");
    let src = dir.join("oracle.c");
    std::fs::write(
        &src,
        format!("{PRELUDE}{cases}{}", static_asserts(&layouts)),
    )
    .unwrap();
    let mut cmd = zig_cc().expect("zig was found above");
    cmd.args(["--target=wasm32-wasi", "-std=gnu11", "-w", "-c", "-o"])
        .arg(dir.join("oracle.o"))
        .arg(&src);
    compile(cmd, &src);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn record_layout_matches_cffi_host() {
    if !works(Command::new("python3").args(["-c", "import cffi"])) {
        eprintln!("skipping: python3 with cffi is not available");
        return;
    }
    let (cases, decls) = all_cases();
    let layouts = layouts(&decls, Target::Host);
    let mut script = String::from("import cffi\nffi = cffi.FFI()\n");
    for (chunk, opts) in cdef_chunks(&cases) {
        let opts = match opts.pack {
            _ if opts.packed => ", packed=True".to_owned(),
            None => String::new(),
            Some(n) => format!(", pack={n}"),
        };
        writeln!(script, "ffi.cdef('''{chunk}'''{opts})").unwrap();
    }
    script.push_str(
        "import sys\nfor name in sys.argv[1:]:\n    t = ffi.typeof(name)\n\
         \x20   rows = ' '.join('%s@%d:%d:%d:%d' % (n, f.offset, f.bitshift, f.bitsize, f.flags) for n, f in t.fields)\n\
         \x20   print('%s %d %d %s' % (name, ffi.sizeof(t), ffi.alignof(t), rows))\n",
    );
    let mut expected = Vec::new();
    for (_, ct) in &layouts {
        let l = ct.record_layout().unwrap();
        let rows: Vec<String> = l
            .fields
            .iter()
            .map(|f| {
                format!(
                    "{}@{}:{}:{}:{}",
                    f.name,
                    f.offset,
                    f.bitshift,
                    f.bitsize,
                    u8::from(f.skip_in_positional_init)
                )
            })
            .collect();
        expected.push(format!(
            "{} {} {} {}",
            ct.cname(),
            l.size,
            l.align,
            rows.join(" ")
        ));
    }
    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .args(layouts.iter().map(|(_, ct)| ct.cname().to_owned()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cffi failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_lines(
        &expected,
        &out.stdout,
        ("ours", "cffi"),
        "layouts differ from cffi",
    );
}

/// Asserts that `output` has exactly the lines `expected`, listing the ones that differ.
fn assert_same_lines(expected: &[String], output: &[u8], (ours, theirs): (&str, &str), what: &str) {
    let got: Vec<String> = String::from_utf8_lossy(output)
        .lines()
        .map(str::to_owned)
        .collect();
    let wrong: Vec<String> = expected
        .iter()
        .zip(&got)
        .filter(|(e, g)| e != g)
        .map(|(e, g)| format!("{ours} {e}\n{theirs} {g}"))
        .collect();
    assert!(
        wrong.is_empty() && got.len() == expected.len(),
        "{what}:\n{}",
        wrong.join("\n")
    );
}
