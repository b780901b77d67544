//! `ffi.cast()` with CFFI's results and messages.

use super::support::*;
use crate::cdata::*;
use crate::layout::CType;
use crate::model::{Prim, RecordKind};

/// The cast result read back as a value of `ty`.
fn cast_read(mem: &dyn Memory, ty: &CType, v: &Value) -> Value {
    let bytes = cast_value(ty, v, mem).unwrap();
    assert_eq!(Some(bytes.len() as u64), ty.size());
    let a = alloc(mem, bytes.len() as u64);
    mem.write(a, &bytes).unwrap();
    read_value(mem, a, ty).unwrap()
}

fn cast_int(mem: &dyn Memory, ty: &CType, v: &Value) -> i128 {
    match cast_read(mem, ty, v) {
        Value::Int(i) => i,
        other => panic!("{other:?}"),
    }
}

#[test]
fn integer_casts_wrap() {
    both(|mem, t| {
        let i = t.prim(Prim::Int);
        assert_eq!(cast_int(mem, &i, &int(1 << 40)), 0);
        assert_eq!(cast_int(mem, &t.prim(Prim::UInt), &int(-1)), 4294967295);
        assert_eq!(cast_int(mem, &t.prim(Prim::Short), &int(40000)), -25536);
        assert_eq!(cast_int(mem, &i, &Value::Float(1.9)), 1);
        assert_eq!(cast_int(mem, &i, &Value::Float(-1.9)), -1);
        assert_eq!(cast_int(mem, &i, &Value::Float(1e30)), 0);
        assert_eq!(
            cast_int(mem, &t.prim(Prim::LongLong), &Value::Float(1e30)),
            5076964154930102272
        );
        assert_eq!(
            cast_int(mem, &t.prim(Prim::ULongLong), &Value::Float(-1e19)),
            8446744073709551616
        );
        assert_eq!(cast_int(mem, &i, &Value::Bool(true)), 1);
        assert_eq!(cast_int(mem, &i, &b(b"A")), 65);
        assert_eq!(cast_int(mem, &i, &s("A")), 65);
        assert_eq!(
            err(
                cast_value(&t.prim(Prim::LongLong), &Value::Float(f64::NAN), mem),
                "Value"
            ),
            "cannot convert float NaN to integer"
        );
        assert_eq!(
            err(
                cast_value(&i, &Value::Float(f64::INFINITY), mem),
                "Overflow"
            ),
            "cannot convert float infinity to integer"
        );
        assert_eq!(
            err(cast_value(&i, &b(b"AB"), mem), "Type"),
            "initializer for ctype 'char' must be a bytes of length 1, not bytes"
        );
        assert_eq!(
            err(cast_value(&i, &s("AB"), mem), "Type"),
            "cannot cast unicode string of length 2 to ctype 'int'"
        );
        for v in [Value::None, ints(&[1]), Value::Complex(1.0, 1.0)] {
            assert_eq!(
                err(cast_value(&i, &v, mem), "Type"),
                "an integer is required"
            );
        }
        let c = t.prim(Prim::Char);
        let ch = alloc(mem, 1);
        mem.write(ch, &[200]).unwrap();
        assert_eq!(
            cast_int(
                mem,
                &i,
                &Value::CData {
                    ty: c.clone(),
                    addr: ch
                }
            ),
            200
        );
        assert_eq!(
            cast_int(
                mem,
                &t.prim(Prim::UChar),
                &Value::CData {
                    ty: c.clone(),
                    addr: ch
                }
            ),
            200
        );
        let p = alloc(mem, 4);
        let ip = t.ptr(&i);
        assert_eq!(
            cast_int(
                mem,
                &t.prim(Prim::UIntPtr),
                &Value::CData {
                    ty: ip.clone(),
                    addr: p
                }
            ),
            i128::from(p)
        );
        let d = t.prim(Prim::Double);
        let dv = alloc(mem, 8);
        mem.write(dv, &3.7f64.to_le_bytes()).unwrap();
        assert_eq!(
            cast_int(
                mem,
                &i,
                &Value::CData {
                    ty: d.clone(),
                    addr: dv
                }
            ),
            3
        );
        let dc = t.prim(Prim::DoubleComplex);
        assert_eq!(
            err(
                cast_value(&i, &Value::CData { ty: dc, addr: dv }, mem),
                "Type"
            ),
            "int() not supported on cdata '_cffi_double_complex_t'"
        );
        let st = t.record(RecordKind::Struct, "s", &[("x", i.clone())]);
        assert_eq!(
            err(
                cast_value(
                    &i,
                    &Value::CData {
                        ty: st.clone(),
                        addr: p
                    },
                    mem
                ),
                "Type"
            ),
            "int() not supported on cdata 'struct s'"
        );
        assert!(matches!(
            cast_value(&i, &Value::HugeInt(true), mem),
            Err(crate::Error::Overflow(_))
        ));
    });
}

