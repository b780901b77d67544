//! The build step's glue, with the native C compiler as the oracle: the user's
//! source plus the generated glue is compiled into a shared library, its layout
//! table is read through `_cffi_layout`, `build::complete` applies it, and the
//! completed types are compared with what the compiler itself says. The same
//! glue is also compiled for wasm32-wasi with zig, when zig is installed.

use std::path::PathBuf;
use std::process::Command;

use wasmcffi::backend::native::{ArgBuffer, CallPlan, Library};
use wasmcffi::build::{self, Glue};
use wasmcffi::cdata::{Addr, HostMemory, Memory};
use wasmcffi::cdecl::{parse_cdef, parse_type, CdefOptions};
use wasmcffi::layout::{CKind, CType, Target, TypeResolver};
use wasmcffi::model::{ConstValue, Decl, Declarations};
use wasmcffi::Error;

/// A module built natively: its declarations (completed or not), glue and library.
struct Built {
    decls: Declarations,
    resolver: TypeResolver,
    glue: Glue,
    lib: Library,
    dir: PathBuf,
}

/// A fresh directory for one test's files.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmcffi-build-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Parses `cdef`, generates the glue, compiles `source` + glue with `cc -shared`, loads it.
fn build_native(name: &str, cdef: &str, source: &str) -> Built {
    let mut decls = Declarations::new();
    parse_cdef(&mut decls, cdef, &CdefOptions::default()).unwrap();
    let glue = build::generate(&decls).unwrap();
    let dir = temp_dir(name);
    let c_path = dir.join(format!("{name}.c"));
    std::fs::write(&c_path, format!("{source}\n{}", glue.c_source)).unwrap();
    let so = dir.join(format!("{name}.so"));
    let out = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-shared", "-fPIC", "-Wall", "-o"])
        .arg(&so)
        .arg(&c_path)
        .output()
        .expect("a C compiler (cc)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "cc failed:\n{stderr}\n--- source:\n{}",
        glue.c_source
    );
    assert!(!stderr.contains("warning"), "cc warned:\n{stderr}");
    let lib = Library::open(Some(so.to_str().unwrap()), 0).unwrap();
    Built {
        decls,
        resolver: TypeResolver::new(Target::Host),
        glue,
        lib,
        dir,
    }
}

impl Built {
    fn ctype(&mut self, text: &str) -> CType {
        let id = parse_type(&mut self.decls, text).unwrap();
        self.resolver.resolve(&self.decls.types, id).unwrap()
    }

    /// Calls `symbol` as `ret (*)(params...)` with raw argument words.
    fn call(&mut self, symbol: &str, ret: &str, params: &[&str], words: &[u64]) -> Vec<u8> {
        let ret = self.ctype(ret);
        let params: Vec<CType> = params.iter().map(|p| self.ctype(p)).collect();
        let plan = CallPlan::new(&ret, &params, None).unwrap();
        let mut args = ArgBuffer::new();
        for w in words {
            args.push_word(*w);
        }
        plan.call(self.lib.symbol(symbol).unwrap(), &args).unwrap()
    }

    /// The layout table, read through `_cffi_layout` / `_cffi_layout_len`.
    fn table(&mut self) -> Vec<u64> {
        let addr = u64_of(&self.call("_cffi_layout", "unsigned long long *", &[], &[]));
        let len = u64_of(&self.call("_cffi_layout_len", "unsigned long long", &[], &[]));
        let mut bytes = vec![0u8; usize::try_from(len).unwrap() * 8];
        HostMemory.read(addr, &mut bytes).unwrap();
        bytes.chunks(8).map(u64_of).collect()
    }

    /// Reads the table and completes the declarations with it.
    fn complete(&mut self) -> Result<(), Error> {
        let table = self.table();
        let plan = build::plan(&self.decls).unwrap();
        assert_eq!(plan, self.glue.plan, "the plan rebuilt at import differs");
        build::complete(&mut self.decls, &mut self.resolver, &plan, &table)
    }

