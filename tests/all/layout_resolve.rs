//! Tests of the layout resolver and the record layout, on hand-built models.
//! Expected numbers come from `cffi` 2.0 on x86-64 Linux (`ffi.sizeof`,
//! `[(n, f.offset, f.bitshift, f.bitsize, f.flags) for n, f in T.fields]`).

use wasmcffi::layout::{CKind, CType, PrimClass, Target, TypeResolver};
use wasmcffi::model::{
    ArrayLen, EnumDef, Field, FuncType, Packing, Prim, Record, RecordKind, Type, TypeId, TypeTable,
};
use wasmcffi::{Error, Result};

/// Builds model types tersely.
struct B {
    t: TypeTable,
}

impl B {
    fn new() -> Self {
        B {
            t: TypeTable::new(),
        }
    }
    fn p(&mut self, prim: Prim) -> TypeId {
        self.t.prim(prim)
    }
    fn ptr(&mut self, ty: TypeId) -> TypeId {
        self.t.pointer_to(ty)
    }
    fn arr(&mut self, item: TypeId, len: ArrayLen) -> TypeId {
        self.t.intern(Type::Array { item, len })
    }
    fn rec_with(
        &mut self,
        kind: RecordKind,
        name: &str,
        fields: Option<Vec<Field>>,
        max_align: Option<u64>,
    ) -> TypeId {
        self.t.add_record(Record {
            kind,
            name: name.to_owned(),
            fields,
            partial: false,
            opaque: false,
            packing: Packing { max_align },
            typedef_name: None,
        })
    }
    fn st(&mut self, name: &str, fields: Vec<Field>) -> TypeId {
        self.rec_with(RecordKind::Struct, name, Some(fields), None)
    }
    fn un(&mut self, name: &str, fields: Vec<Field>) -> TypeId {
        self.rec_with(RecordKind::Union, name, Some(fields), None)
    }
    fn complete(&mut self, ty: TypeId, fields: Vec<Field>) {
        let Type::Record(rid) = *self.t.get(ty) else {
            panic!("not a record")
        };
        self.t.record_mut(rid).fields = Some(fields);
    }
}

fn f(name: &str, ty: TypeId) -> Field {
    Field {
        name: name.to_owned(),
        ty,
        bits: None,
    }
}

fn bf(name: &str, ty: TypeId, bits: u32) -> Field {
    Field {
        name: name.to_owned(),
        ty,
        bits: Some(bits),
    }
}

fn host(b: &B, id: TypeId) -> Result<CType> {
    TypeResolver::new(Target::Host).resolve(&b.t, id)
}

/// `(name, offset, bitshift, bitsize, flags)` as cffi prints them.
fn fields(ct: &CType) -> Vec<(String, u64, i32, i32, u8)> {
    let layout = ct.record_layout().expect("laid out");
    layout
        .fields
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                f.offset,
                f.bitshift,
                f.bitsize,
                u8::from(f.skip_in_positional_init),
            )
        })
        .collect()
}

fn row(name: &str, offset: u64, shift: i32, size: i32, flags: u8) -> (String, u64, i32, i32, u8) {
    (name.to_owned(), offset, shift, size, flags)
}

#[test]
fn resolver_caches_one_ctype_per_model_type() {
    let mut b = B::new();
    let int = b.p(Prim::Int);
    let p = b.ptr(int);
    let mut r = TypeResolver::new(Target::Host);
    let a = r.resolve(&b.t, p).unwrap();
    let c = r.resolve(&b.t, p).unwrap();
    assert_eq!(a, c);
    assert_eq!(a.cname(), "int *");
    assert_eq!(a.size(), Some(8));
    let CKind::Pointer(item) = a.kind() else {
        panic!()
    };
    assert_eq!(*item, r.resolve(&b.t, int).unwrap());
}

#[test]
fn function_pointer_resolves_to_function_kind() {
    let mut b = B::new();
    let int = b.p(Prim::Int);
    let func = b.t.intern(Type::Function(FuncType {
        ret: int,
        params: vec![int],
        variadic: false,
    }));
    let fp = b.ptr(func);
    let ct = host(&b, fp).unwrap();
    assert_eq!(ct.cname(), "int(*)(int)");
    assert!(matches!(ct.kind(), CKind::Function(fi) if fi.params.len() == 1 && !fi.variadic));
    assert_eq!(ct.size(), Some(8));
    let err = host(&b, func).unwrap_err();
    assert_eq!(
        err,
        Error::CDef(
            "the type 'int(int)' is a function type, not a pointer-to-function type".into()
        )
    );
}