#[test]
fn char_bool_and_enum_casts() {
    both(|mem, t| {
        let c = t.prim(Prim::Char);
        for (v, want) in [
            (int(65), b'A'),
            (int(321), b'A'),
            (int(-1), 0xff),
            (s("\u{1234}"), b'4'),
            (Value::Float(65.7), b'A'),
        ] {
            assert!(matches!(cast_read(mem, &c, &v), Value::Bytes(x) if x == [want]));
        }
        let c16 = t.prim(Prim::Char16);
        assert!(matches!(cast_read(mem, &c16, &int(0x1F600)), Value::Str(x) if x == [0xF600]));
        assert!(matches!(cast_read(mem, &c16, &s("\u{1F600}")), Value::Str(x) if x == [0xF600]));
        let w = t.prim(Prim::WChar);
        assert!(matches!(cast_read(mem, &w, &b(b"A")), Value::Str(x) if x == [65]));
        assert_eq!(
            err(cast_value(&w, &s("AB"), mem), "Type"),
            "cannot cast unicode string of length 2 to ctype 'wchar_t'"
        );
        let bl = t.prim(Prim::Bool);
        for (v, want) in [
            (int(5), true),
            (int(0), false),
            (int(-256), true),
            (int(256), true),
            (Value::Float(0.5), true),
            (Value::Float(f64::NAN), true),
            (b(b"\x02"), true),
            (s("\0"), false),
            (
                Value::CData {
                    ty: t.ptr(&t.void()),
                    addr: 0,
                },
                false,
            ),
        ] {
            assert!(
                matches!(cast_read(mem, &bl, &v), Value::Bool(x) if x == want),
                "{v:?}"
            );
        }
        let d = t.prim(Prim::Double);
        let zero = alloc(mem, 8);
        assert!(matches!(
            cast_read(mem, &bl, &Value::CData { ty: d, addr: zero }),
            Value::Bool(false)
        ));
        assert_eq!(
            err(cast_value(&bl, &Value::Complex(0.0, 1.5), mem), "Type"),
            "integer/float expected"
        );
        let e = t.enum_ty("e", Prim::Int, &[("A", 0), ("B", 5)]);
        assert_eq!(cast_int(mem, &e, &int(5)), 5);
        assert_eq!(cast_int(mem, &e, &s("B")), 66);
        assert_eq!(cast_int(mem, &e, &Value::Float(1.5)), 1);
        let u = t.enum_ty("u", Prim::UInt, &[("UA", 0)]);
        assert_eq!(cast_int(mem, &u, &int(-1)), 4294967295);
        assert_eq!(
            err(cast_value(&e, &s("#5"), mem), "Type"),
            "cannot cast unicode string of length 2 to ctype 'enum e'"
        );
    });
}

