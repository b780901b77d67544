//! The native backend: libc functions called through libffi, closures called by C.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use wasmcffi::backend::native::{errno, ArgBuffer, CallPlan, Closure, Library};
use wasmcffi::cdata::{self, HostMemory, Memory};
use wasmcffi::cdecl::{parse_cdef, parse_type, CdefOptions};
use wasmcffi::layout::{CKind, CType, Target, TypeResolver};
use wasmcffi::model::Declarations;
use wasmcffi::Error;

/// Declarations and a host resolver for `cdef`.
fn host_types(cdef: &str) -> (Declarations, TypeResolver) {
    let mut decls = Declarations::new();
    parse_cdef(&mut decls, cdef, &CdefOptions::default()).unwrap();
    (decls, TypeResolver::new(Target::Host))
}

fn ctype(types: &mut (Declarations, TypeResolver), text: &str) -> CType {
    let id = parse_type(&mut types.0, text).unwrap();
    types.1.resolve(&types.0.types, id).unwrap()
}

/// The plan of a function-pointer type.
fn plan_of(fp: &CType) -> CallPlan {
    let CKind::Function(f) = fp.kind() else {
        panic!("not a function pointer: {fp:?}")
    };
    CallPlan::new(&f.ret, &f.params, None).unwrap()
}

fn args(values: &[Vec<u8>]) -> ArgBuffer {
    let mut buf = ArgBuffer::new();
    for v in values {
        buf.push(v);
    }
    buf
}

#[test]
fn native_call_libc_abs_and_strlen() {
    let mut t = host_types("int abs(int); size_t strlen(const char *);");
    let libc = Library::open(None, 0).unwrap();
    let abs = plan_of(&ctype(&mut t, "int(*)(int)"));
    let out = abs
        .call(
            libc.symbol("abs").unwrap(),
            &args(&[(-42i32).to_le_bytes().to_vec()]),
        )
        .unwrap();
    assert_eq!(out, 42i32.to_le_bytes());

    let text = b"hello\0";
    let strlen = plan_of(&ctype(&mut t, "size_t(*)(const char *)"));
    let addr = text.as_ptr() as usize as u64;
    let out = strlen
        .call(
            libc.symbol("strlen").unwrap(),
            &args(&[addr.to_le_bytes().to_vec()]),
        )
        .unwrap();
    assert_eq!(out, 5u64.to_le_bytes());
}

#[test]
fn native_call_double_and_variadic() {
    let mut t = host_types("");
    let libm = Library::open(Some("libm.so.6"), 0).unwrap();
    let hypot = plan_of(&ctype(&mut t, "double(*)(double, double)"));
    let out = hypot
        .call(
            libm.symbol("hypot").unwrap(),
            &args(&[3f64.to_le_bytes().to_vec(), 4f64.to_le_bytes().to_vec()]),
        )
        .unwrap();
    assert_eq!(f64::from_le_bytes(out.try_into().unwrap()), 5.0);

    // snprintf(buf, 32, "%d-%s", 7, "x"): variadic int and pointer arguments.
    let libc = Library::open(None, 0).unwrap();
    let params = ["char *", "size_t", "const char *", "int", "char *"].map(|p| ctype(&mut t, p));
    let ret = ctype(&mut t, "int");
    let plan = CallPlan::new(&ret, &params, Some(3)).unwrap();
    let mut buf = [0u8; 32];
    let fmt = b"%d-%s\0";
    let x = b"x\0";
    let out = plan
        .call(
            libc.symbol("snprintf").unwrap(),
            &args(&[
                (buf.as_mut_ptr() as u64).to_le_bytes().to_vec(),
                32u64.to_le_bytes().to_vec(),
                (fmt.as_ptr() as u64).to_le_bytes().to_vec(),
                7i32.to_le_bytes().to_vec(),
                (x.as_ptr() as u64).to_le_bytes().to_vec(),
            ]),
        )
        .unwrap();
    assert_eq!(i32::from_le_bytes(out.try_into().unwrap()), 3);
    assert_eq!(&buf[..4], b"7-x\0");
}