    /// The address of global `name`, through its `_cffi_g_` accessor.
    fn global(&mut self, name: &str) -> Addr {
        u64_of(&self.call(&format!("_cffi_g_{name}"), "void *", &[], &[]))
    }

    fn constant(&self, name: &str) -> ConstValue {
        match self.decls.lib_items.get(name) {
            Some(Decl::Constant { value, .. }) => value.clone(),
            other => panic!("{name} is not a constant: {other:?}"),
        }
    }
}

impl Drop for Built {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn u64_of(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[..8].try_into().unwrap())
}

const CDEF: &str = r#"
struct point { int x; int y; };
struct rect { struct point a; struct point b; };
struct partial { int value; char tag; ...; };
struct holder { int n; int items[...]; };
typedef struct { int k; union { int i; float f; }; } anon_t;
struct outer { int tag; struct { int b; ...; } inner; ...; };
struct pu { union { int i; double d; }; ...; };
typedef int... small_t;
typedef float... real_t;
#define BIG_FLAG ...
#define NEG ...
#define FORTY_TWO 42
enum color { RED, GREEN, ... };
static const enum color FAVOURITE;
static const int SC;
static const double HALF;
extern int counter;
extern int table[5];
extern int arr[...];
extern int grid[...][3];
extern long long facts[...];
struct rect make_rect(struct point a, struct point b);
int area(struct rect r);
int add(int a, int b);
void fill(int *p, int n);
small_t half(small_t v);
real_t twice(real_t v);
int sum_va(int n, ...);
int apply(int (*f)(int), int x);
int (*pick(int which))(int);
int sum3(int a[3]);
size_t length(const char *s);
extern const int limit;
"#;

const SOURCE: &str = r#"
#include <stddef.h>
#include <stdarg.h>
struct point { int x; int y; };
struct rect { struct point a; struct point b; };
struct partial { double zz; char tag; long long big; int value; short hidden; };
struct holder { int n; int items[6]; };
typedef struct { int k; union { int i; float f; }; } anon_t;
struct outer { long pad; int tag; struct { char z; int b; } inner; };
struct pu { char c; union { int i; double d; }; };
typedef unsigned short small_t;
typedef double real_t;
#define BIG_FLAG (1ULL << 40)
#define NEG (-12)
#define FORTY_TWO (40 + 2)
enum color { BLUE = -2, RED = 3, GREEN = 7 };
static const int SC = 99;
static const enum color FAVOURITE = GREEN;
static const double HALF = 0.5;
int counter = 7;
int table[5] = { 1, 2, 3, 4, 5 };
int arr[13];
int grid[4][3];
long long facts[] = {
    sizeof(struct partial), _Alignof(struct partial),
    offsetof(struct partial, value), offsetof(struct partial, tag),
    sizeof(struct holder), offsetof(anon_t, f), sizeof(anon_t),
    offsetof(struct outer, inner), offsetof(struct outer, inner.b),
    sizeof(((struct outer *)0)->inner), offsetof(struct pu, d), sizeof(struct pu),
};
struct rect make_rect(struct point a, struct point b) { struct rect r = { a, b }; return r; }
int area(struct rect r) { return (r.b.x - r.a.x) * (r.b.y - r.a.y); }
int add(int a, int b) { return a + b; }
void fill(int *p, int n) { for (int i = 0; i < n; i++) p[i] = i * i; }
small_t half(small_t v) { return v / 2; }
real_t twice(real_t v) { return v * 2; }
static int neg(int x) { return -x; }
int apply(int (*f)(int), int x) { return f(x); }
int (*pick(int which))(int) { return which ? neg : 0; }
int sum3(int a[3]) { return a[0] + a[1] + a[2]; }
size_t length(const char *s) { size_t n = 0; while (s[n]) n++; return n; }
const int limit = 100;
int sum_va(int n, ...) {
    va_list ap; int s = 0; va_start(ap, n);
    for (int i = 0; i < n; i++) s += va_arg(ap, int);
    va_end(ap); return s;
}
"#;