#[test]
fn recursive_struct_through_pointer_works() {
    let mut b = B::new();
    let s = b.rec_with(RecordKind::Struct, "s", None, None);
    let ps = b.ptr(s);
    let int = b.p(Prim::Int);
    b.complete(s, vec![f("a", int), f("next", ps)]);
    let ct = host(&b, s).unwrap();
    assert_eq!((ct.size(), ct.align()), (Some(16), Some(8)));
    let layout = ct.record_layout().unwrap();
    let CKind::Pointer(item) = layout.fields[1].ty.kind() else {
        panic!()
    };
    assert_eq!(*item, ct);
}

#[test]
fn struct_containing_itself_is_refused() {
    let mut b = B::new();
    let s = b.rec_with(RecordKind::Struct, "s", None, None);
    let int = b.p(Prim::Int);
    b.complete(s, vec![f("a", int), f("n", s)]);
    let err = host(&b, s).unwrap_err();
    assert_eq!(
        err,
        Error::NotImplemented("recursive structure declaration for 's'".into())
    );
}

#[test]
fn forward_struct_gets_layout_when_completed_later() {
    let mut b = B::new();
    let s = b.rec_with(RecordKind::Struct, "fwd", None, None);
    let ps = b.ptr(s);
    let mut r = TypeResolver::new(Target::Host);
    let p = r.resolve(&b.t, ps).unwrap();
    let CKind::Pointer(item) = p.kind() else {
        panic!()
    };
    let item = item.clone();
    assert_eq!(item.size(), None);
    assert_eq!(
        item.sizeof(),
        Err(Error::Value("ctype 'struct fwd' is of unknown size".into()))
    );
    let arr = b.arr(s, ArrayLen::Fixed(3));
    assert_eq!(
        r.resolve(&b.t, arr).unwrap_err(),
        Error::Value("array item of unknown size: 'struct fwd'".into())
    );
    let dbl = b.p(Prim::Double);
    b.complete(s, vec![f("x", dbl)]);
    // Resolving anything gives the pending record its layout.
    let _ = r.resolve(&b.t, dbl).unwrap();
    assert_eq!(item.size(), Some(8));
    assert_eq!(r.resolve(&b.t, arr).unwrap().size(), Some(24));
}

#[test]
fn opaque_and_incomplete_fields_are_refused() {
    let mut b = B::new();
    let fwd = b.rec_with(RecordKind::Struct, "fwd", None, None);
    let s = b.st("s", vec![f("x", fwd)]);
    assert_eq!(
        host(&b, s).unwrap_err(),
        Error::Type("field 'struct s.x' has ctype 'struct fwd' of unknown size".into())
    );
    let void = b.t.intern(Type::Void);
    let v = b.st("v", vec![f("x", void)]);
    assert_eq!(
        host(&b, v).unwrap_err(),
        Error::Type("field 'struct v.x' has ctype 'void' of unknown size".into())
    );
}

#[test]
fn partial_struct_resolves_without_layout() {
    let mut b = B::new();
    let int = b.p(Prim::Int);
    let s = b.t.add_record(Record {
        kind: RecordKind::Struct,
        name: "partial".into(),
        fields: Some(vec![f("x", int)]),
        partial: true,
        opaque: false,
        packing: Packing::default(),
        typedef_name: None,
    });
    let ps = b.ptr(s);
    let mut r = TypeResolver::new(Target::Host);
    assert_eq!(r.resolve(&b.t, ps).unwrap().cname(), "struct partial *");
    let ct = r.resolve(&b.t, s).unwrap();
    assert_eq!(
        ct.sizeof(),
        Err(Error::VerificationMissing("struct partial".into()))
    );
    // A struct with a partial struct field is partial too.
    let outer = b.st("outer", vec![f("p", s)]);
    assert_eq!(
        r.resolve(&b.t, outer).unwrap().sizeof(),
        Err(Error::VerificationMissing("struct outer".into()))
    );
}

