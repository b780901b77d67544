//! `ffi.string()` and `ffi.unpack()`.

use super::support::*;
use crate::cdata::*;
use crate::model::{Prim, RecordKind};

fn str_of(text: &str) -> StringResult {
    StringResult::Str(text.chars().map(u32::from).collect())
}

#[test]
fn string_of_char_data() {
    both(|mem, t| {
        let c = t.prim(Prim::Char);
        let open = t.array(&c, None);
        let a = new(mem, &open, &b(b"hello")).unwrap();
        let ptr = t.ptr(&c);
        assert_eq!(
            string(mem, &ptr, a, None).unwrap(),
            StringResult::Bytes(b"hello".to_vec())
        );
        assert_eq!(
            string(mem, &ptr, a, Some(3)).unwrap(),
            StringResult::Bytes(b"hel".to_vec())
        );
        let c10 = t.array(&c, Some(10));
        let a10 = new(mem, &c10, &b(b"hello")).unwrap();
        assert_eq!(
            string(mem, &c10, a10, Some(30)).unwrap(),
            StringResult::Bytes(b"hello".to_vec())
        );
        let c3 = t.array(&c, Some(3));
        assert_eq!(
            string(mem, &c3, a, None).unwrap(),
            StringResult::Bytes(b"hel".to_vec())
        );
        assert_eq!(
            err(string(mem, &ptr, 0, None), "Runtime"),
            "cannot use string() on <cdata 'char *' NULL>"
        );
        let ip = t.ptr(&t.prim(Prim::Int));
        assert_eq!(
            err(string(mem, &ip, 0, None), "Runtime"),
            "cannot use string() on <cdata 'int *' NULL>"
        );
        assert_eq!(
            err(string(mem, &ip, a, None), "Type"),
            "string(): unexpected cdata 'int *' argument"
        );
        for p in [Prim::SChar, Prim::UChar] {
            let pt = t.ptr(&t.prim(p));
            assert_eq!(
                string(mem, &pt, a, None).unwrap(),
                StringResult::Bytes(b"hello".to_vec())
            );
        }
        for bad in [
            t.ptr(&t.prim(Prim::Bool)),
            t.ptr(&t.void()),
            t.ptr(&t.prim(Prim::Double)),
            t.array(&t.prim(Prim::Bool), None),
        ] {
            let e = err(string(mem, &bad, 0, None), "Type");
            assert_eq!(
                e,
                format!("string(): unexpected cdata '{}' argument", bad.cname())
            );
        }
        let st = t.record(RecordKind::Struct, "s", &[("x", t.prim(Prim::Int))]);
        assert_eq!(
            err(string(mem, &t.ptr(&st), 0, None), "Type"),
            "string(): unexpected cdata 'struct s *' argument"
        );
        let e = t.enum_ty("e", Prim::Int, &[("A", 0)]);
        assert_eq!(
            err(string(mem, &t.ptr(&e), 0, None), "Runtime"),
            "cannot use string() on <cdata 'enum e *' NULL>"
        );
        let ch = new(mem, &c, &b(b"A")).unwrap();
        assert_eq!(
            string(mem, &c, ch, None).unwrap(),
            StringResult::Bytes(b"A".to_vec())
        );
        let i = t.prim(Prim::Int);
        let x = new(mem, &i, &int(5)).unwrap();
        assert_eq!(
            err(string(mem, &i, x, None), "Type"),
            "string(): unexpected cdata 'int' argument"
        );
    });
}

#[test]
fn string_of_wide_data_and_enums() {
    both(|mem, t| {
        let w = t.prim(Prim::WChar);
        let open = t.array(&w, None);
        let a = new(mem, &open, &s("h\u{1F600}i")).unwrap();
        assert_eq!(
            string(mem, &open, a, Some(4)).unwrap(),
            str_of("h\u{1F600}i")
        );
        assert_eq!(
            string(mem, &t.ptr(&w), a, Some(2)).unwrap(),
            str_of("h\u{1F600}")
        );
        let c16 = t.prim(Prim::Char16);
        let o16 = t.array(&c16, None);
        let a = new(mem, &o16, &s("\u{1F600}")).unwrap();
        assert_eq!(
            string(mem, &t.ptr(&c16), a, Some(1)).unwrap(),
            StringResult::Str(vec![0xD83D])
        );
        assert_eq!(
            string(mem, &t.ptr(&c16), a, None).unwrap(),
            str_of("\u{1F600}")
        );
        let a = new(mem, &o16, &Value::Str(vec![97, 0xD83D])).unwrap();
        assert_eq!(
            string(mem, &t.ptr(&c16), a, None).unwrap(),
            StringResult::Str(vec![97, 0xD83D])
        );
        let one = new(mem, &c16, &Value::Str(vec![0xD83D])).unwrap();
        assert_eq!(
            string(mem, &c16, one, None).unwrap(),
            StringResult::Str(vec![0xD83D])
        );
        let e = t.enum_ty("e", Prim::Int, &[("A", 0), ("B", 5), ("C", -1)]);
        for (v, text) in [(5, "B"), (99, "99"), (-1, "C")] {
            let x = new(mem, &e, &int(v)).unwrap();
            assert_eq!(string(mem, &e, x, None).unwrap(), str_of(text));
        }
        // A wchar_t holding no code point is refused, not a panic.
        let bad = alloc(mem, 4);
        mem.write(bad, &(-1i32).to_le_bytes()).unwrap();
        assert!(matches!(
            string(mem, &w, bad, None),
            Err(crate::Error::Value(_))
        ));
        assert!(matches!(
            read_prim(mem, bad, &w),
            Err(crate::Error::Value(_))
        ));
    });
}

