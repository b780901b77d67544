//! Flexible array members and bitfields.

use super::init_tests::{clone_layout, read_ints};
use super::support::*;
use crate::cdata::*;
use crate::layout::CKind;
use crate::model::{Prim, RecordKind};

#[test]
fn flexible_array_members() {
    both(|mem, t| {
        let i = t.prim(Prim::Int);
        let fl = t.record(
            RecordKind::Struct,
            "fl",
            &[("n", i.clone()), ("y", t.array(&i, None))],
        );
        let v = list(vec![int(5), ints(&[6, 7, 8])]);
        assert_eq!(open_length(&fl, &v).unwrap(), Some(3));
        assert_eq!(var_size(&fl, &v).unwrap(), Some(16));
        let a = new(mem, &fl, &v).unwrap();
        assert_eq!(read_ints(mem, a, &i, 4), [5, 6, 7, 8]);
        assert_eq!(open_length(&fl, &ints(&[5, 3])).unwrap(), Some(3));
        assert_eq!(var_size(&fl, &ints(&[5, 3])).unwrap(), Some(16));
        let a = new(mem, &fl, &ints(&[5, 3])).unwrap();
        assert_eq!(read_ints(mem, a, &i, 4), [5, 0, 0, 0]);
        assert_eq!(
            open_length(&fl, &Value::Dict(vec![("y".into(), int(3))])).unwrap(),
            Some(3)
        );
        assert_eq!(open_length(&fl, &ints(&[5])).unwrap(), Some(0));
        assert_eq!(var_size(&fl, &ints(&[5])).unwrap(), Some(4));
        assert_eq!(
            err(new(mem, &fl, &list(vec![int(5), b(b"ab")])), "Type"),
            "initializer for ctype 'int[]' must be a list or tuple, not bytes"
        );
        assert_eq!(open_length(&i, &int(3)).unwrap(), None);
        // Nested: struct outer { int k; struct fl f; }.
        let outer = t.record(
            RecordKind::Struct,
            "outer",
            &[("k", i.clone()), ("f", fl.clone())],
        );
        let CKind::Record(r) = outer.kind() else {
            unreachable!()
        };
        let mut l = clone_layout(r.layout.get().unwrap());
        l.has_flexible_array = true;
        let outer = t.record_with(RecordKind::Struct, "outer", l);
        let v = list(vec![int(1), list(vec![int(2), ints(&[3, 4])])]);
        assert_eq!(open_length(&outer, &v).unwrap(), Some(2));
        assert_eq!(var_size(&outer, &v).unwrap(), Some(16));
        // Field assignment of an int to a flexible member is refused, as in CFFI.
        let CKind::Record(r) = fl.kind() else {
            unreachable!()
        };
        let yf = &r.layout.get().unwrap().fields[1];
        assert!(write_field(mem, a, yf, &int(3)).is_err());
    });
}

#[test]
fn bitfields_match_cffi() {
    both(|mem, t| {
        let i = t.prim(Prim::Int);
        let u = t.prim(Prim::UInt);
        let fa = bitfield("a", &i, 0, 0, 3);
        let fb = bitfield("b", &u, 0, 3, 4);
        let fc = bitfield("c", &i, 0, 7, 1);
        let fd = bitfield("d", &t.prim(Prim::Bool), 1, 0, 1);
        let fe = bitfield("e", &t.prim(Prim::Char), 1, 1, 2);
        let ll = t.prim(Prim::LongLong);
        let fg = bitfield("g", &ll, 8, 0, 40);
        let base = alloc(mem, 16);
        let range = |f: &crate::layout::FieldLayout, v: i128| {
            err(write_field(mem, base, f, &int(v)), "Overflow")
        };
        assert_eq!(
            range(&fa, 4),
            "value 4 outside the range allowed by the bit field width: -4 <= x <= 3"
        );
        assert_eq!(
            range(&fa, -5),
            "value -5 outside the range allowed by the bit field width: -4 <= x <= 3"
        );
        assert_eq!(
            range(&fb, 16),
            "value 16 outside the range allowed by the bit field width: 0 <= x <= 15"
        );
        assert_eq!(
            range(&fb, -1),
            "value -1 outside the range allowed by the bit field width: 0 <= x <= 15"
        );
        assert_eq!(
            range(&fd, 2),
            "value 2 outside the range allowed by the bit field width: 0 <= x <= 1"
        );
        assert_eq!(
            range(&fg, 1 << 39),
            "value 549755813888 outside the range allowed by the bit field width: -549755813888 <= x <= 549755813887"
        );
        assert_eq!(range(&fa, 1 << 70), "int too big to convert");
        assert_eq!(
            err(write_field(mem, base, &fa, &Value::Float(1.5)), "Type"),
            "'float' object cannot be interpreted as an integer"
        );
        assert_eq!(
            err(write_field(mem, base, &fe, &b(b"a")), "Type"),
            "'bytes' object cannot be interpreted as an integer"
        );
        write_field(mem, base, &fa, &int(-4)).unwrap();
        write_field(mem, base, &fb, &int(15)).unwrap();
        write_field(mem, base, &fc, &int(1)).unwrap(); // "int x:1" accepts 1 and reads back -1
        write_field(mem, base, &fd, &Value::Bool(true)).unwrap();
        write_field(mem, base, &fe, &int(3)).unwrap();
        write_field(mem, base, &fg, &int(-(1 << 39))).unwrap();
        let get = |f| match read_field(mem, base, f).unwrap() {
            Value::Int(v) => v,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            [get(&fa), get(&fb), get(&fc), get(&fd), get(&fe), get(&fg)],
            [-4, 15, -1, 1, 3, -(1 << 39)]
        );
        write_field(mem, base, &fb, &int(5)).unwrap(); // neighbours untouched
        assert_eq!([get(&fa), get(&fb), get(&fc)], [-4, 5, -1]);
        let mut raw = [0u8; 2];
        mem.read(base, &mut raw).unwrap();
        assert_eq!(raw, [0b1010_1100, 0b0000_0111]);
        // A bitfield that does not fit its unit is a layout bug, reported, not a panic.
        assert!(matches!(
            write_field(mem, base, &bitfield("z", &i, 0, 30, 4), &int(0)),
            Err(crate::Error::Internal(_))
        ));
    });
}