#[test]
fn unknown_lengths_and_prims_need_a_compiler() {
    let mut b = B::new();
    let int = b.p(Prim::Int);
    let unk = b.arr(int, ArrayLen::Unknown);
    assert_eq!(
        host(&b, unk).unwrap_err(),
        Error::CDef("cannot render the type <int[...]>: unknown length".into())
    );
    let s = b.st("s", vec![f("a", unk)]);
    assert_eq!(
        host(&b, s).unwrap().sizeof(),
        Err(Error::VerificationMissing("struct s".into()))
    );
    let t = b.t.intern(Type::UnknownPrim {
        name: "myint_t".into(),
        float: false,
    });
    let pt = b.ptr(t);
    let msg = "integer type 'myint_t' can only be used after compilation";
    assert_eq!(host(&b, t).unwrap_err(), Error::NotImplemented(msg.into()));
    assert_eq!(host(&b, pt).unwrap_err(), Error::NotImplemented(msg.into()));
    let ft = b.t.intern(Type::UnknownPrim {
        name: "myf_t".into(),
        float: true,
    });
    assert_eq!(
        host(&b, ft).unwrap_err(),
        Error::NotImplemented("float type 'myf_t' can only be used after compilation".into())
    );
}

#[test]
fn enum_repr_follows_cffi() {
    /// Enumerator values → `(size, signed)` of the representation, or `None` for an error.
    type Case<'a> = (&'a [i128], Option<(u64, bool)>);
    let cases: &[Case<'_>] = &[
        (&[0, 1], Some((4, false))),
        (&[-1, 0], Some((4, true))),
        (&[0xffff_ffff], Some((4, false))),
        (&[0x1_0000_0000], Some((8, false))),
        (&[-1, 0x8000_0000], Some((8, true))),
        (&[-0x8000_0000], Some((4, true))),
        (&[0xffff_ffff_ffff_ffff], Some((8, false))),
        (&[-1, 0xffff_ffff_ffff_ffff], None),
        (&[], Some((4, false))),
    ];
    for (values, want) in cases {
        let mut b = B::new();
        let e = b.t.add_enum(EnumDef {
            name: "e".into(),
            values: values
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("V{i}"), Some(*v)))
                .collect(),
            partial: false,
            repr: None,
        });
        for target in [Target::Host, Target::Wasm32] {
            let res = TypeResolver::new(target).resolve(&b.t, e);
            match want {
                Some((size, signed)) => {
                    let ct = res.unwrap();
                    let CKind::Enum(et) = ct.kind() else { panic!() };
                    assert_eq!((et.repr.size, et.repr.align), (*size, *size), "{values:?}");
                    assert_eq!(et.repr.class, PrimClass::Int { signed: *signed });
                }
                None => assert_eq!(
                    res.unwrap_err(),
                    Error::CDef(
                        "enum e values don't all fit into either 'long' or 'unsigned long'".into()
                    )
                ),
            }
        }
    }
}

#[test]
fn partial_enum_is_verification_missing() {
    let mut b = B::new();
    let e = b.t.add_enum(EnumDef {
        name: "e".into(),
        values: vec![("A".into(), Some(0))],
        partial: true,
        repr: None,
    });
    let pe = b.ptr(e);
    assert_eq!(
        host(&b, pe).unwrap_err(),
        Error::VerificationMissing("enum e".into())
    );
}

#[test]
fn bitfields_match_cffi() {
    // struct e { int a:3, b:5, :0, c:30, d:4; char e; long long f:40;
    //            long long g:30; short h:9, i:9; };
    let mut b = B::new();
    let (int, ch, ll, sh) = (
        b.p(Prim::Int),
        b.p(Prim::Char),
        b.p(Prim::LongLong),
        b.p(Prim::Short),
    );
    let s = b.st(
        "e",
        vec![
            bf("a", int, 3),
            bf("b", int, 5),
            bf("", int, 0),
            bf("c", int, 30),
            bf("d", int, 4),
            f("e", ch),
            bf("f", ll, 40),
            bf("g", ll, 30),
            bf("h", sh, 9),
            bf("i", sh, 9),
        ],
    );
    let ct = host(&b, s).unwrap();
    assert_eq!(ct.size(), Some(24));
    assert_eq!(
        fields(&ct),
        vec![
            row("a", 0, 0, 3, 0),
            row("b", 0, 3, 5, 0),
            row("c", 4, 0, 30, 0),
            row("d", 8, 0, 4, 0),
            row("e", 9, -1, -1, 0),
            row("f", 8, 16, 40, 0),
            row("g", 16, 0, 30, 0),
            row("h", 20, 0, 9, 0),
            row("i", 22, 0, 9, 0),
        ]
    );
}