#[test]
fn build_glue_completes_from_the_native_compiler() {
    let mut b = build_native("complete", CDEF, SOURCE);
    assert_eq!(b.glue.plan.variadic, ["sum_va"]);
    assert!(b.glue.plan.functions.iter().any(|f| f == "make_rect"));
    // A `const` scalar global is a constant too, as in CFFI.
    assert_eq!(b.glue.plan.copied_constants, ["HALF", "limit"]);
    b.complete().unwrap();

    // The compiler's own numbers, from the `facts` array (its `[...]` completed too).
    let facts_ty = b.ctype("long long[12]");
    let facts_addr = b.global("facts");
    let mut raw = vec![0u8; 12 * 8];
    HostMemory.read(facts_addr, &mut raw).unwrap();
    let facts: Vec<u64> = raw.chunks(8).map(u64_of).collect();
    assert_eq!(facts_ty.size(), Some(96));

    let partial = b.ctype("struct partial");
    let l = partial.record_layout().expect("partial struct completed");
    assert_eq!((l.size, l.align), (facts[0], facts[1]));
    let names: Vec<&str> = l.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["value", "tag"]);
    assert_eq!(l.fields[0].offset, facts[2]);
    assert_eq!(l.fields[1].offset, facts[3]);
    assert_eq!(l.fields[0].ty.cname(), "int");

    let holder = b.ctype("struct holder");
    assert_eq!(holder.size(), Some(facts[4]));
    let items = &holder.record_layout().unwrap().fields[1];
    assert_eq!(items.ty.cname(), "int[6]");

    let anon = b.ctype("anon_t");
    let al = anon.record_layout().unwrap();
    assert_eq!(al.size, facts[6]);
    assert_eq!(
        al.fields.iter().find(|f| f.name == "f").unwrap().offset,
        facts[5]
    );

    let outer = b.ctype("struct outer");
    let ol = outer.record_layout().expect("partial struct completed");
    assert_eq!(ol.fields[1].name, "inner");
    assert_eq!(ol.fields[1].offset, facts[7]);
    let inner = ol.fields[1].ty.clone();
    assert_eq!(inner.size(), Some(facts[9]));
    let il = inner
        .record_layout()
        .expect("nested anonymous partial struct completed");
    assert_eq!(facts[7] + il.fields[0].offset, facts[8]);
    let pu = b.ctype("struct pu");
    let pl = pu.record_layout().unwrap();
    assert_eq!(pl.size, facts[11]);
    let d = pl.fields.iter().find(|f| f.name == "d").unwrap();
    assert_eq!(
        (d.offset, d.ty.cname(), d.skip_in_positional_init),
        (facts[10], "double", true)
    );
    assert_eq!(b.constant("FAVOURITE"), ConstValue::Int(7));

    assert_eq!(b.constant("BIG_FLAG"), ConstValue::Int(1 << 40));
    assert_eq!(b.constant("NEG"), ConstValue::Int(-12));
    assert_eq!(b.constant("FORTY_TWO"), ConstValue::Int(42));
    assert_eq!(b.constant("SC"), ConstValue::Int(99));
    assert_eq!(b.constant("RED"), ConstValue::Int(3));
    assert_eq!(b.constant("GREEN"), ConstValue::Int(7));
    let color = b.ctype("enum color");
    assert_eq!(color.size(), Some(4));

    assert_eq!(b.ctype("small_t").cname(), "uint16_t");
    assert_eq!(b.ctype("real_t").cname(), "double");
    let Some(Decl::Function { ty }) = b.decls.lib_items.get("half").cloned() else {
        panic!()
    };
    let half = b.decls.types.c_name(ty);
    assert_eq!(half, "uint16_t(uint16_t)");

    for (name, cname) in [
        ("arr", "int[13]"),
        ("grid", "int[4][3]"),
        ("facts", "long long[12]"),
    ] {
        let Some(Decl::Global(g)) = b.decls.lib_items.get(name).cloned() else {
            panic!()
        };
        assert_eq!(b.decls.types.c_name(g.ty), cname);
    }

    // Globals through their accessors.
    let counter = b.global("counter");
    let mut word = [0u8; 4];
    HostMemory.read(counter, &mut word).unwrap();
    assert_eq!(i32::from_le_bytes(word), 7);
    let table = b.global("table");
    HostMemory.read(table + 8, &mut word).unwrap();
    assert_eq!(i32::from_le_bytes(word), 3);

    // A non-integer constant through its getter.
    let mut half_value = 0f64;
    let out = std::ptr::addr_of_mut!(half_value) as u64;
    b.call("_cffi_c_HALF", "void", &["void *"], &[out]);
    assert_eq!(half_value, 0.5);
}

