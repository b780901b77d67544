//! Primitive initializers and reads, with CFFI's values and messages.

use super::support::*;
use crate::cdata::*;
use crate::layout::Target;
use crate::model::Prim;

fn init_err(ty: Prim, v: Value, kind: &str) -> String {
    let mut out = Vec::new();
    both(|mem, t| out.push(err(new(mem, &t.prim(ty), &v), kind)));
    assert_eq!(out[0], out[1]);
    out.remove(0)
}

fn round_trip(ty: Prim, v: Value) -> Value {
    let mut out = Vec::new();
    both(|mem, t| {
        let ty = t.prim(ty);
        let a = new(mem, &ty, &v).unwrap();
        out.push(format!("{:?}", read_prim(mem, a, &ty).unwrap()));
    });
    assert_eq!(out[0], out[1]);
    let mem = HostMemory;
    let t = Types {
        target: Target::Host,
    };
    let ty = t.prim(ty);
    let a = new(&mem, &ty, &v).unwrap();
    read_prim(&mem, a, &ty).unwrap()
}

#[test]
fn int_overflow_messages_match_cffi() {
    assert_eq!(
        init_err(Prim::Short, int(40000), "Overflow"),
        "integer 40000 does not fit 'short'"
    );
    assert_eq!(
        init_err(Prim::Short, int(-40000), "Overflow"),
        "integer -40000 does not fit 'short'"
    );
    assert_eq!(
        init_err(Prim::UInt, int(-1), "Overflow"),
        "can't convert negative number to unsigned"
    );
    assert_eq!(
        init_err(Prim::Int, Value::HugeInt(true), "Overflow"),
        "int too big to convert"
    );
    assert_eq!(
        init_err(Prim::Int, Value::HugeInt(false), "Overflow"),
        "int too big to convert"
    );
    assert_eq!(
        init_err(Prim::UInt, Value::HugeInt(false), "Overflow"),
        "can't convert negative number to unsigned"
    );
    assert_eq!(
        init_err(Prim::Short, int(1 << 64), "Overflow"),
        "int too big to convert"
    );
    assert_eq!(
        init_err(Prim::Short, int(i64::MAX.into()), "Overflow"),
        "integer 9223372036854775807 does not fit 'short'"
    );
    assert_eq!(
        init_err(Prim::LongLong, int(1 << 63), "Overflow"),
        "int too big to convert"
    );
    assert_eq!(
        init_err(Prim::ULongLong, int(1 << 64), "Overflow"),
        "int too big to convert"
    );
    assert_eq!(
        init_err(Prim::UShort, int(u64::MAX.into()), "Overflow"),
        "integer 18446744073709551615 does not fit 'unsigned short'"
    );
}

#[test]
fn int_type_errors_match_cffi() {
    for v in [
        Value::Float(1.5),
        s("x"),
        b(b"x"),
        ints(&[1]),
        Value::None,
        Value::Complex(1.0, 2.0),
    ] {
        assert_eq!(init_err(Prim::Int, v, "Type"), "an integer is required");
    }
}

#[test]
fn int_limits_round_trip() {
    assert!(matches!(round_trip(Prim::Int, int(-1)), Value::Int(-1)));
    assert!(matches!(
        round_trip(Prim::Int, Value::Bool(true)),
        Value::Int(1)
    ));
    assert!(
        matches!(round_trip(Prim::ULongLong, int(u64::MAX.into())), Value::Int(x) if x == u64::MAX.into())
    );
    assert!(matches!(
        round_trip(Prim::SChar, int(-128)),
        Value::Int(-128)
    ));
    assert!(
        matches!(round_trip(Prim::Int64, int(i64::MIN.into())), Value::Int(x) if x == i64::MIN.into())
    );
}

#[test]
fn long_is_target_sized() {
    // 2**40 fits `long` on the host (LP64) but not on wasm32 (ILP32).
    let host = Types {
        target: Target::Host,
    };
    assert!(new(&HostMemory, &host.prim(Prim::Long), &int(1 << 40)).is_ok());
    let wasm = Types {
        target: Target::Wasm32,
    };
    let m = VecMemory::new();
    assert_eq!(
        err(new(&m, &wasm.prim(Prim::Long), &int(1 << 40)), "Overflow"),
        "integer 1099511627776 does not fit 'long'"
    );
}