#[test]
fn unnamed_bitfields_do_not_align_the_struct() {
    let mut b = B::new();
    let (int, ch, ll) = (b.p(Prim::Int), b.p(Prim::Char), b.p(Prim::LongLong));
    let s1 = b.st("s1", vec![f("c", ch), bf("", int, 0)]);
    let s2 = b.st("s2", vec![f("c", ch), bf("", int, 0), f("d", ch)]);
    let s3 = b.st("s3", vec![f("a", ch), bf("", ll, 60)]);
    let s4 = b.st("s4", vec![bf("a", int, 3), bf("", int, 4), bf("b", int, 2)]);
    let got: Vec<_> = [s1, s2, s3]
        .iter()
        .map(|&s| {
            let ct = host(&b, s).unwrap();
            (ct.size().unwrap(), ct.align().unwrap())
        })
        .collect();
    assert_eq!(got, vec![(4, 1), (5, 1), (16, 1)]);
    assert_eq!(
        fields(&host(&b, s4).unwrap()),
        vec![row("a", 0, 0, 3, 0), row("b", 0, 7, 2, 0)]
    );
}

#[test]
fn bad_bitfields_are_refused() {
    let mut b = B::new();
    let (int, fl) = (b.p(Prim::Int), b.p(Prim::Float));
    let pint = b.ptr(int);
    let cases = [
        (
            bf("x", int, 33),
            "bit field 'struct s.x' is declared 'int:33', which exceeds the width of the type",
        ),
        (
            bf("x", fl, 3),
            "field 'struct s.x' declared as 'float' cannot be a bit field",
        ),
        (
            bf("x", pint, 3),
            "field 'struct s.x' declared as 'int *' cannot be a bit field",
        ),
        (bf("x", int, 0), "field 'struct s.x' is declared with :0"),
    ];
    for (field, msg) in cases {
        let mut b2 = B { t: b.t.clone() };
        let s = b2.st("s", vec![field]);
        assert_eq!(host(&b2, s).unwrap_err(), Error::Type(msg.into()));
    }
    let dup = b.st("d", vec![f("x", int), f("x", int)]);
    assert_eq!(
        host(&b, dup).unwrap_err(),
        Error::Key("duplicate field name 'x'".into())
    );
}

#[test]
fn anonymous_members_are_flattened_with_union_flags() {
    // struct e { int a; union { int b; char c; struct { short d, e; }; };
    //            struct { int f; union { int g; long h; }; }; int i; };
    let mut b = B::new();
    let (int, ch, sh, long) = (
        b.p(Prim::Int),
        b.p(Prim::Char),
        b.p(Prim::Short),
        b.p(Prim::Long),
    );
    let de = b.st("$1", vec![f("d", sh), f("e", sh)]);
    let u1 = b.un("$2", vec![f("b", int), f("c", ch), f("", de)]);
    let gh = b.un("$3", vec![f("g", int), f("h", long)]);
    let s2 = b.st("$4", vec![f("f", int), f("", gh)]);
    let e = b.st("e", vec![f("a", int), f("", u1), f("", s2), f("i", int)]);
    let ct = host(&b, e).unwrap();
    assert_eq!(ct.size(), Some(32));
    assert_eq!(
        fields(&ct),
        vec![
            row("a", 0, -1, -1, 0),
            row("b", 4, -1, -1, 0),
            row("c", 4, -1, -1, 1),
            row("d", 4, -1, -1, 1),
            row("e", 6, -1, -1, 1),
            row("f", 8, -1, -1, 0),
            row("g", 16, -1, -1, 0),
            row("h", 16, -1, -1, 1),
            row("i", 24, -1, -1, 0),
        ]
    );
    // union e { int a:3; char b:2; long long c:5; };
    let ll = b.p(Prim::LongLong);
    let u = b.un("u", vec![bf("a", int, 3), bf("b", ch, 2), bf("c", ll, 5)]);
    let ct = host(&b, u).unwrap();
    assert_eq!((ct.size(), ct.align()), (Some(8), Some(8)));
    assert_eq!(
        fields(&ct),
        vec![
            row("a", 0, 0, 3, 0),
            row("b", 0, 0, 2, 1),
            row("c", 0, 0, 5, 1)
        ]
    );
}

