//! Property tests: random values written into random simple types never
//! panic, and in-range integers round-trip.

use proptest::prelude::*;

use super::support::*;
use crate::cdata::*;
use crate::layout::{CType, PrimClass};
use crate::model::{Prim, RecordKind};

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i128>().prop_map(Value::Int),
        (-300i128..300).prop_map(Value::Int),
        any::<bool>().prop_map(Value::HugeInt),
        any::<f64>().prop_map(Value::Float),
        (any::<f64>(), any::<f64>()).prop_map(|(a, b)| Value::Complex(a, b)),
        proptest::collection::vec(any::<u8>(), 0..6).prop_map(Value::Bytes),
        proptest::collection::vec(0u32..0x11_0000, 0..4).prop_map(Value::Str),
        Just(Value::Other("object".into())),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::List),
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("x".to_string()),
                        Just("y".to_string()),
                        Just("q".to_string())
                    ],
                    inner
                ),
                0..3
            )
            .prop_map(Value::Dict),
        ]
    })
}

/// A menu of simple types for one target; index chosen by the strategy.
fn types(t: &Types) -> Vec<CType> {
    let mut out: Vec<CType> = Prim::ALL.iter().map(|p| t.prim(*p)).collect();
    let i = t.prim(Prim::Int);
    let c = t.prim(Prim::Char);
    out.push(t.ptr(&i));
    out.push(t.ptr(&c));
    out.push(t.array(&i, Some(3)));
    out.push(t.array(&c, Some(4)));
    out.push(t.array(&t.prim(Prim::Char16), Some(4)));
    out.push(t.array(&i, None));
    out.push(t.enum_ty("e", Prim::Int, &[("A", 0)]));
    out.push(t.record(
        RecordKind::Struct,
        "s",
        &[("x", i.clone()), ("y", t.prim(Prim::Short))],
    ));
    out.push(t.record(
        RecordKind::Union,
        "u",
        &[("x", i.clone()), ("y", t.prim(Prim::Double))],
    ));
    out.push(t.record(
        RecordKind::Struct,
        "fl",
        &[("x", i.clone()), ("y", t.array(&i, None))],
    ));
    out
}

proptest! {
    #[test]
    fn random_values_never_panic(v in value(), pick in 0usize..64, maxlen in proptest::option::of(0u64..8)) {
        both(|mem, t| {
            let tys = types(t);
            let ty = &tys[pick % tys.len()];
            let _ = open_length(ty, &v);
            let size = var_size(ty, &v).ok().flatten().or(ty.size()).unwrap_or(0).min(1 << 12);
            let a = alloc(mem, size + 16);
            let _ = write_init(mem, a, ty, &v);
            let _ = cast_value(ty, &v, mem);
            if ty.size().is_some() {
                let _ = read_value(mem, a, ty);
                let _ = string(mem, ty, a, maxlen);
            }
        });
    }

    #[test]
    fn integers_in_range_round_trip(x in any::<i128>(), pick in 0usize..51) {
        both(|mem, t| {
            let ty = t.prim(Prim::ALL[pick]);
            let crate::layout::CKind::Prim(_, l) = ty.kind() else { unreachable!() };
            if !matches!(l.class, PrimClass::Int { .. }) {
                return;
            }
            let (lo, hi) = l.int_range();
            let v = if hi > lo { lo + x.rem_euclid(hi - lo + 1) } else { lo };
            let a = new(mem, &ty, &Value::Int(v)).unwrap();
            assert!(matches!(read_prim(mem, a, &ty).unwrap(), Value::Int(r) if r == v));
            // A cast wraps to the same value when it is in range.
            let bytes = cast_value(&ty, &Value::Int(v), mem).unwrap();
            let mut stored = vec![0u8; bytes.len()];
            mem.read(a, &mut stored).unwrap();
            assert_eq!(bytes, stored);
        });
    }

    #[test]
    fn out_of_range_integers_are_refused(x in any::<i128>(), pick in 0usize..51) {
        both(|mem, t| {
            let ty = t.prim(Prim::ALL[pick]);
            let crate::layout::CKind::Prim(_, l) = ty.kind() else { unreachable!() };
            if !matches!(l.class, PrimClass::Int { .. } | PrimClass::Bool) {
                return;
            }
            let (lo, hi) = l.int_range();
            let a = alloc(mem, 16);
            let r = write_init(mem, a, &ty, &Value::Int(x));
            assert_eq!(r.is_ok(), (lo..=hi).contains(&x), "{x} into {}", ty.cname());
        });
    }

    #[test]
    fn long_double_round_trips(x in any::<f64>()) {
        for target in [crate::layout::Target::Host, crate::layout::Target::Wasm32] {
            let back = long_double_from_bytes(&long_double_to_bytes(x, target), target);
            prop_assert!(back.to_bits() == x.to_bits() || (x.is_nan() && back.is_nan()));
        }
    }
}