#[test]
fn int_from_cdata() {
    both(|mem, t| {
        let int_t = t.prim(Prim::Int);
        let c = t.prim(Prim::Char);
        let ch = new(mem, &c, &b(b"\xff")).unwrap();
        let a = new(
            mem,
            &int_t,
            &Value::CData {
                ty: c.clone(),
                addr: ch,
            },
        )
        .unwrap();
        assert!(matches!(
            read_prim(mem, a, &int_t).unwrap(),
            Value::Int(255)
        ));
        let ul = t.prim(Prim::ULongLong);
        let big = new(mem, &ul, &int(1 << 40)).unwrap();
        assert_eq!(
            err(
                new(
                    mem,
                    &int_t,
                    &Value::CData {
                        ty: ul.clone(),
                        addr: big
                    }
                ),
                "Overflow"
            ),
            "integer <cdata 'unsigned long long' 1099511627776> does not fit 'int'"
        );
        let sc = t.prim(Prim::SChar);
        assert_eq!(
            err(
                new(
                    mem,
                    &sc,
                    &Value::CData {
                        ty: c.clone(),
                        addr: ch
                    }
                ),
                "Overflow"
            ),
            "integer <cdata 'char' b'\\xff'> does not fit 'signed char'"
        );
        let d = t.prim(Prim::Double);
        let dv = new(mem, &d, &Value::Float(3.5)).unwrap();
        assert_eq!(
            err(new(mem, &int_t, &Value::CData { ty: d, addr: dv }), "Type"),
            "an integer is required"
        );
        let p = t.ptr(&int_t);
        assert_eq!(
            err(new(mem, &int_t, &Value::CData { ty: p, addr: a }), "Type"),
            "int() not supported on cdata 'int *'"
        );
    });
}

#[test]
fn bool_is_strict() {
    assert_eq!(
        init_err(Prim::Bool, int(2), "Overflow"),
        "integer 2 does not fit '_Bool'"
    );
    assert_eq!(
        init_err(Prim::Bool, int(-1), "Overflow"),
        "can't convert negative number to unsigned"
    );
    assert_eq!(
        init_err(Prim::Bool, Value::Float(1.0), "Type"),
        "an integer is required"
    );
    assert!(matches!(
        round_trip(Prim::Bool, Value::Bool(true)),
        Value::Bool(true)
    ));
    assert!(matches!(round_trip(Prim::Bool, int(0)), Value::Bool(false)));
    both(|mem, t| {
        let a = alloc(mem, 1);
        mem.write(a, &[2]).unwrap();
        assert_eq!(
            err(read_prim(mem, a, &t.prim(Prim::Bool)), "Value"),
            "got a _Bool of value 2, expected 0 or 1"
        );
    });
}

#[test]
fn char_accepts_one_byte_only() {
    assert!(matches!(round_trip(Prim::Char, b(b"a")), Value::Bytes(v) if v == b"a"));
    let msg =
        |tp: &str| format!("initializer for ctype 'char' must be a bytes of length 1, not {tp}");
    assert_eq!(init_err(Prim::Char, b(b"ab"), "Type"), msg("bytes"));
    assert_eq!(init_err(Prim::Char, b(b""), "Type"), msg("bytes"));
    assert_eq!(init_err(Prim::Char, int(65), "Type"), msg("int"));
    assert_eq!(init_err(Prim::Char, s("a"), "Type"), msg("str"));
    assert_eq!(init_err(Prim::Char, Value::None, "Type"), msg("NoneType"));
    both(|mem, t| {
        let i = t.prim(Prim::Int);
        let a = new(mem, &i, &int(66)).unwrap();
        assert_eq!(
            err(
                new(mem, &t.prim(Prim::Char), &Value::CData { ty: i, addr: a }),
                "Type"
            ),
            msg("_cffi_backend._CDataBase")
        );
    });
}