#[test]
fn build_glue_wrappers_take_pointers_to_arguments() {
    let mut b = build_native("wrappers", CDEF, SOURCE);
    b.complete().unwrap();
    let sig = ["void **", "void *"];

    // Structs by value in and out.
    let (pa, pb) = ([1i32, 2], [4i32, 6]);
    let argv = [pa.as_ptr() as u64, pb.as_ptr() as u64];
    let mut rect = [0i32; 4];
    b.call(
        "_cffi_f_make_rect",
        "void",
        &sig,
        &[argv.as_ptr() as u64, rect.as_mut_ptr() as u64],
    );
    assert_eq!(rect, [1, 2, 4, 6]);
    let argv = [rect.as_ptr() as u64];
    let mut result = 0i32;
    let res = std::ptr::addr_of_mut!(result) as u64;
    b.call("_cffi_f_area", "void", &sig, &[argv.as_ptr() as u64, res]);
    assert_eq!(result, 12);

    // Scalars, pointers, and completed `...` typedefs.
    let (x, y) = (40i32, 2i32);
    let argv = [std::ptr::addr_of!(x) as u64, std::ptr::addr_of!(y) as u64];
    b.call("_cffi_f_add", "void", &sig, &[argv.as_ptr() as u64, res]);
    assert_eq!(result, 42);
    let mut buf = [0i32; 4];
    let (p, n) = (buf.as_mut_ptr() as u64, 4i32);
    let argv = [std::ptr::addr_of!(p) as u64, std::ptr::addr_of!(n) as u64];
    b.call("_cffi_f_fill", "void", &sig, &[argv.as_ptr() as u64, 0]);
    assert_eq!(buf, [0, 1, 4, 9]);
    let (v, mut out) = (1000u16, 0u16);
    let argv = [std::ptr::addr_of!(v) as u64];
    b.call(
        "_cffi_f_half",
        "void",
        &sig,
        &[argv.as_ptr() as u64, std::ptr::addr_of_mut!(out) as u64],
    );
    assert_eq!(out, 500);
    let (d, mut dout) = (1.25f64, 0f64);
    let argv = [std::ptr::addr_of!(d) as u64];
    b.call(
        "_cffi_f_twice",
        "void",
        &sig,
        &[argv.as_ptr() as u64, std::ptr::addr_of_mut!(dout) as u64],
    );
    assert_eq!(dout, 2.5);
    // Function pointers in and out, array parameters, `const` pointees.
    let mut f = 0u64;
    let which = 1i32;
    let argv = [std::ptr::addr_of!(which) as u64];
    b.call(
        "_cffi_f_pick",
        "void",
        &sig,
        &[argv.as_ptr() as u64, std::ptr::addr_of_mut!(f) as u64],
    );
    let x = 5i32;
    let argv = [std::ptr::addr_of!(f) as u64, std::ptr::addr_of!(x) as u64];
    b.call("_cffi_f_apply", "void", &sig, &[argv.as_ptr() as u64, res]);
    assert_eq!(result, -5);
    let three = [1i32, 2, 3];
    let p3 = three.as_ptr() as u64;
    let argv = [std::ptr::addr_of!(p3) as u64];
    b.call("_cffi_f_sum3", "void", &sig, &[argv.as_ptr() as u64, res]);
    assert_eq!(result, 6);
    let (text, mut len) = (c"hello".as_ptr() as u64, 0u64);
    let argv = [std::ptr::addr_of!(text) as u64];
    b.call(
        "_cffi_f_length",
        "void",
        &sig,
        &[argv.as_ptr() as u64, std::ptr::addr_of_mut!(len) as u64],
    );
    assert_eq!(len, 5);
    // A `const` scalar global: its value through its getter, no address.
    let mut limit = 0i32;
    let out = std::ptr::addr_of_mut!(limit) as u64;
    b.call("_cffi_c_limit", "void", &["void *"], &[out]);
    assert_eq!(limit, 100);
    assert!(b.lib.symbol("_cffi_g_limit").is_err());
    assert!(
        b.lib.symbol("_cffi_f_sum_va").is_err(),
        "natively, variadic functions are called by address, not through a wrapper"
    );
    let sum_va = u64_of(&b.call("_cffi_v_sum_va", "void *", &[], &[]));
    let sig = b.ctype("int(*)(int, ...)");
    let CKind::Function(info) = sig.kind() else {
        panic!()
    };
    let int = b.ctype("int");
    let plan = CallPlan::new(&info.ret, &[int.clone(), int.clone(), int], Some(1)).unwrap();
    let mut args = ArgBuffer::new();
    for w in [2u64, 40, 2] {
        args.push_word(w);
    }
    assert_eq!(plan.call(sum_va, &args).unwrap()[..4], 42i32.to_le_bytes());
}