#[test]
fn unpack_matches_cffi() {
    both(|mem, t| {
        let c = t.prim(Prim::Char);
        let a = new(mem, &t.array(&c, None), &b(b"he\0llo")).unwrap();
        assert!(matches!(unpack(mem, &c, a, 6).unwrap(), Value::Bytes(v) if v == b"he\0llo"));
        let uc = t.prim(Prim::UChar);
        assert!(
            matches!(unpack(mem, &uc, a, 2).unwrap(), Value::List(v) if matches!(v[..], [Value::Int(104), Value::Int(101)]))
        );
        let i = t.prim(Prim::Int);
        let a = new(mem, &t.array(&i, None), &ints(&[1, 2, 3])).unwrap();
        assert!(matches!(unpack(mem, &i, a, 2).unwrap(), Value::List(v) if v.len() == 2));
        assert!(matches!(unpack(mem, &i, a, 0).unwrap(), Value::List(v) if v.is_empty()));
        assert_eq!(
            err(unpack(mem, &i, 0, 1), "Runtime"),
            "cannot use unpack() on <cdata 'int *' NULL>"
        );
        assert_eq!(
            err(unpack(mem, &t.void(), 0, 2), "Runtime"),
            "cannot use unpack() on <cdata 'void *' NULL>"
        );
        assert_eq!(
            err(unpack(mem, &t.void(), 5, 2), "Value"),
            "'void *' points to items of unknown size"
        );
        assert!(matches!(
            unpack(mem, &i, a, u64::MAX),
            Err(crate::Error::Overflow(_))
        ));
        let w = t.prim(Prim::Char16);
        let a = new(mem, &t.array(&w, None), &s("\u{1F600}")).unwrap();
        assert!(matches!(unpack(mem, &w, a, 2).unwrap(), Value::Str(v) if v == [0x1F600]));
        assert!(matches!(unpack(mem, &w, a, 1).unwrap(), Value::Str(v) if v == [0xD83D]));
        let st = t.record(
            RecordKind::Struct,
            "s",
            &[("x", i.clone()), ("y", t.prim(Prim::Short))],
        );
        let sa = new(mem, &t.array(&st, Some(2)), &list(vec![ints(&[1, 2])])).unwrap();
        let size = st.size().unwrap();
        assert!(matches!(unpack(mem, &st, sa, 2).unwrap(), Value::List(v)
            if matches!(v[..], [Value::CData { addr: a0, .. }, Value::CData { addr: a1, .. }] if a0 == sa && a1 == sa + size)));
        let ip = t.ptr(&i);
        let pa = new(
            mem,
            &t.array(&ip, Some(2)),
            &list(vec![Value::CData {
                ty: ip.clone(),
                addr: 0x40,
            }]),
        )
        .unwrap();
        assert!(matches!(unpack(mem, &ip, pa, 2).unwrap(), Value::List(v)
            if matches!(v[..], [Value::CData { addr: 0x40, .. }, Value::CData { addr: 0, .. }])));
        let bl = t.prim(Prim::Bool);
        let ba = new(mem, &t.array(&bl, Some(2)), &ints(&[1, 0])).unwrap();
        assert!(
            matches!(unpack(mem, &bl, ba, 2).unwrap(), Value::List(v) if matches!(v[..], [Value::Bool(true), Value::Bool(false)]))
        );
        let ld = t.prim(Prim::LongDouble);
        let la = new(mem, &t.array(&ld, Some(2)), &ints(&[1, 0])).unwrap();
        assert!(
            matches!(unpack(mem, &ld, la, 2).unwrap(), Value::List(v) if matches!(v[..], [Value::CData { .. }, Value::CData { .. }]))
        );
    });
}

#[test]
fn string_stops_at_the_end_of_sandbox_memory() {
    // A string ending exactly at the end of linear memory: chunked reads must not fail.
    let mem = VecMemory::new();
    let t = Types {
        target: crate::layout::Target::Wasm32,
    };
    let c = t.prim(Prim::Char);
    let a = alloc(&mem, 3);
    mem.write(a, b"ab\0").unwrap();
    assert_eq!(
        string(&mem, &t.ptr(&c), a, None).unwrap(),
        StringResult::Bytes(b"ab".to_vec())
    );
    mem.write(a, b"abc").unwrap();
    assert!(matches!(
        string(&mem, &t.ptr(&c), a, None),
        Err(crate::Error::Memory(_))
    ));
}

#[test]
fn pointer_cnames() {
    let t = Types {
        target: crate::layout::Target::Host,
    };
    let i = t.prim(Prim::Int);
    assert_eq!(pointer_cname(&i), "int *");
    assert_eq!(pointer_cname(&t.ptr(&i)), "int * *");
    assert_eq!(pointer_cname(&t.array(&i, Some(3))), "int(*)[3]");
    assert_eq!(pointer_cname(&t.array(&t.ptr(&i), Some(3))), "int *(*)[3]");
    assert_eq!(t.array(&t.array(&i, Some(3)), None).cname(), "int[][3]");
}