#[test]
fn packing_caps_alignment() {
    let mut b = B::new();
    let (ch, int, dbl, ld) = (
        b.p(Prim::Char),
        b.p(Prim::Int),
        b.p(Prim::Double),
        b.p(Prim::LongDouble),
    );
    let flds = vec![f("a", ch), f("b", int), f("c", dbl), f("d", ld)];
    let p2 = b.rec_with(RecordKind::Struct, "p2", Some(flds.clone()), Some(2));
    let p1 = b.rec_with(RecordKind::Struct, "p1", Some(flds), Some(1));
    let ct = host(&b, p2).unwrap();
    assert_eq!((ct.size(), ct.align()), (Some(30), Some(2)));
    assert_eq!(
        fields(&ct).iter().map(|r| r.1).collect::<Vec<_>>(),
        vec![0, 2, 6, 14]
    );
    let ct = host(&b, p1).unwrap();
    assert_eq!((ct.size(), ct.align()), (Some(29), Some(1)));
    assert_eq!(
        fields(&ct).iter().map(|r| r.1).collect::<Vec<_>>(),
        vec![0, 1, 5, 13]
    );
}

#[test]
fn packed_bitfields_match_cffi() {
    let mut b = B::new();
    let (ch, int, sh) = (b.p(Prim::Char), b.p(Prim::Int), b.p(Prim::Short));
    let s1 = b.rec_with(
        RecordKind::Struct,
        "s1",
        Some(vec![f("a", ch), bf("b", int, 24), f("c", ch)]),
        Some(1),
    );
    let ct = host(&b, s1).unwrap();
    assert_eq!((ct.size(), ct.align()), (Some(5), Some(1)));
    assert_eq!(
        fields(&ct),
        vec![
            row("a", 0, -1, -1, 0),
            row("b", 1, 0, 24, 0),
            row("c", 4, -1, -1, 0)
        ]
    );
    let s2 = b.rec_with(
        RecordKind::Struct,
        "s2",
        Some(vec![f("a", ch), bf("b", int, 24), f("c", ch)]),
        Some(2),
    );
    let ct = host(&b, s2).unwrap();
    assert_eq!((ct.size(), ct.align()), (Some(6), Some(2)));
    assert_eq!(
        fields(&ct),
        vec![
            row("a", 0, -1, -1, 0),
            row("b", 0, 8, 24, 0),
            row("c", 4, -1, -1, 0)
        ]
    );
    let s3 = b.rec_with(
        RecordKind::Struct,
        "s3",
        Some(vec![bf("a", ch, 3), bf("b", sh, 7)]),
        Some(1),
    );
    assert_eq!(
        fields(&host(&b, s3).unwrap()),
        vec![row("a", 0, 0, 3, 0), row("b", 0, 3, 7, 0)]
    );
    let s4 = b.rec_with(
        RecordKind::Struct,
        "s4",
        Some(vec![bf("a", ch, 3), bf("b", int, 31)]),
        Some(1),
    );
    assert_eq!(
        host(&b, s4).unwrap_err(),
        Error::NotImplemented(
            "with 'packed', gcc would compile field 'struct s4.b' to reuse some bits in the previous field".into()
        )
    );
}

#[test]
fn flexible_array_member_is_variable_size() {
    let mut b = B::new();
    let (ch, int, dbl) = (b.p(Prim::Char), b.p(Prim::Int), b.p(Prim::Double));
    let open_int = b.arr(int, ArrayLen::Open);
    let open_dbl = b.arr(dbl, ArrayLen::Open);
    let s = b.st("s", vec![f("y", int), f("x", open_int)]);
    let ct = host(&b, s).unwrap();
    let layout = ct.record_layout().unwrap();
    assert_eq!((layout.size, layout.has_flexible_array), (4, true));
    assert_eq!(layout.fields[1].offset, 4);
    let d = b.st("d", vec![f("y", ch), f("x", open_dbl)]);
    assert_eq!(host(&b, d).unwrap().size(), Some(8));
    let only = b.st("only", vec![f("x", open_int)]);
    let ct = host(&b, only).unwrap();
    assert_eq!((ct.size(), ct.align()), (Some(1), Some(4)));
    // Nested: the flag propagates, wherever the inner struct sits.
    let t = b.st("t", vec![f("s", s), f("c", ch)]);
    let ct = host(&b, t).unwrap();
    assert_eq!(
        (ct.size(), ct.record_layout().unwrap().has_flexible_array),
        (Some(8), true)
    );
    let arr = b.arr(s, ArrayLen::Fixed(2));
    assert_eq!(host(&b, arr).unwrap().size(), Some(8));
    // Not last: an error.
    let bad = b.st("bad", vec![f("y", int), f("x", open_int), f("z", int)]);
    assert_eq!(
        host(&b, bad).unwrap_err(),
        Error::Type("field 'struct bad.x' has ctype 'int[]' of unknown size".into())
    );
    let open_ch = b.arr(ch, ArrayLen::Open);
    let u = b.un("u", vec![f("y", int), f("x", open_ch)]);
    assert_eq!(host(&b, u).unwrap().size(), Some(4));
}

