//! Test support: a wasm32-like `VecMemory`, a small `CType` builder, and
//! `both()`, which runs a test on host memory and on `VecMemory`.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use crate::cdata::{pointer_cname, Addr, HostMemory, Memory, Value};
use crate::error::{Error, Result};
use crate::layout::{
    CKind, CType, CTypeData, EnumType, FieldLayout, FuncInfo, RecordLayout, RecordType, Target,
};
use crate::model::{Prim, RecordKind, TypeId};

/// A linear memory of wasm32: addresses are offsets from `BASE`, every access
/// is bounds-checked, address 0 is refused.
pub struct VecMemory {
    data: RefCell<Vec<u8>>,
    next: Cell<u64>,
}

const BASE: u64 = 16;

impl VecMemory {
    pub fn new() -> Self {
        VecMemory {
            data: RefCell::new(Vec::new()),
            next: Cell::new(BASE),
        }
    }

    fn range(&self, addr: Addr, len: usize) -> Result<std::ops::Range<usize>> {
        let end = addr.checked_add(len as u64);
        let size = self.data.borrow().len() as u64 + BASE;
        match end {
            Some(end) if addr >= BASE && end <= size => {
                Ok((addr - BASE) as usize..(end - BASE) as usize)
            }
            _ => Err(Error::Memory(format!(
                "out of bounds access of {len} bytes at {addr:#x}"
            ))),
        }
    }
}

impl Memory for VecMemory {
    fn target(&self) -> Target {
        Target::Wasm32
    }

    fn read(&self, addr: Addr, out: &mut [u8]) -> Result<()> {
        let r = self.range(addr, out.len())?;
        out.copy_from_slice(&self.data.borrow()[r]);
        Ok(())
    }

    fn write(&self, addr: Addr, data: &[u8]) -> Result<()> {
        let r = self.range(addr, data.len())?;
        self.data.borrow_mut()[r].copy_from_slice(data);
        Ok(())
    }

    fn alloc_zeroed(&self, size: u64, align: u64) -> Result<Addr> {
        let align = align.max(1);
        let start = self.next.get().div_ceil(align) * align;
        let end = start + size.max(1);
        self.data.borrow_mut().resize((end - BASE) as usize, 0);
        self.next.set(end);
        Ok(start)
    }

    fn free(&self, _addr: Addr, _size: u64, _align: u64) {}
}

/// Builds `CType`s for one target the way the resolver would.
pub struct Types {
    pub target: Target,
}

fn mk(target: Target, cname: String, kind: CKind) -> CType {
    CType(Arc::new(CTypeData {
        model_id: TypeId(0),
        target,
        cname,
        kind,
    }))
}

impl Types {
    pub fn prim(&self, p: Prim) -> CType {
        mk(
            self.target,
            p.name().to_string(),
            CKind::Prim(p, self.target.prim_layout(p)),
        )
    }

    pub fn void(&self) -> CType {
        mk(self.target, "void".into(), CKind::Void)
    }

    pub fn ptr(&self, item: &CType) -> CType {
        mk(
            self.target,
            pointer_cname(item),
            CKind::Pointer(item.clone()),
        )
    }

    pub fn array(&self, item: &CType, len: Option<u64>) -> CType {
        let name = item.cname();
        let pos = name.find(['[', ')']).unwrap_or(name.len());
        let n = len.map_or(String::new(), |n| n.to_string());
        let cname = format!("{}[{n}]{}", &name[..pos], &name[pos..]);
        mk(
            self.target,
            cname,
            CKind::Array {
                item: item.clone(),
                len,
            },
        )
    }

    pub fn func(&self, ret: &CType, params: &[CType]) -> CType {
        let args: Vec<_> = params.iter().map(|p| p.cname().to_string()).collect();
        let cname = format!("{}(*)({})", ret.cname(), args.join(", "));
        mk(
            self.target,
            cname,
            CKind::Function(FuncInfo {
                ret: ret.clone(),
                params: params.to_vec(),
                variadic: false,
            }),
        )
    }

    pub fn enum_ty(&self, name: &str, repr: Prim, values: &[(&str, i128)]) -> CType {
        let e = EnumType {
            name: name.into(),
            repr: self.target.prim_layout(repr),
            values: values.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        };
        mk(
            self.target,
            format!("enum {name}"),
            CKind::Enum(Arc::new(e)),
        )
    }

