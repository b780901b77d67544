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

use wasmcffi::layout::{CType, Target, TypeResolver};
use wasmcffi::model::Prim;

use crate::layout_cdef::{parse, Parsed};

/// Headers that declare every primitive name CFFI knows.
const PRELUDE: &str = "#include <stddef.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <string.h>\n\
#include <uchar.h>\n#include <wchar.h>\n#include <sys/types.h>\n";

/// Hand-written cases: plain, nested, pointers, arrays, anonymous members,
/// unions, bitfields, packing and flexible arrays.
const CASES: &str = r#"
enum e_small { ES_A, ES_B };
enum e_neg { EN_A = -1, EN_B };
enum e_big { EB_A = 0x100000000 };
enum e_bigneg { EBN_A = -1, EBN_B = 0x80000000 };
struct enums { char c; enum e_small a; char d; enum e_neg b; char e; enum e_big f; char g; enum e_bigneg h; };
struct plain { char a; int b; short c; double d; char e; };
struct ptrs { char a; void *p; char *q[2]; int (*cb)(int, ...); struct plain *next; char z; };
struct nested { char a; struct plain p; struct plain arr[2]; char z; };
struct multi { int m[2][3]; char c[5][7]; long double ld; char tail; };
struct cplx { char a; float _Complex f; char b; double _Complex d; char c; wchar_t w; char16_t c16; char32_t c32; };
struct anon { int a; union { int b; char c; struct { short d, e; }; }; struct { int f; union { int g; long h; }; }; int i; };
union u1 { char a; int b; double c; char d[13]; };
union u2 { struct { char a, b, c; } s; short x; };
struct bits1 { int a:3, b:5, :0, c:30, d:4; char e; long long f:40; long long g:30; short h:9, i:9; };
struct bits2 { char a; int b:24; char c; };
struct bits3 { char a; int b:31; };
struct bits4 { char c; int :0; char d; };
struct bits5 { char a; long long :60; };
struct bits6 { _Bool a:1; char b:7; unsigned char c:4; signed char d:4; unsigned short e:15; unsigned int f:17, g:17; };
struct bits7 { int a:3; int :4; int b:2; };
struct bits8 { char a; enum e_small b:3; unsigned long long c:33; unsigned long long d:31; };
union ubits { int a:3; char b:2; long long c:5; };
struct bits9 { char a; int b:4; union { int c:5; short d:3; }; int e:20; };
struct bits10 { short a:9; short b:9; short c:9; char d; long e:3; int64_t f:63; uint8_t g:1; };
struct __attribute__((packed)) pk1 { char a; int b; double c; long double d; };
struct __attribute__((packed)) pk2 { char a; int b:24; char c; };
struct __attribute__((packed)) pk3 { char a:3; short b:7; char c; long long d; };
struct __attribute__((packed)) pk4 { char a; struct plain p; short s; };
struct pk5 { char a; struct pk1 p; };
#pragma pack(push, 2)
struct pp2 { char a; int b; double c; long double d; char e; };
struct pp2b { char a; int b:24; char c; long long d:40; };
struct pp2c { char a; struct plain p; };
#pragma pack(pop)
#pragma pack(push, 4)
struct pp4 { char a; long long b; long double c; short d:3; };
#pragma pack(pop)
#pragma pack(push, 1)
struct pp1 { char a; int b; short c:5; short d:5; };
#pragma pack(pop)
struct flex1 { int y; int x[]; };
struct flex2 { char y; double x[]; };
struct flex3 { char c; struct flex1 f; };
struct flex4 { short n; char c[][3]; };
"#;

/// One struct per primitive: its size and alignment show through `c`/`x`/`y`.
fn prim_cases() -> String {
    let mut src = String::new();
    for (i, p) in Prim::ALL.iter().enumerate() {
        let t = p.c_spelling();
        writeln!(src, "struct prim{i} {{ char c; {t} x; char d; {t} y[3]; }};").unwrap();
    }
    src
}

fn all_cases() -> (String, Parsed) {
    let src = format!("{}{}", prim_cases(), CASES);
    let parsed = parse(&src);
    (src, parsed)
}