#[test]
fn empty_struct_has_size_one() {
    let mut b = B::new();
    let s = b.st("e", vec![]);
    let ct = host(&b, s).unwrap();
    assert_eq!((ct.size(), ct.align()), (Some(1), Some(1)));
}

#[test]
fn huge_arrays_overflow() {
    let mut b = B::new();
    let int = b.p(Prim::Int);
    let huge = b.arr(int, ArrayLen::Fixed(4_000_000_000_000_000_000));
    let msg = Error::Overflow("array size would overflow a Py_ssize_t".into());
    assert_eq!(host(&b, huge).unwrap_err(), msg);
    let big = b.arr(int, ArrayLen::Fixed(1 << 40));
    let huge2 = b.arr(big, ArrayLen::Fixed(1 << 40));
    assert_eq!(host(&b, huge2).unwrap_err(), msg);
    let s = b.st("s", vec![f("x", big)]);
    assert!(host(&b, s).is_ok());
    assert_eq!(
        TypeResolver::new(Target::Wasm32)
            .resolve(&b.t, s)
            .unwrap_err(),
        msg
    );
    let big2 = b.arr(int, ArrayLen::Fixed(1 << 60));
    let many = b.st("many", (0..10).map(|i| f(&format!("x{i}"), big2)).collect());
    assert!(matches!(host(&b, many).unwrap_err(), Error::Overflow(_)));
}

#[test]
fn wasm32_layout_is_ilp32() {
    let mut b = B::new();
    let (ch, long, ll, ld) = (
        b.p(Prim::Char),
        b.p(Prim::Long),
        b.p(Prim::LongLong),
        b.p(Prim::LongDouble),
    );
    let pc = b.ptr(ch);
    let s = b.st(
        "s",
        vec![
            f("c", ch),
            f("l", long),
            f("p", pc),
            f("ll", ll),
            f("ld", ld),
        ],
    );
    let ct = TypeResolver::new(Target::Wasm32).resolve(&b.t, s).unwrap();
    assert_eq!((ct.size(), ct.align()), (Some(48), Some(16)));
    assert_eq!(
        fields(&ct).iter().map(|r| r.1).collect::<Vec<_>>(),
        vec![0, 4, 8, 16, 32]
    );
}

#[test]
fn absurd_nesting_is_an_error_not_a_stack_overflow() {
    let mut b = B::new();
    let mut ty = b.p(Prim::Int);
    for _ in 0..190 {
        ty = b.ptr(ty);
    }
    assert_eq!(host(&b, ty).unwrap().size(), Some(8));
    for _ in 0..110 {
        ty = b.ptr(ty);
    }
    assert!(matches!(host(&b, ty).unwrap_err(), Error::CDef(m) if m.contains("nested")));
    let mut rec = b.p(Prim::Int);
    for i in 0..300 {
        rec = b.st(&format!("s{i}"), vec![f("x", rec)]);
    }
    assert!(matches!(host(&b, rec).unwrap_err(), Error::CDef(m) if m.contains("nested")));
}

mod paths {
    use super::*;
    use wasmcffi::layout::{follow_path, PathStep};

    fn field(name: &str) -> PathStep {
        PathStep::Field(name.to_owned())
    }