    /// A record with natural C layout. Fields are `(name, type)`; a trailing
    /// `T[]` makes it variable-size.
    pub fn record(&self, kind: RecordKind, name: &str, fields: &[(&str, CType)]) -> CType {
        let mut offset = 0u64;
        let mut align = 1u64;
        let mut size = 0u64;
        let mut out = Vec::new();
        let mut flexible = false;
        for (fname, ty) in fields {
            let a = ty.align().unwrap_or(1);
            align = align.max(a);
            let off = if kind == RecordKind::Union {
                0
            } else {
                offset.div_ceil(a) * a
            };
            let fsize = match ty.kind() {
                CKind::Array { len: None, .. } => {
                    flexible = true;
                    0
                }
                _ => ty.size().unwrap_or(0),
            };
            offset = off + fsize;
            size = size.max(offset);
            out.push(FieldLayout {
                name: fname.to_string(),
                ty: ty.clone(),
                offset: off,
                bitshift: -1,
                bitsize: -1,
                skip_in_positional_init: false,
            });
        }
        let layout = RecordLayout {
            size: size.div_ceil(align) * align,
            align,
            fields: out,
            has_flexible_array: flexible,
            custom_field_pos: false,
            packed_change: false,
        };
        self.record_with(kind, name, layout)
    }

    /// A record with an explicit layout (bitfields, anonymous members).
    pub fn record_with(&self, kind: RecordKind, name: &str, layout: RecordLayout) -> CType {
        let word = if kind == RecordKind::Union {
            "union"
        } else {
            "struct"
        };
        let r = RecordType::new(kind, name.into());
        let _ = r.layout.set(layout);
        mk(
            self.target,
            format!("{word} {name}"),
            CKind::Record(Arc::new(r)),
        )
    }

    /// An opaque (incomplete) struct.
    pub fn opaque(&self, name: &str) -> CType {
        let r = RecordType::new(RecordKind::Struct, name.into());
        mk(
            self.target,
            format!("struct {name}"),
            CKind::Record(Arc::new(r)),
        )
    }
}

/// A bitfield `FieldLayout`.
pub fn bitfield(name: &str, ty: &CType, offset: u64, shift: i32, size: i32) -> FieldLayout {
    FieldLayout {
        name: name.into(),
        ty: ty.clone(),
        offset,
        bitshift: shift,
        bitsize: size,
        skip_in_positional_init: false,
    }
}

/// Runs `f` on host memory and on a wasm32 `VecMemory`.
pub fn both(mut f: impl FnMut(&dyn Memory, &Types)) {
    f(
        &HostMemory,
        &Types {
            target: Target::Host,
        },
    );
    f(
        &VecMemory::new(),
        &Types {
            target: Target::Wasm32,
        },
    );
}

/// Allocates zeroed room for `ty` (or `size` bytes).
pub fn alloc(mem: &dyn Memory, size: u64) -> Addr {
    mem.alloc_zeroed(size.max(1), 16).expect("test allocation")
}

/// Allocates a `ty`, initializes it with `value` as `ffi.new` would.
pub fn new(mem: &dyn Memory, ty: &CType, value: &Value) -> Result<Addr> {
    let size = match crate::cdata::var_size(ty, value)? {
        Some(s) => s,
        None => ty.size().expect("sized type"),
    };
    let addr = alloc(mem, size);
    crate::cdata::write_init(mem, addr, ty, value)?;
    Ok(addr)
}

pub fn int(i: i128) -> Value {
    Value::Int(i)
}

pub fn list(items: Vec<Value>) -> Value {
    Value::List(items)
}

pub fn ints(items: &[i128]) -> Value {
    Value::List(items.iter().map(|i| Value::Int(*i)).collect())
}

pub fn s(text: &str) -> Value {
    Value::Str(text.chars().map(u32::from).collect())
}

pub fn b(bytes: &[u8]) -> Value {
    Value::Bytes(bytes.to_vec())
}

/// The error's message, asserting its variant by name.
pub fn err(r: Result<impl std::fmt::Debug>, kind: &str) -> String {
    let e = r.expect_err("expected an error");
    let name = format!("{e:?}");
    assert!(name.starts_with(kind), "expected {kind}, got {name}");
    e.to_string()
}