#[test]
fn wide_chars_match_cffi() {
    assert!(matches!(round_trip(Prim::WChar, s("a")), Value::Str(v) if v == [97]));
    assert!(matches!(round_trip(Prim::Char32, s("\u{1F600}")), Value::Str(v) if v == [0x1F600]));
    assert!(
        matches!(round_trip(Prim::Char16, Value::Str(vec![0xD800])), Value::Str(v) if v == [0xD800])
    );
    assert_eq!(
        init_err(Prim::WChar, s("ab"), "Type"),
        "initializer for ctype 'char32_t' must be a unicode string of length 1, not unicode string of length 2"
    );
    assert_eq!(
        init_err(Prim::Char16, s("\u{1F600}"), "Type"),
        "initializer for ctype 'char16_t' must be a unicode string of length 1, not larger-than-0xFFFF character"
    );
    assert_eq!(
        init_err(Prim::Char32, Value::Str(vec![0xD83D, 0xDE00]), "Type"),
        "initializer for ctype 'char32_t' must be a unicode string of length 1, not unicode string of length 2"
    );
    assert_eq!(
        init_err(Prim::WChar, int(65), "Type"),
        "initializer for ctype 'char32_t' must be a unicode string of length 1, not int"
    );
    both(|mem, t| {
        let c16 = t.prim(Prim::Char16);
        let a = new(mem, &c16, &s("B")).unwrap();
        let e = err(
            new(
                mem,
                &t.prim(Prim::WChar),
                &Value::CData { ty: c16, addr: a },
            ),
            "Type",
        );
        assert!(e.ends_with("not _cffi_backend._CDataBase"), "{e}");
        let c32 = t.prim(Prim::Char32);
        let a = new(mem, &c32, &s("B")).unwrap();
        let w = t.prim(Prim::WChar);
        let x = new(mem, &w, &Value::CData { ty: c32, addr: a }).unwrap();
        assert!(matches!(read_prim(mem, x, &w).unwrap(), Value::Str(v) if v == [66]));
    });
}

#[test]
fn floats_match_cffi() {
    assert!(matches!(round_trip(Prim::Float, int(1)), Value::Float(x) if x == 1.0));
    assert!(
        matches!(round_trip(Prim::Float, Value::Float(1e300)), Value::Float(x) if x == f64::INFINITY)
    );
    assert!(matches!(round_trip(Prim::Double, Value::Bool(true)), Value::Float(x) if x == 1.0));
    assert_eq!(
        init_err(Prim::Float, s("1"), "Type"),
        "must be real number, not str"
    );
    assert_eq!(
        init_err(Prim::Double, Value::Complex(0.0, 1.0), "Type"),
        "must be real number, not complex"
    );
    assert_eq!(
        init_err(Prim::Double, ints(&[1]), "Type"),
        "must be real number, not list"
    );
    assert_eq!(
        init_err(Prim::Double, Value::HugeInt(true), "Overflow"),
        "int too large to convert to float"
    );
    both(|mem, t| {
        let i = t.prim(Prim::Int);
        let a = new(mem, &i, &int(3)).unwrap();
        assert_eq!(
            err(
                new(mem, &t.prim(Prim::Double), &Value::CData { ty: i, addr: a }),
                "Type"
            ),
            "float() not supported on cdata 'int'"
        );
        let f = t.prim(Prim::Float);
        let fa = new(mem, &f, &Value::Float(3.5)).unwrap();
        let d = t.prim(Prim::Double);
        let da = new(mem, &d, &Value::CData { ty: f, addr: fa }).unwrap();
        assert!(matches!(read_prim(mem, da, &d).unwrap(), Value::Float(x) if x == 3.5));
    });
}

#[test]
fn long_double_round_trips_and_copies() {
    for x in [
        0.0,
        -0.0,
        1.5,
        -2.75,
        1e300,
        5e-324,
        2.2250738585072014e-308,
        f64::INFINITY,
        1.0 / 3.0,
        2f64.powi(70),
    ] {
        for target in [Target::Host, Target::Wasm32] {
            let bytes = long_double_to_bytes(x, target);
            let back = long_double_from_bytes(&bytes, target);
            assert_eq!(back.to_bits(), x.to_bits(), "{x} on {target:?}");
        }
    }
    assert!(long_double_from_bytes(
        &long_double_to_bytes(f64::NAN, Target::Wasm32),
        Target::Wasm32
    )
    .is_nan());
    // 1.0 in binary128 is 0x3FFF << 112; in x87 it is exponent 0x3FFF, explicit integer bit.
    let q = u128::from_le_bytes(long_double_to_bytes(1.0, Target::Wasm32));
    assert_eq!(q, 0x3FFFu128 << 112);
    if cfg!(target_arch = "x86_64") {
        let x = u128::from_le_bytes(long_double_to_bytes(1.0, Target::Host));
        assert_eq!(x, (0x3FFFu128 << 64) | (1u128 << 63));
    }
    // Rounding from the wider format: 1 + 2^-60 rounds to 1.0, 1 + 2^-52 + 2^-53 rounds up (ties to even).
    let q = (0x3FFFu128 << 112) | (1u128 << (112 - 60));
    assert_eq!(
        long_double_from_bytes(&q.to_le_bytes(), Target::Wasm32),
        1.0
    );
    let q = (0x3FFFu128 << 112) | (3u128 << (112 - 53));
    assert_eq!(
        long_double_from_bytes(&q.to_le_bytes(), Target::Wasm32),
        1.0 + 2f64.powi(-51)
    );
    assert!(
        matches!(round_trip(Prim::LongDouble, int(1 << 70)), Value::Float(x) if x == 2f64.powi(70))
    );
    both(|mem, t| {
        let ld = t.prim(Prim::LongDouble);
        let a = alloc(mem, 16);
        let raw = (0x3FFFu128 << 112) | 1; // not representable as f64: must be copied bit for bit
        mem.write(a, &raw.to_le_bytes()).unwrap();
        let c = new(
            mem,
            &ld,
            &Value::CData {
                ty: ld.clone(),
                addr: a,
            },
        )
        .unwrap();
        let mut out = [0u8; 16];
        mem.read(c, &mut out).unwrap();
        assert_eq!(u128::from_le_bytes(out), raw);
        assert_eq!(
            err(new(mem, &ld, &s("x")), "Type"),
            "must be real number, not str"
        );
    });
    assert_eq!(format_long_double(1.5), "1.500000E+00");
    assert_eq!(format_long_double(1.1805916207174113e21), "1.180592E+21");
    assert_eq!(format_long_double(-2.5e-7), "-2.500000E-07");
}