    /// `struct inner { char c; int v[4]; }; struct outer { short s; struct inner in; int bits : 3; }`
    fn outer(b: &mut B) -> TypeId {
        let (c, i, s) = (b.p(Prim::Char), b.p(Prim::Int), b.p(Prim::Short));
        let v = b.arr(i, ArrayLen::Fixed(4));
        let inner = b.st("inner", vec![f("c", c), f("v", v)]);
        b.st("outer", vec![f("s", s), f("in", inner), bf("bits", i, 3)])
    }

    #[test]
    fn fields_and_indexes_add_their_offsets() {
        let mut b = B::new();
        let o = outer(&mut b);
        let ty = host(&b, o).unwrap();
        let (reached, offset) =
            follow_path(&ty, &[field("in"), field("v"), PathStep::Index(2)], false).unwrap();
        assert_eq!((reached.cname(), offset), ("int", 4 + 4 + 2 * 4));
        let (_, back) =
            follow_path(&ty, &[field("in"), field("v"), PathStep::Index(-1)], false).unwrap();
        assert_eq!(back, 4);
    }

    #[test]
    fn a_first_step_may_go_through_a_pointer() {
        let mut b = B::new();
        let o = outer(&mut b);
        let p = b.ptr(o);
        let ty = host(&b, p).unwrap();
        assert_eq!(follow_path(&ty, &[field("in")], true).unwrap().1, 4);
        assert!(matches!(
            follow_path(&ty, &[field("in")], false),
            Err(Error::Type(_))
        ));
        // An index through the pointer: the size of what it points to.
        let size = host(&b, o).unwrap().size().unwrap();
        assert_eq!(
            follow_path(&ty, &[PathStep::Index(3)], false).unwrap().1,
            3 * size
        );
    }

    #[test]
    fn cffi_errors() {
        let mut b = B::new();
        let o = outer(&mut b);
        let ty = host(&b, o).unwrap();
        assert!(
            matches!(follow_path(&ty, &[field("nope")], false), Err(Error::Key(k)) if k == "nope")
        );
        assert!(matches!(follow_path(&ty, &[field("bits")], false),
                         Err(Error::Type(m)) if m == "not supported for bitfield 'bits'"));
        assert!(matches!(
            follow_path(&ty, &[PathStep::Index(1)], false),
            Err(Error::Type(_))
        ));
        assert!(
            matches!(follow_path(&ty, &[field("in"), field("v"), PathStep::Index(-5)], false),
                         Err(Error::Value(m)) if m == "negative offset")
        );
    }
}

mod varargs {
    use super::*;
    use wasmcffi::layout::{vararg_promotion, Promotion};

    #[test]
    fn c_default_argument_promotions() {
        let mut b = B::new();
        for target in [Target::Host, Target::Wasm32] {
            let resolve = |b: &B, id| TypeResolver::new(target).resolve(&b.t, id).unwrap();
            let cases = [
                (Prim::Char, Promotion::Int),
                (Prim::SChar, Promotion::Int),
                (Prim::UShort, Promotion::Int),
                (Prim::Bool, Promotion::Int),
                (Prim::Int, Promotion::Unchanged),
                (Prim::LongLong, Promotion::Unchanged),
                (Prim::Float, Promotion::Double),
                (Prim::Double, Promotion::Unchanged),
            ];
            for (prim, expected) in cases {
                let id = b.p(prim);
                assert_eq!(
                    vararg_promotion(&resolve(&b, id)).unwrap(),
                    expected,
                    "{prim:?}"
                );
            }
            let int = b.p(Prim::Int);
            let array = b.arr(int, ArrayLen::Fixed(3));
            assert_eq!(
                vararg_promotion(&resolve(&b, array)).unwrap(),
                Promotion::ItemPointer
            );
            let pointer = b.ptr(int);
            assert_eq!(
                vararg_promotion(&resolve(&b, pointer)).unwrap(),
                Promotion::Unchanged
            );
            let void = b.t.intern(Type::Void);
            assert!(matches!(
                vararg_promotion(&resolve(&b, void)),
                Err(Error::Type(_))
            ));
        }
    }
}

mod abi_classes {
    use super::*;
    use wasmcffi::layout::{abi_class, AbiClass, PlainChar};