#[test]
fn float_and_complex_casts() {
    both(|mem, t| {
        let d = t.prim(Prim::Double);
        let f = |v: Value| match cast_read(mem, &d, &v) {
            Value::Float(x) => x,
            other => panic!("{other:?}"),
        };
        assert_eq!(f(int(42)), 42.0);
        assert_eq!(f(b(b"A")), 65.0);
        assert_eq!(f(s("A")), 65.0);
        let ui = t.prim(Prim::UInt);
        let x = alloc(mem, 4);
        mem.write(x, &u32::MAX.to_le_bytes()).unwrap();
        assert_eq!(f(Value::CData { ty: ui, addr: x }), 4294967295.0);
        let fl = t.prim(Prim::Float);
        assert!(
            matches!(cast_read(mem, &fl, &Value::Float(1e300)), Value::Float(v) if v == f64::INFINITY)
        );
        assert_eq!(
            err(cast_value(&d, &Value::HugeInt(true), mem), "Overflow"),
            "int too large to convert to float"
        );
        assert_eq!(
            err(cast_value(&d, &s("AB"), mem), "Type"),
            "cannot cast str object to ctype 'double'"
        );
        assert_eq!(
            err(cast_value(&d, &b(b"AB"), mem), "Type"),
            "cannot cast bytes object to ctype 'double'"
        );
        assert_eq!(
            err(cast_value(&d, &Value::None, mem), "Type"),
            "must be real number, not NoneType"
        );
        assert_eq!(
            err(cast_value(&d, &Value::Complex(0.0, 1.0), mem), "Type"),
            "must be real number, not complex"
        );
        let ip = t.ptr(&t.prim(Prim::Int));
        assert_eq!(
            err(
                cast_value(
                    &d,
                    &Value::CData {
                        ty: ip.clone(),
                        addr: x
                    },
                    mem
                ),
                "Type"
            ),
            "cannot cast ctype 'int *' to ctype 'double'"
        );
        let dc = t.prim(Prim::DoubleComplex);
        let c = alloc(mem, 16);
        mem.write(c, &[1f64.to_le_bytes(), 2f64.to_le_bytes()].concat())
            .unwrap();
        assert_eq!(
            err(
                cast_value(
                    &d,
                    &Value::CData {
                        ty: dc.clone(),
                        addr: c
                    },
                    mem
                ),
                "Type"
            ),
            "must be real number, not complex"
        );
        assert!(
            matches!(cast_read(mem, &dc, &Value::Complex(1.0, 2.0)), Value::Complex(a, b) if a == 1.0 && b == 2.0)
        );
        assert!(
            matches!(cast_read(mem, &dc, &int(3)), Value::Complex(a, b) if a == 3.0 && b == 0.0)
        );
        assert!(
            matches!(cast_read(mem, &dc, &Value::CData { ty: dc.clone(), addr: c }), Value::Complex(a, b) if a == 1.0 && b == 2.0)
        );
        assert!(
            matches!(cast_read(mem, &t.prim(Prim::FloatComplex), &Value::Complex(1.0, 2.0)), Value::Complex(a, b) if a == 1.0 && b == 2.0)
        );
        assert_eq!(
            err(
                cast_value(&dc, &Value::CData { ty: ip, addr: x }, mem),
                "Type"
            ),
            "cannot cast ctype 'int *' to ctype '_cffi_double_complex_t'"
        );
        let ld = t.prim(Prim::LongDouble);
        assert!(matches!(cast_read(mem, &ld, &int(42)), Value::Float(v) if v == 42.0));
        let raw = alloc(mem, 16);
        let bits = (0x3FFFu128 << 112) | 1;
        mem.write(raw, &bits.to_le_bytes()).unwrap();
        assert_eq!(
            cast_value(
                &ld,
                &Value::CData {
                    ty: ld.clone(),
                    addr: raw
                },
                mem
            )
            .unwrap(),
            bits.to_le_bytes()
        );
    });
}

#[test]
fn pointer_casts() {
    both(|mem, t| {
        let i = t.prim(Prim::Int);
        let ip = t.ptr(&i);
        let ptr = |v: Value| match cast_read(mem, &ip, &v) {
            Value::CData { addr, .. } => addr,
            other => panic!("{other:?}"),
        };
        let width = mem.target().pointer_size();
        assert_eq!(ptr(int(5)), 5);
        assert_eq!(
            ptr(int(-1)),
            if width == 8 {
                u64::MAX
            } else {
                u64::from(u32::MAX)
            }
        );
        assert_eq!(ptr(int(1 << 64)), 0);
        assert_eq!(ptr(Value::Float(1.5)), 1);
        let lp = t.ptr(&t.prim(Prim::Long));
        assert_eq!(
            ptr(Value::CData {
                ty: lp,
                addr: 0x1234
            }),
            0x1234
        );
        assert_eq!(
            ptr(Value::CData {
                ty: t.array(&i, Some(3)),
                addr: 0x1238
            }),
            0x1238
        );
        let iv = new(mem, &i, &int(77)).unwrap();
        assert_eq!(
            ptr(Value::CData {
                ty: i.clone(),
                addr: iv
            }),
            77
        );
        assert_eq!(
            err(cast_value(&ip, &Value::None, mem), "Type"),
            "an integer is required"
        );
        assert_eq!(
            err(cast_value(&ip, &b(b"abc"), mem), "Type"),
            "an integer is required"
        );
        let f = t.func(&i, std::slice::from_ref(&i));
        assert_eq!(cast_value(&f, &int(8), mem).unwrap().len() as u64, width);
        let a3 = t.array(&i, Some(3));
        assert_eq!(
            cast_value(&a3, &int(0), mem).unwrap(),
            vec![0; width as usize]
        );
        let open = t.array(&i, None);
        assert_eq!(
            err(cast_value(&open, &int(0), mem), "Type"),
            "cannot cast to ctype 'int[]'"
        );
        assert_eq!(
            err(cast_value(&t.void(), &int(0), mem), "Type"),
            "cannot cast to ctype 'void'"
        );
        let st = t.record(RecordKind::Struct, "foo", &[("x", i.clone())]);
        assert_eq!(
            err(cast_value(&st, &int(0), mem), "Type"),
            "cannot cast to ctype 'struct foo'"
        );
    });
}
