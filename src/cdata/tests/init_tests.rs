//! Pointers, arrays, structs, unions, flexible arrays and bitfields.

use super::support::*;
use crate::cdata::*;
use crate::layout::{CKind, RecordLayout};
use crate::model::{Prim, RecordKind};

fn cd(ty: &crate::layout::CType, addr: Addr) -> Value {
    Value::CData {
        ty: ty.clone(),
        addr,
    }
}

pub(super) fn read_ints(
    mem: &dyn Memory,
    addr: Addr,
    item: &crate::layout::CType,
    n: u64,
) -> Vec<i128> {
    match unpack(mem, item, addr, n).unwrap() {
        Value::List(v) => v
            .into_iter()
            .map(|x| {
                if let Value::Int(i) = x {
                    i
                } else {
                    panic!("{x:?}")
                }
            })
            .collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn pointer_rules_match_cffi() {
    both(|mem, t| {
        let int_t = t.prim(Prim::Int);
        let ip = t.ptr(&int_t);
        let ipp = t.ptr(&ip);
        let target = alloc(mem, 8);
        // Same type, NULL via `void *`, arrays decaying.
        let p = new(mem, &ip, &cd(&ip, target)).unwrap();
        assert_eq!(read_pointer(mem, p).unwrap(), target);
        let vp = t.ptr(&t.void());
        write_init(mem, p, &ip, &cd(&vp, 0)).unwrap();
        assert_eq!(read_pointer(mem, p).unwrap(), 0);
        let arr = t.array(&int_t, Some(3));
        write_init(mem, p, &ip, &cd(&arr, target)).unwrap();
        assert_eq!(read_pointer(mem, p).unwrap(), target);
        let vpp = new(mem, &vp, &cd(&ip, target)).unwrap();
        assert_eq!(read_pointer(mem, vpp).unwrap(), target);
        assert!(
            matches!(read_value(mem, p, &ip).unwrap(), Value::CData { addr, .. } if addr == target)
        );
        // Refusals.
        let msg = |v: &Value| err(write_init(mem, p, &ip, v), "Type");
        assert_eq!(
            msg(&int(0)),
            "initializer for ctype 'int *' must be a cdata pointer, not int"
        );
        assert_eq!(
            msg(&Value::None),
            "initializer for ctype 'int *' must be a cdata pointer, not NoneType"
        );
        assert_eq!(
            msg(&b(b"abc")),
            "initializer for ctype 'int *' must be a cdata pointer, not bytes"
        );
        let lp = t.ptr(&t.prim(Prim::Long));
        assert_eq!(
            msg(&cd(&lp, target)),
            "initializer for ctype 'int *' must be a pointer to same type, not cdata 'long *'"
        );
        assert_eq!(
            msg(&cd(&ipp, target)),
            "initializer for ctype 'int *' must be a pointer to same type, not cdata 'int * *'"
        );
        let arr23 = t.array(&arr, Some(2));
        assert_eq!(
            msg(&cd(&arr23, target)),
            "initializer for ctype 'int *' must be a pointer to same type, not cdata 'int[2][3]'"
        );
        assert_eq!(
            msg(&cd(&int_t, target)),
            "initializer for ctype 'int *' must be a pointer or array, not cdata 'int'"
        );
        let ip2 = t.ptr(&t.prim(Prim::Int)); // same name, another type object
        assert_eq!(
            msg(&cd(&ip2, target)),
            "initializer for ctype 'int *' appears indeed to be 'int *', but the types are different \
             (check that you are not e.g. mixing up different ffi instances)"
        );
        // Pointer to array from a 2-D array.
        let parr = t.ptr(&arr);
        assert!(write_init(mem, p, &parr, &cd(&arr23, target)).is_ok());
    });
}

#[test]
fn char_pointer_rules_match_cffi_2() {
    both(|mem, t| {
        let cp = t.ptr(&t.prim(Prim::Char));
        let p = alloc(mem, 8);
        let x = alloc(mem, 8);
        for ok in [Prim::UChar, Prim::SChar, Prim::Bool, Prim::Int8] {
            assert!(
                write_init(mem, p, &cp, &cd(&t.ptr(&t.prim(ok)), x)).is_ok(),
                "{ok:?}"
            );
        }
        let c1 = t.record(RecordKind::Struct, "c1", &[("x", t.prim(Prim::Char))]);
        assert!(write_init(mem, p, &cp, &cd(&t.ptr(&c1), x)).is_ok());
        assert!(write_init(mem, p, &t.ptr(&c1), &cd(&cp, x)).is_ok());
        assert!(write_init(mem, p, &cp, &cd(&t.array(&t.prim(Prim::Char), Some(3)), x)).is_ok());
        let hint = "(check that the types are as you expect; use an explicit ffi.cast() if they are correct)";
        let ip = t.ptr(&t.prim(Prim::Int));
        assert_eq!(
            err(write_init(mem, p, &cp, &cd(&ip, x)), "Type"),
            format!("implicit cast to 'char *' from a different pointer type.{hint}")
        );
        assert_eq!(
            err(write_init(mem, p, &ip, &cd(&cp, x)), "Type"),
            format!("implicit cast from 'char *' to a different pointer type: {hint}")
        );
        assert!(write_init(mem, p, &cp, &cd(&t.ptr(&cp), x)).is_err());
        let ucp = t.ptr(&t.prim(Prim::UChar));
        assert_eq!(
            err(write_init(mem, p, &ucp, &cd(&ip, x)), "Type"),
            "initializer for ctype 'unsigned char *' must be a pointer to same type, not cdata 'int *'"
        );
    });
}

#[test]
fn function_pointers() {
    both(|mem, t| {
        let i = t.prim(Prim::Int);
        let f = t.func(&i, std::slice::from_ref(&i));
        let g = t.func(&i, &[t.prim(Prim::Long)]);
        assert_eq!(f.cname(), "int(*)(int)");
        let p = alloc(mem, 8);
        assert!(write_init(mem, p, &f, &cd(&f, 0x10)).is_ok());
        assert_eq!(read_pointer(mem, p).unwrap(), 0x10);
        assert!(write_init(mem, p, &f, &cd(&t.ptr(&t.void()), 0x20)).is_ok());
        assert!(write_init(mem, p, &t.ptr(&t.void()), &cd(&f, 0x20)).is_ok());
        assert_eq!(
            err(write_init(mem, p, &f, &cd(&g, 1)), "Type"),
            "initializer for ctype 'int(*)(int)' must be a pointer to same type, not cdata 'int(*)(long)'"
        );
        assert_eq!(
            err(write_init(mem, p, &f, &int(0)), "Type"),
            "initializer for ctype 'int(*)(int)' must be a cdata pointer, not int"
        );
        assert_eq!(pointer_cname(&f), "int(* *)(int)");
    });
}

#[test]
fn arrays_match_cffi() {
    both(|mem, t| {
        let i = t.prim(Prim::Int);
        let a3 = t.array(&i, Some(3));
        let a = new(mem, &a3, &ints(&[1, 2])).unwrap();
        assert_eq!(read_ints(mem, a, &i, 3), [1, 2, 0]);
        assert_eq!(
            err(new(mem, &a3, &ints(&[1, 2, 3, 4])), "Index"),
            "too many initializers for 'int[3]' (got 4)"
        );
        assert_eq!(
            err(new(mem, &a3, &int(3)), "Type"),
            "initializer for ctype 'int[3]' must be a list or tuple, not int"
        );
        assert_eq!(
            err(new(mem, &a3, &b(b"ab")), "Type"),
            "initializer for ctype 'int[3]' must be a list or tuple, not bytes"
        );
        let open = t.array(&i, None);
        assert_eq!(open_length(&open, &ints(&[1, 2, 3, 4])).unwrap(), Some(4));
        assert_eq!(var_size(&open, &ints(&[1, 2, 3, 4])).unwrap(), Some(16));
        assert_eq!(open_length(&open, &int(3)).unwrap(), Some(3));
        let a = new(mem, &open, &int(3)).unwrap();
        assert_eq!(read_ints(mem, a, &i, 3), [0, 0, 0]);
        assert_eq!(
            err(open_length(&open, &int(-1)), "Value"),
            "negative array length"
        );
        assert_eq!(
            err(open_length(&open, &Value::HugeInt(true)), "Overflow"),
            "cannot fit 'int' into an index-sized integer"
        );
        assert_eq!(
            err(open_length(&open, &Value::Float(1.5)), "Type"),
            "expected new array length or list/tuple/str, not float"
        );
        assert_eq!(
            err(open_length(&open, &Value::None), "Type"),
            "expected new array length or list/tuple/str, not NoneType"
        );
        // 2-D arrays and copies.
        let a23 = t.array(&a3, Some(2));
        assert_eq!(a23.cname(), "int[2][3]");
        let a = new(mem, &a23, &list(vec![ints(&[1, 2]), ints(&[3])])).unwrap();
        assert_eq!(read_ints(mem, a, &i, 6), [1, 2, 0, 3, 0, 0]);
        assert_eq!(
            err(new(mem, &a23, &list(vec![ints(&[1, 2, 3, 4])])), "Index"),
            "too many initializers for 'int[3]' (got 4)"
        );
        assert_eq!(
            err(new(mem, &a23, &ints(&[1])), "Type"),
            "initializer for ctype 'int[3]' must be a list or tuple, not int"
        );
        let src = new(mem, &a3, &ints(&[4, 5, 6])).unwrap();
        let c = new(mem, &a3, &cd(&a3, src)).unwrap();
        assert_eq!(read_ints(mem, c, &i, 3), [4, 5, 6]);
        let a2 = t.array(&i, Some(2));
        assert_eq!(
            err(new(mem, &a2, &cd(&a3, src)), "Type"),
            "initializer for ctype 'int[2]' must be a list or tuple, not cdata 'int[3]'"
        );
        // Assignment writes only what is given (`p[2] = [10, 20]`).
        write_init(mem, c, &a3, &ints(&[10])).unwrap();
        assert_eq!(read_ints(mem, c, &i, 3), [10, 5, 6]);
    });
}

#[test]
fn byte_arrays_match_cffi() {
    both(|mem, t| {
        let c = t.prim(Prim::Char);
        let c2 = t.array(&c, Some(2));
        assert_eq!(
            err(new(mem, &c2, &b(b"abc")), "Index"),
            "initializer bytes is too long for 'char[2]' (got 3 characters)"
        );
        assert_eq!(
            err(new(mem, &c2, &s("ab")), "Type"),
            "initializer for ctype 'char[2]' must be a bytes or list or tuple, not str"
        );
        let c3 = t.array(&c, Some(3));
        let a = new(mem, &c3, &b(b"abc")).unwrap(); // exact fit: no NUL
        assert_eq!(
            string(mem, &c3, a, None).unwrap(),
            StringResult::Bytes(b"abc".to_vec())
        );
        let open = t.array(&c, None);
        assert_eq!(open_length(&open, &b(b"ab")).unwrap(), Some(3));
        // `p.a = b"ab"` on a `char[4]` holding "wxyz" writes 'a','b','\0' and keeps 'z'.
        let c4 = t.array(&c, Some(4));
        let a = new(mem, &c4, &b(b"wxyz")).unwrap();
        write_init(mem, a, &c4, &b(b"ab")).unwrap();
        assert!(matches!(unpack(mem, &c, a, 4).unwrap(), Value::Bytes(v) if v == b"ab\0z"));
        let sc = t.prim(Prim::SChar);
        let a = new(mem, &t.array(&sc, None), &b(b"\xff")).unwrap();
        assert!(matches!(read_prim(mem, a, &sc).unwrap(), Value::Int(-1)));
        let bl = t.array(&t.prim(Prim::Bool), None);
        assert_eq!(
            err(new(mem, &bl, &b(b"\x00\x01\x02")), "Value"),
            "an array of _Bool can only contain \\x00 or \\x01"
        );
        assert!(new(mem, &bl, &b(b"\x00\x01")).is_ok());
        let ia = t.array(&t.prim(Prim::Int), None);
        assert_eq!(
            err(new(mem, &ia, &b(b"ab")), "Type"),
            "initializer for ctype 'int[]' must be a list or tuple, not bytes"
        );
    });
}

#[test]
fn wide_arrays_match_cffi() {
    both(|mem, t| {
        let c16 = t.prim(Prim::Char16);
        let open = t.array(&c16, None);
        assert_eq!(open_length(&open, &s("\u{1F600}")).unwrap(), Some(3));
        let a = new(mem, &open, &s("a\u{1F600}")).unwrap();
        assert_eq!(
            string(mem, &open, a, Some(4)).unwrap(),
            StringResult::Str(vec![97, 0x1F600])
        );
        let c2 = t.array(&c16, Some(2));
        assert_eq!(
            err(new(mem, &c2, &s("a\u{1F600}")), "Index"),
            "initializer unicode is too long for 'char16_t[2]' (got 3 characters)"
        );
        let w = t.array(&t.prim(Prim::WChar), Some(2));
        assert_eq!(
            err(new(mem, &w, &s("abc")), "Index"),
            "initializer unicode is too long for 'wchar_t[2]' (got 3 characters)"
        );
        assert_eq!(
            err(new(mem, &w, &b(b"ab")), "Type"),
            "initializer for ctype 'wchar_t[2]' must be a unicode or list or tuple, not bytes"
        );
        let c32 = t.array(&t.prim(Prim::Char32), None);
        assert_eq!(
            open_length(&c32, &Value::Str(vec![0xD83D, 0xDE00])).unwrap(),
            Some(3)
        );
    });
}

#[test]
fn structs_match_cffi() {
    both(|mem, t| {
        let i = t.prim(Prim::Int);
        let sh = t.prim(Prim::Short);
        let st = t.record(
            RecordKind::Struct,
            "s",
            &[("x", i.clone()), ("y", sh.clone())],
        );
        let fx = |n: usize| match st.kind() {
            CKind::Record(r) => r.layout.get().unwrap().fields[n].offset,
            _ => unreachable!(),
        };
        let a = new(mem, &st, &ints(&[1, 2])).unwrap();
        assert!(matches!(
            read_prim(mem, a + fx(1), &sh).unwrap(),
            Value::Int(2)
        ));
        assert_eq!(
            err(new(mem, &st, &ints(&[1, 2, 3])), "Value"),
            "too many initializers for 'struct s' (got 3)"
        );
        assert_eq!(
            err(
                new(
                    mem,
                    &st,
                    &Value::Dict(vec![("x".into(), int(1)), ("z".into(), int(3))])
                ),
                "Key"
            ),
            "z"
        );
        let a = new(mem, &st, &Value::Dict(vec![("y".into(), int(4))])).unwrap();
        assert!(matches!(
            read_prim(mem, a + fx(1), &sh).unwrap(),
            Value::Int(4)
        ));
        let e =
            "initializer for ctype 'struct s' must be a list or tuple or dict or struct-cdata, not";
        assert_eq!(err(new(mem, &st, &int(5)), "Type"), format!("{e} int"));
        assert_eq!(
            err(new(mem, &st, &Value::None), "Type"),
            format!("{e} NoneType")
        );
        let st2 = t.record(
            RecordKind::Struct,
            "s2",
            &[("x", i.clone()), ("y", sh.clone())],
        );
        let other = new(mem, &st2, &ints(&[7, 8])).unwrap();
        assert_eq!(
            err(new(mem, &st, &cd(&st2, other)), "Type"),
            format!("{e} cdata 'struct s2'")
        );
        assert_eq!(
            err(new(mem, &st, &cd(&t.ptr(&st), other)), "Type"),
            format!("{e} cdata 'struct s *'")
        );
        let src = new(mem, &st, &ints(&[7, 8])).unwrap();
        let c = new(mem, &st, &cd(&st, src)).unwrap();
        assert!(matches!(
            read_prim(mem, c + fx(1), &sh).unwrap(),
            Value::Int(8)
        ));
        assert_eq!(
            err(new(mem, &st, &list(vec![Value::Float(1.5)])), "Type"),
            "an integer is required"
        );
        assert_eq!(
            err(new(mem, &st, &ints(&[1, 40000])), "Overflow"),
            "integer 40000 does not fit 'short'"
        );
        // Nested struct and char array member.
        let nest = t.record(
            RecordKind::Struct,
            "nest",
            &[
                ("s", st.clone()),
                ("arr", t.array(&i, Some(2))),
                ("name", t.array(&t.prim(Prim::Char), Some(4))),
            ],
        );
        let a = new(
            mem,
            &nest,
            &list(vec![ints(&[1, 2]), ints(&[3, 4]), b(b"ab")]),
        )
        .unwrap();
        let CKind::Record(r) = nest.kind() else {
            unreachable!()
        };
        let fields = &r.layout.get().unwrap().fields;
        assert!(
            matches!(read_field(mem, a, &fields[2]).unwrap(), Value::CData { addr, .. } if addr == a + fields[2].offset)
        );
        assert_eq!(
            string(mem, &fields[2].ty, a + fields[2].offset, None).unwrap(),
            StringResult::Bytes(b"ab".to_vec())
        );
        assert_eq!(
            err(
                new(mem, &nest, &list(vec![ints(&[1, 2]), ints(&[3, 4, 5])])),
                "Index"
            ),
            "too many initializers for 'int[2]' (got 3)"
        );
        let a = new(
            mem,
            &nest,
            &Value::Dict(vec![("s".into(), Value::Dict(vec![("y".into(), int(9))]))]),
        )
        .unwrap();
        assert!(matches!(
            read_prim(mem, a + fx(1), &sh).unwrap(),
            Value::Int(9)
        ));
        write_field(mem, a, &fields[2], &b(b"abc")).unwrap();
        assert_eq!(
            err(write_field(mem, a, &fields[2], &b(b"abcde")), "Index"),
            "initializer bytes is too long for 'char[4]' (got 5 characters)"
        );
        assert_eq!(
            err(write_field(mem, a, &fields[0], &cd(&t.ptr(&st), a)), "Type"),
            format!("{e} cdata 'struct s *'")
        );
        // Struct arrays.
        let sa = t.array(&st, Some(2));
        let a = new(
            mem,
            &sa,
            &list(vec![ints(&[1, 2]), Value::Dict(vec![("x".into(), int(3))])]),
        )
        .unwrap();
        let size = st.size().unwrap();
        assert!(matches!(
            read_prim(mem, a + size, &i).unwrap(),
            Value::Int(3)
        ));
        assert_eq!(
            err(new(mem, &t.opaque("o"), &ints(&[])), "Type"),
            "'struct o' is opaque"
        );
    });
}

#[test]
fn unions_and_anonymous_members() {
    both(|mem, t| {
        let i = t.prim(Prim::Int);
        let c = t.prim(Prim::Char);
        let un = t.record(
            RecordKind::Union,
            "un",
            &[("i", i.clone()), ("c", c.clone())],
        );
        let a = new(mem, &un, &ints(&[1])).unwrap();
        assert!(matches!(read_prim(mem, a, &i).unwrap(), Value::Int(1)));
        assert_eq!(
            err(new(mem, &un, &list(vec![int(1), b(b"a")])), "Value"),
            "too many initializers for 'union un' (got 2)"
        );
        let a = new(mem, &un, &Value::Dict(vec![("c".into(), b(b"a"))])).unwrap();
        assert!(matches!(read_prim(mem, a, &c).unwrap(), Value::Bytes(v) if v == b"a"));
        assert!(new(
            mem,
            &un,
            &Value::Dict(vec![("c".into(), b(b"a")), ("i".into(), int(1))])
        )
        .is_ok());
        // struct anon { int a; union { int b; float c; }; int d; } as the resolver lifts it.
        let f = t.prim(Prim::Float);
        let mut layout = match t
            .record(
                RecordKind::Struct,
                "tmp",
                &[("a", i.clone()), ("b", i.clone()), ("d", i.clone())],
            )
            .kind()
        {
            CKind::Record(r) => clone_layout(r.layout.get().unwrap()),
            _ => unreachable!(),
        };
        let mut cf = clone_field(&layout.fields[1]);
        cf.name = "c".into();
        cf.ty = f.clone();
        cf.skip_in_positional_init = true;
        layout.fields.insert(2, cf);
        let anon = t.record_with(RecordKind::Struct, "anon", layout);
        let a = new(mem, &anon, &ints(&[1, 2, 3])).unwrap();
        assert!(matches!(read_prim(mem, a + 8, &i).unwrap(), Value::Int(3)));
        assert_eq!(
            err(new(mem, &anon, &ints(&[1, 2, 3, 4])), "Value"),
            "too many initializers for 'struct anon' (got 4)"
        );
        let a = new(
            mem,
            &anon,
            &Value::Dict(vec![("c".into(), Value::Float(1.5))]),
        )
        .unwrap();
        assert!(matches!(read_prim(mem, a + 4, &f).unwrap(), Value::Float(x) if x == 1.5));
    });
}

pub(super) fn clone_field(f: &crate::layout::FieldLayout) -> crate::layout::FieldLayout {
    crate::layout::FieldLayout {
        name: f.name.clone(),
        ty: f.ty.clone(),
        ..*f
    }
}

pub(super) fn clone_layout(l: &RecordLayout) -> RecordLayout {
    RecordLayout {
        size: l.size,
        align: l.align,
        fields: l.fields.iter().map(clone_field).collect(),
        has_flexible_array: l.has_flexible_array,
        custom_field_pos: l.custom_field_pos,
        packed_change: l.packed_change,
    }
}