    #[test]
    fn one_class_per_type_and_plain_char_per_path() {
        let mut b = B::new();
        for target in [Target::Host, Target::Wasm32] {
            let resolve = |b: &B, id| TypeResolver::new(target).resolve(&b.t, id).unwrap();
            let class = |b: &B, id, plain| abi_class(&resolve(b, id), plain);
            let int = |size, signed| AbiClass::Int { size, signed };
            for plain in [PlainChar::Signed, PlainChar::Unsigned] {
                let cases = [
                    (Prim::SChar, int(1, true)),
                    (Prim::UChar, int(1, false)),
                    (Prim::Bool, int(1, false)),
                    (Prim::Short, int(2, true)),
                    (Prim::UInt, int(4, false)),
                    (Prim::LongLong, int(8, true)),
                    (Prim::Float, AbiClass::Float { size: 4 }),
                    (Prim::Double, AbiClass::Float { size: 8 }),
                    (Prim::LongDouble, AbiClass::LongDouble),
                ];
                for (prim, expected) in cases {
                    let id = b.p(prim);
                    assert_eq!(class(&b, id, plain), expected, "{prim:?} on {target:?}");
                }
                // Plain `char` alone depends on the path.
                let c = b.p(Prim::Char);
                assert_eq!(class(&b, c, plain), int(1, plain == PlainChar::Signed));
                let long = b.p(Prim::Long);
                let long_size = resolve(&b, long).size().unwrap() as u8;
                assert_eq!(class(&b, long, plain), int(long_size, true));
                let pointer = b.ptr(c);
                assert_eq!(class(&b, pointer, plain), AbiClass::Pointer);
                let void = b.t.intern(Type::Void);
                assert_eq!(class(&b, void, plain), AbiClass::Void);
                let point = b.st("pt", vec![f("x", long)]);
                assert_eq!(class(&b, point, plain), AbiClass::Record);
                let array = b.arr(long, ArrayLen::Fixed(2));
                assert_eq!(class(&b, array, plain), AbiClass::Array);
            }
        }
    }
}

mod wasm_vararg_area {
    use super::*;
    use wasmcffi::backend::wasm::abi::{vararg_area, VarargSlot};

    #[test]
    fn each_value_at_its_alignment_and_structs_by_pointer() {
        let mut b = B::new();
        let (int, double, ll) = (b.p(Prim::Int), b.p(Prim::Double), b.p(Prim::LongLong));
        let point = b.st("point", vec![f("x", double), f("y", double)]);
        let ptr = b.ptr(int);
        let wasm = |b: &B, id| TypeResolver::new(Target::Wasm32).resolve(&b.t, id).unwrap();
        let types = [int, double, point, ptr, ll].map(|id| wasm(&b, id));
        let (slots, size) = vararg_area(&types);
        let slot = |offset, by_pointer| VarargSlot { offset, by_pointer };
        assert_eq!(
            slots,
            vec![
                slot(0, false),  // int
                slot(8, false),  // double, 8-aligned
                slot(16, true),  // struct: a pointer to a copy
                slot(20, false), // pointer
                slot(24, false), // long long, 8-aligned
            ]
        );
        assert_eq!(size, 32);
        assert_eq!(vararg_area(&[]), (vec![], 0));
    }
}

mod wasm_arg_shape {
    use super::*;
    use wasmcffi::backend::wasm::abi::ArgShape;
    use wasmcffi::backend::wasm::WasmVal;

    #[test]
    fn hidden_result_pointer_then_each_parameters_values() {
        let mut b = B::new();
        let (int, ld) = (b.p(Prim::Int), b.p(Prim::LongDouble));
        let pair = b.st("pair", vec![f("a", int), f("b", int)]);
        let wasm = |b: &B, id| TypeResolver::new(Target::Wasm32).resolve(&b.t, id).unwrap();
        let (ret, params) = (
            wasm(&b, pair),
            [wasm(&b, int), wasm(&b, ld), wasm(&b, pair)],
        );
        let shape = ArgShape::new(&ret, &params).unwrap();
        let args = [
            WasmVal::I32(64), // where the struct result goes
            WasmVal::I32(7),
            WasmVal::I64(1),
            WasmVal::I64(2),   // long double: two i64
            WasmVal::I32(128), // the struct argument: a pointer to a copy
        ];
        let (result_at, values) = shape.split(&args);
        assert_eq!(result_at, Some(64));
        assert_eq!(values, vec![&args[1..2], &args[2..4], &args[4..5]]);
        // Too few arguments: the missing parameter gets no values.
        let (_, short) = shape.split(&args[..3]);
        assert_eq!(short[1].len(), 1);
        assert!(short[2].is_empty());
    }
}