#[test]
fn native_struct_by_value_through_libc_div() {
    let mut t = host_types("typedef struct { int quot; int rem; } div_t;");
    let libc = Library::open(None, 0).unwrap();
    let plan = plan_of(&ctype(&mut t, "div_t(*)(int, int)"));
    let out = plan
        .call(
            libc.symbol("div").unwrap(),
            &args(&[17i32.to_le_bytes().to_vec(), 5i32.to_le_bytes().to_vec()]),
        )
        .unwrap();
    assert_eq!(out, [3i32.to_le_bytes(), 2i32.to_le_bytes()].concat());
}

#[test]
fn native_unsupported_by_value_types_are_refused() {
    let mut t = host_types("union u { int a; float b; }; struct b { int x : 3; };");
    let int = ctype(&mut t, "int");
    for bad in ["union u", "struct b", "double _Complex"] {
        let ty = ctype(&mut t, bad);
        assert!(
            matches!(
                CallPlan::new(&int, &[ty], None),
                Err(Error::NotImplemented(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn native_null_function_is_an_error() {
    let mut t = host_types("");
    let plan = plan_of(&ctype(&mut t, "int(*)(int)"));
    assert!(matches!(
        plan.call(0, &args(&[1i32.to_le_bytes().to_vec()])),
        Err(Error::Runtime(_))
    ));
}

#[test]
fn native_errno_is_saved_and_restored_per_call() {
    let mut t = host_types("");
    let libc = Library::open(None, 0).unwrap();
    // strtol("99999999999999999999", NULL, 10) sets errno to ERANGE.
    let plan = plan_of(&ctype(&mut t, "long(*)(const char *, char **, int)"));
    let text = b"99999999999999999999\0";
    errno::set_saved(0);
    plan.call(
        libc.symbol("strtol").unwrap(),
        &args(&[
            (text.as_ptr() as u64).to_le_bytes().to_vec(),
            0u64.to_le_bytes().to_vec(),
            10i32.to_le_bytes().to_vec(),
        ]),
    )
    .unwrap();
    assert_eq!(errno::saved(), libc::ERANGE);
    // Another thread has its own saved value.
    std::thread::spawn(|| assert_eq!(errno::saved(), 0))
        .join()
        .unwrap();
}

#[test]
fn native_closure_sorts_with_qsort() {
    let mut t = host_types("");
    let cmp_type = ctype(&mut t, "int(*)(const void *, const void *)");
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let closure = Closure::new(
        plan_of(&cmp_type),
        Box::new(move |args, ret| {
            seen.fetch_add(1, Ordering::Relaxed);
            let mem = HostMemory;
            let read = |p: *const u8| {
                // Each argument is a `const void *` pointing at an int.
                let ptr = cdata::read_pointer(&mem, p as usize as u64).unwrap();
                let mut v = [0u8; 4];
                mem.read(ptr, &mut v).unwrap();
                i32::from_le_bytes(v)
            };
            let order = read(args[0]).cmp(&read(args[1])) as i32;
            mem.write(ret as usize as u64, &order.to_le_bytes())
                .unwrap();
        }),
    )
    .unwrap();
    let mut data = [5i32, -3, 9, 0, 2];
    let libc = Library::open(None, 0).unwrap();
    let qsort = plan_of(&ctype(
        &mut t,
        "void(*)(void *, size_t, size_t, int(*)(const void *, const void *))",
    ));
    let out = qsort
        .call(
            libc.symbol("qsort").unwrap(),
            &args(&[
                (data.as_mut_ptr() as u64).to_le_bytes().to_vec(),
                5u64.to_le_bytes().to_vec(),
                4u64.to_le_bytes().to_vec(),
                closure.code_ptr().to_le_bytes().to_vec(),
            ]),
        )
        .unwrap();
    assert!(out.is_empty());
    assert_eq!(data, [-3, 0, 2, 5, 9]);
    assert!(calls.load(Ordering::Relaxed) > 0);
}

#[test]
fn native_missing_library_and_symbol() {
    assert!(matches!(
        Library::open(Some("/nonexistent/libnope.so"), 0),
        Err(Error::Os(_))
    ));
    let libc = Library::open(None, 0).unwrap();
    assert!(matches!(
        libc.symbol("no_such_symbol_here"),
        Err(Error::Attribute(_))
    ));
}