#[test]
fn build_glue_direct_wrappers_have_the_natural_signature() {
    let mut b = build_native("direct", CDEF, SOURCE);
    b.complete().unwrap();
    let int_of = |bytes: Vec<u8>| i32::from_le_bytes(bytes[..4].try_into().unwrap());
    assert_eq!(
        int_of(b.call("_cffi_d_add", "int", &["int", "int"], &[40, 2])),
        42
    );
    let twice = b.call("_cffi_d_twice", "double", &["double"], &[1.25f64.to_bits()]);
    assert_eq!(f64::from_le_bytes(twice[..8].try_into().unwrap()), 2.5);
    let three = [1i32, 2, 3];
    let sum = b.call("_cffi_d_sum3", "int", &["int *"], &[three.as_ptr() as u64]);
    assert_eq!(int_of(sum), 6);
    let mut buf = [0i32; 3];
    b.call(
        "_cffi_d_fill",
        "void",
        &["int *", "int"],
        &[buf.as_mut_ptr() as u64, 3],
    );
    assert_eq!(buf, [0, 1, 4]);
    let f = b.call("_cffi_d_pick", "void *", &["int"], &[1]);
    let f = u64::from_le_bytes(f[..8].try_into().unwrap());
    let applied = b.call("_cffi_d_apply", "int", &["void *", "int"], &[f, 5]);
    assert_eq!(int_of(applied), -5);
    for by_value in ["_cffi_d_make_rect", "_cffi_d_area", "_cffi_d_sum_va"] {
        assert!(
            b.lib.symbol(by_value).is_err(),
            "{by_value}: structs by value and variadic functions get no direct wrapper"
        );
    }
}