/// The layouts of every top-level record for one target.
fn layouts(parsed: &Parsed, target: Target) -> Vec<(String, CType)> {
    let mut r = TypeResolver::new(target);
    parsed
        .records
        .iter()
        .map(|(name, ty)| {
            let ct = r.resolve(&parsed.table, *ty).unwrap_or_else(|e| panic!("struct {name}: {e}"));
            (name.clone(), ct)
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
        writeln!(out, "_Static_assert(sizeof({c}) == {size}, \"sizeof({c}) == {size}\");").unwrap();
        writeln!(out, "_Static_assert(_Alignof({c}) == {align}, \"_Alignof({c}) == {align}\");").unwrap();
        for f in &ct.record_layout().unwrap().fields {
            if f.bitsize < 0 {
                let (fname, off) = (&f.name, f.offset);
                writeln!(out, "_Static_assert(offsetof({c}, {fname}) == {off}, \"{name}.{fname} at {off}\");")
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
        for f in ct.record_layout().unwrap().fields.iter().filter(|f| f.bitsize > 0) {
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
    let dir = std::env::temp_dir().join(format!("wasmcffi-layout-oracle-{}-{tag}", std::process::id()));
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

fn zig_cc() -> Command {
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "ziglang", "cc"]);
    if std::env::var_os("ZIG_GLOBAL_CACHE_DIR").is_none() {
        if let Some(home) = std::env::var_os("HOME") {
            cmd.env("ZIG_GLOBAL_CACHE_DIR", Path::new(&home).join(".cache/zig"));
        }
    }
    cmd
}

#[test]
fn record_layout_matches_gcc_host() {
    if !works(Command::new(host_cc()).arg("--version")) {
        eprintln!("skipping: no host C compiler ({})", host_cc());
        return;
    }
    let (cases, parsed) = all_cases();
    let layouts = layouts(&parsed, Target::Host);
    let dir = work_dir("host");
    let src = dir.join("oracle.c");
    std::fs::write(&src, format!("{PRELUDE}{cases}{}", static_asserts(&layouts))).unwrap();
    let mut cmd = Command::new(host_cc());
    cmd.args(["-std=gnu11", "-w", "-c", "-o"]).arg(dir.join("oracle.o")).arg(&src);
    compile(cmd, &src);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bitfield_positions_match_gcc_host() {
    if !works(Command::new(host_cc()).arg("--version")) {
        eprintln!("skipping: no host C compiler ({})", host_cc());
        return;
    }
    let (cases, parsed) = all_cases();
    let layouts = layouts(&parsed, Target::Host);
    let (prog, expected) = bitfield_dump_program(&layouts);
    let dir = work_dir("bits");
    let src = dir.join("bits.c");
    let exe = dir.join("bits");
    std::fs::write(&src, format!("{PRELUDE}{cases}{prog}")).unwrap();
    let mut cmd = Command::new(host_cc());
    cmd.args(["-std=gnu11", "-w", "-o"]).arg(&exe).arg(&src);
    compile(cmd, &src);
    let out = Command::new(&exe).output().unwrap();
    let got: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    let wrong: Vec<String> = expected
        .iter()
        .zip(&got)
        .filter(|(e, g)| e != g)
        .map(|(e, g)| format!("expected {e}\n     gcc {g}"))
        .collect();
    assert!(wrong.is_empty() && got.len() == expected.len(), "bitfield positions differ:\n{}", wrong.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn record_layout_matches_clang_wasm32() {
    if !works(zig_cc().arg("--version")) {
        eprintln!("skipping: no wasm32 C compiler (python3 -m ziglang)");
        return;
    }
    let (cases, parsed) = all_cases();
    let layouts = layouts(&parsed, Target::Wasm32);
    let dir = work_dir("wasm32");
    let src = dir.join("oracle.c");
    std::fs::write(&src, format!("{PRELUDE}{cases}{}", static_asserts(&layouts))).unwrap();
    let mut cmd = zig_cc();
    cmd.args(["--target=wasm32-wasi", "-std=gnu11", "-w", "-c", "-o"]).arg(dir.join("oracle.o")).arg(&src);
    compile(cmd, &src);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The cases as `(cdef text, pack)` chunks for cffi: `__attribute__((packed))`
/// records go to `packed=True` chunks and `#pragma pack(N)` regions to `pack=N`.
fn cffi_chunks(src: &str) -> Vec<(String, u64)> {
    let mut chunks: Vec<(String, u64)> = Vec::new();
    let mut pack = 0u64;
    for line in src.lines() {
        let t = line.trim();
        if let Some(p) = t.strip_prefix("#pragma pack(") {
            pack = if p.starts_with("pop") { 0 } else { p.trim_start_matches("push,").trim_end_matches(')').trim().parse().unwrap() };
            continue;
        }
        let (text, pack) = match t.strip_prefix("struct __attribute__((packed)) ") {
            Some(rest) => (format!("struct {rest}"), 1),
            None => (t.to_owned(), pack),
        };
        match chunks.last_mut() {
            Some((chunk, p)) if *p == pack => chunk.push_str(&format!("{text}\n")),
            _ => chunks.push((format!("{text}\n"), pack)),
        }
    }
    chunks
}

#[test]
fn record_layout_matches_cffi_host() {
    if !works(Command::new("python3").args(["-c", "import cffi"])) {
        eprintln!("skipping: python3 with cffi is not available");
        return;
    }
    let (cases, parsed) = all_cases();
    let layouts = layouts(&parsed, Target::Host);
    let mut script = String::from("import cffi\nffi = cffi.FFI()\n");
    for (chunk, pack) in cffi_chunks(&cases) {
        let opts = match pack {
            0 => String::new(),
            1 => ", packed=True".to_owned(),
            n => format!(", pack={n}"),
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
            .map(|f| format!("{}@{}:{}:{}:{}", f.name, f.offset, f.bitshift, f.bitsize, u8::from(f.skip_in_positional_init)))
            .collect();
        expected.push(format!("{} {} {} {}", ct.cname(), l.size, l.align, rows.join(" ")));
    }
    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .args(layouts.iter().map(|(_, ct)| ct.cname().to_owned()))
        .output()
        .unwrap();
    assert!(out.status.success(), "cffi failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    let wrong: Vec<String> = expected
        .iter()
        .zip(&got)
        .filter(|(e, g)| e != g)
        .map(|(e, g)| format!("ours {e}\ncffi {g}"))
        .collect();
    assert!(wrong.is_empty() && got.len() == expected.len(), "layouts differ from cffi:\n{}", wrong.join("\n"));
}