#[test]
fn complex_match_cffi() {
    assert!(
        matches!(round_trip(Prim::DoubleComplex, Value::Complex(1.0, 2.0)), Value::Complex(a, b) if a == 1.0 && b == 2.0)
    );
    assert!(
        matches!(round_trip(Prim::DoubleComplex, int(3)), Value::Complex(a, b) if a == 3.0 && b == 0.0)
    );
    assert!(
        matches!(round_trip(Prim::FloatComplex, Value::Float(3.5)), Value::Complex(a, b) if a == 3.5 && b == 0.0)
    );
    assert_eq!(
        init_err(Prim::DoubleComplex, s("x"), "Type"),
        "must be real number, not str"
    );
    assert_eq!(
        init_err(Prim::DoubleComplex, Value::HugeInt(true), "Overflow"),
        "int too large to convert to float"
    );
    both(|mem, t| {
        let d = t.prim(Prim::Double);
        let a = new(mem, &d, &Value::Float(1.0)).unwrap();
        assert_eq!(
            err(
                new(
                    mem,
                    &t.prim(Prim::DoubleComplex),
                    &Value::CData { ty: d, addr: a }
                ),
                "Type"
            ),
            "complex() not supported on cdata 'double'"
        );
    });
}

#[test]
fn enums_match_cffi() {
    both(|mem, t| {
        let e = t.enum_ty("e", Prim::Int, &[("A", 0), ("B", 5), ("C", -1)]);
        let a = new(mem, &e, &int(99)).unwrap();
        assert!(matches!(read_prim(mem, a, &e).unwrap(), Value::Int(99)));
        let a = new(mem, &e, &int(-2)).unwrap();
        assert!(matches!(read_prim(mem, a, &e).unwrap(), Value::Int(-2)));
        assert_eq!(err(new(mem, &e, &s("B")), "Type"), "an integer is required");
        assert_eq!(
            err(new(mem, &e, &int(1 << 40)), "Overflow"),
            "integer 1099511627776 does not fit 'enum e'"
        );
        let u = t.enum_ty("u", Prim::UInt, &[("UA", 0), ("UB", 7)]);
        assert_eq!(
            err(new(mem, &u, &int(-1)), "Overflow"),
            "can't convert negative number to unsigned"
        );
        let big = new(mem, &e, &int(99999)).unwrap();
        assert_eq!(
            err(
                new(
                    mem,
                    &t.prim(Prim::Short),
                    &Value::CData {
                        ty: e.clone(),
                        addr: big
                    }
                ),
                "Overflow"
            ),
            "integer <cdata 'enum e' 99999> does not fit 'short'"
        );
        let five = new(mem, &e, &int(5)).unwrap();
        assert_eq!(cdata_repr(mem, &e, five).unwrap(), "<cdata 'enum e' 5: B>");
    });
}