#[test]
fn build_glue_checks_exact_structs() {
    let cases = [
        (
            "struct wrong { int a; int b; };",
            "struct wrong { int a; long b; };",
            "struct wrong: wrong size for field 'b' (cdef says 4, but C compiler says 8)",
        ),
        (
            "struct wrong { char c; int d; };",
            "struct wrong { char c; char pad[7]; int d; };",
            "struct wrong: wrong offset for field 'd' (cdef says 4, but C compiler says 8)",
        ),
        (
            "typedef struct { int a; } wrong_t;",
            "typedef struct { int a; int b; } wrong_t;",
            "wrong_t: wrong total size (cdef says 4, but C compiler says 8)",
        ),
        (
            "struct wrong { char a[8]; };",
            "struct wrong { char a[8]; } __attribute__((aligned(8)));",
            "struct wrong: wrong total alignment (cdef says 1, but C compiler says 8)",
        ),
    ];
    for (i, (cdef, source, message)) in cases.into_iter().enumerate() {
        // As CFFI's API mode: the module loads, and the record fails when used.
        let mut b = build_native(&format!("wrong{i}"), cdef, source);
        assert_eq!(b.complete(), Ok(()), "{cdef} vs {source}");
        let name = message.split(':').next().unwrap();
        let expected = format!(
            "{message}. fix it or use \"...;\" as the last field in the cdef for {name} to make it flexible"
        );
        assert_eq!(b.decls.contradicted, vec![expected.clone()]);
        let ct = b.ctype(name);
        let CKind::Record(record) = ct.kind() else {
            panic!("{name} is not a record");
        };
        assert_eq!(record.unusable(name), Some(Error::Ffi(expected)));
        assert!(ct.record_layout().is_none());
        // The size and alignment are the compiler's, as in CFFI.
        let contradiction = record.contradiction.get().unwrap();
        assert_eq!(
            (ct.size(), ct.align()),
            (Some(contradiction.size), Some(contradiction.align))
        );
    }
    let mut b = build_native(
        "bits",
        "union ub { int x : 3; ...; };",
        "union ub { int x : 3; int y; };",
    );
    assert!(matches!(b.complete(), Err(Error::NotImplemented(m)) if m.contains("bitfield 'x'")));

    // A table that does not fit the declarations (a module built from another cdef).
    let mut b = build_native("mismatch", "struct s { int a; };", "struct s { int a; };");
    let plan = build::plan(&b.decls).unwrap();
    let short = b.table()[..3].to_vec();
    assert!(matches!(
        build::complete(&mut b.decls, &mut b.resolver, &plan, &short),
        Err(Error::Verification(m)) if m.contains("has 3 entries, but the cdef asks for 5")
    ));

    // A contradicted constant is kept, to fail when read (as CFFI's API mode does).
    let mut b = build_native("wrongconst", "#define Y 42\n", "#define Y 43\n");
    assert_eq!(b.complete(), Ok(()));
    let Some(Decl::Constant { value, .. }) = b.decls.lib_items.get("Y") else {
        panic!("Y vanished");
    };
    assert_eq!(
        value.disagreement("Y").as_deref(),
        Some("the C compiler says 'Y' is equal to 43 (0x2b), but the cdef disagrees")
    );
}

#[test]
fn build_glue_compiles_for_wasm32_with_zig() {
    let mut decls = Declarations::new();
    parse_cdef(&mut decls, CDEF, &CdefOptions::default()).unwrap();
    let glue = build::generate(&decls).unwrap();
    let dir = temp_dir("wasm");
    let c_path = dir.join("module.c");
    std::fs::write(&c_path, format!("{SOURCE}\n{}", glue.c_source)).unwrap();
    let Some(mut zig) = crate::support::zig_cc() else {
        eprintln!("skipped: zig (the ziglang package) is not installed");
        return;
    };
    let out = zig
        .args([
            "--target=wasm32-wasi",
            "-mexec-model=reactor",
            "-Wall",
            "-c",
            "-o",
        ])
        .arg(dir.join("module.o"))
        .arg(&c_path)
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    match out {
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("No module named ziglang") => {
            eprintln!("skipped: zig (the ziglang package) is not installed");
        }
        Ok(out) => assert!(
            out.status.success(),
            "zig cc failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("skipped: cannot run python3 -m ziglang: {e}"),
    }
}