#[test]
fn int_float_bool_of_cdata() {
    both(|mem, t| {
        let c = t.prim(Prim::Char);
        let a = new(mem, &c, &b(b"\xc8")).unwrap();
        assert!(matches!(prim_as_int(mem, a, &c).unwrap(), Value::Int(200)));
        assert_eq!(
            err(prim_as_f64(mem, a, &c), "Type"),
            "float() not supported on cdata 'char'"
        );
        let w = t.prim(Prim::WChar);
        let a = new(mem, &w, &s("\u{1F600}")).unwrap();
        assert!(matches!(
            prim_as_int(mem, a, &w).unwrap(),
            Value::Int(0x1F600)
        ));
        let d = t.prim(Prim::Double);
        let a = new(mem, &d, &Value::Float(-3.7)).unwrap();
        assert!(matches!(prim_as_int(mem, a, &d).unwrap(), Value::Int(-3)));
        assert_eq!(prim_as_f64(mem, a, &d).unwrap(), -3.7);
        let a = new(mem, &d, &Value::Float(f64::INFINITY)).unwrap();
        assert_eq!(
            err(prim_as_int(mem, a, &d), "Overflow"),
            "cannot convert float infinity to integer"
        );
        let a = new(mem, &d, &Value::Float(1e300)).unwrap();
        assert!(matches!(prim_as_int(mem, a, &d).unwrap(), Value::Float(x) if x == 1e300));
        let a = new(mem, &d, &Value::Float(-0.0)).unwrap();
        assert!(!prim_is_nonzero(mem, a, &d).unwrap());
        let ld = t.prim(Prim::LongDouble);
        let a = new(mem, &ld, &Value::Float(-3.7)).unwrap();
        assert!(matches!(prim_as_int(mem, a, &ld).unwrap(), Value::Int(-3)));
        let dc = t.prim(Prim::DoubleComplex);
        let a = new(mem, &dc, &int(1)).unwrap();
        assert_eq!(
            err(prim_as_int(mem, a, &dc), "Type"),
            "int() not supported on cdata '_cffi_double_complex_t'"
        );
        assert!(prim_is_nonzero(mem, a, &dc).unwrap());
        let bl = t.prim(Prim::Bool);
        let a = new(mem, &bl, &int(1)).unwrap();
        assert!(matches!(prim_as_int(mem, a, &bl).unwrap(), Value::Int(1)));
    });
}

#[test]
fn reprs_match_python() {
    assert_eq!(py_bytes_repr(b"A'\x00\\"), "b\"A'\\x00\\\\\"");
    assert_eq!(py_bytes_repr(b"\xc8"), "b'\\xc8'");
    assert_eq!(py_str_repr(&[0x1869F]), "'\u{1869F}'");
    assert_eq!(py_str_repr(&[0xD83D, 10]), "'\\ud83d\\n'");
    assert_eq!(py_float_repr(1.0), "1.0");
    assert_eq!(py_float_repr(1e300), "1e+300");
    assert_eq!(py_float_repr(1.5e-7), "1.5e-07");
    both(|mem, t| {
        let c = t.prim(Prim::Char32);
        let a = new(mem, &c, &Value::Str(vec![0x1869F])).unwrap();
        assert_eq!(
            cdata_repr(mem, &c, a).unwrap(),
            "<cdata 'char32_t' '\u{1869F}'>"
        );
        let dc = t.prim(Prim::DoubleComplex);
        let a = new(mem, &dc, &Value::Complex(1.0, 2.0)).unwrap();
        assert_eq!(
            cdata_repr(mem, &dc, a).unwrap(),
            "<cdata '_cffi_double_complex_t' (1+2j)>"
        );
        let bl = t.prim(Prim::Bool);
        let a = new(mem, &bl, &int(1)).unwrap();
        assert_eq!(cdata_repr(mem, &bl, a).unwrap(), "<cdata '_Bool' True>");
    });
}

#[test]
fn promoted_to_int_gives_the_number_of_chars_bools_and_wide_chars() {
    use crate::cdata::promoted_to_int;
    use crate::layout::PrimClass;
    let int = |v: Value| match v {
        Value::Int(n) => n,
        other => panic!("not an int: {other:?}"),
    };
    // As CFFI passes it: the byte, unsigned.
    assert_eq!(
        int(promoted_to_int(PrimClass::Char, Value::Bytes(vec![0xFF]))),
        255
    );
    assert_eq!(
        int(promoted_to_int(PrimClass::Char, Value::Bytes(vec![b'A']))),
        65
    );
    assert_eq!(int(promoted_to_int(PrimClass::Bool, Value::Bool(true))), 1);
    assert_eq!(int(promoted_to_int(PrimClass::Char, Value::Int(7))), 7);
}
