//! The wasm32 C ABI of scalar signatures: which wasm value type carries each C
//! argument and result, and the conversion between a C value's bytes and that
//! wasm value. Used for host functions placed in the guest's function table
//! (`ffi.callback`) and for calling guest function pointers from the host.
//!
//! On wasm32 (clang's C ABI for WebAssembly) integers up to 32 bits, `_Bool`,
//! characters, enums and pointers travel as `i32`, 64-bit integers as `i64`,
//! `float` and `double` as `f32` and `f64`. A struct whose one member is a
//! scalar (possibly inside nested one-member structs or one-item arrays)
//! travels as that scalar; any other struct by value travels *indirectly*: as
//! an argument, an `i32` pointer to a copy; as a result, through a hidden first
//! `i32` argument pointing where the callee stores it (and no wasm result).
//! `long double` (binary128) travels as two `i64` and returns through a hidden
//! pointer as a struct does. These calls are the ones CFFI makes through
//! libffi, so they first refuse what CFFI refuses there
//! ([`check_libffi_signature`]). Not mapped (`Error::NotImplemented`): empty
//! structs.

#![forbid(unsafe_code)]

use super::values::{WasmSignature, WasmType, WasmVal};
use crate::bail;
use crate::error::Result;
use crate::layout::{
    abi_class, check_libffi_signature, extend, AbiClass, CKind, CType, PlainChar, PrimClass,
};
use crate::model::RecordKind;

/// The wasm type carrying a C value of type `ty` (`None` for `void`); a struct
/// passed indirectly is carried by its address (`i32`).
///
/// # Errors
/// `Error::NotImplemented` for unions, empty structs, arrays, `long double` and
/// complex.
pub fn wasm_type(ty: &CType) -> Result<Option<WasmType>> {
    Ok(Some(match abi_class(ty, PlainChar::Signed) {
        AbiClass::Void => return Ok(None),
        AbiClass::Pointer => WasmType::I32,
        AbiClass::Int { size, .. } if size > 4 => WasmType::I64,
        AbiClass::Int { .. } => WasmType::I32,
        AbiClass::Float { size: 4 } => WasmType::F32,
        AbiClass::Float { .. } => WasmType::F64,
        // Two values (see `param_types`), or a hidden result pointer.
        AbiClass::LongDouble | AbiClass::Complex => bail!(
            NotImplemented,
            "'{}' as one wasm value in a wasm32 sandbox",
            ty.cname()
        ),
        AbiClass::Record if is_indirect(ty) => WasmType::I32,
        AbiClass::Record => match single_scalar(ty) {
            Some(scalar) => return wasm_type(&scalar),
            None => bail!(
                NotImplemented,
                "'{}' by value as a callback or function-pointer argument/result in a wasm32 sandbox",
                ty.cname()
            ),
        },
        AbiClass::Array => bail!(Type, "ctype '{}' cannot be passed by value", ty.cname()),
    }))
}

/// Whether `ty` is `long double`: binary128 on wasm32, two `i64` as an
/// argument (low half first), returned through a hidden pointer.
fn is_long_double(ty: &CType) -> bool {
    matches!(ty.kind(), CKind::Prim(_, l) if l.class == PrimClass::LongDouble)
}

/// The wasm values carrying an argument of type `ty`: an `i32` address for a
/// struct passed indirectly, two `i64` for `long double`, else [`wasm_type`]'s.
///
/// # Errors
/// As [`wasm_type`].
pub fn param_types(ty: &CType) -> Result<Vec<WasmType>> {
    if is_long_double(ty) {
        return Ok(vec![WasmType::I64, WasmType::I64]);
    }
    match wasm_type(ty)? {
        Some(t) => Ok(vec![t]),
        None => bail!(Type, "'void' is not a valid argument type"),
    }
}

/// Whether a result of type `ret` is stored where a hidden first `i32`
/// argument points (a struct passed indirectly, `long double`).
pub fn returns_indirectly(ret: &CType) -> bool {
    is_indirect(ret) || is_long_double(ret)
}

/// The wasm values of an argument of type `ty` whose C bytes are `bytes` (see
/// [`param_types`]; a struct passed indirectly is the caller's to copy).
///
/// # Errors
/// As [`wasm_type`].
pub fn to_wasm_values(ty: &CType, bytes: &[u8]) -> Result<Vec<WasmVal>> {
    if is_long_double(ty) {
        let half = |at: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[at..at + 8]);
            WasmVal::I64(i64::from_le_bytes(word))
        };
        return Ok(vec![half(0), half(8)]);
    }
    Ok(to_wasm(ty, bytes)?.into_iter().collect())
}

/// The C bytes of an argument of type `ty` carried by `values` (as many as
/// [`param_types`] says): the inverse of [`to_wasm_values`].
pub fn from_wasm_values(ty: &CType, values: &[WasmVal]) -> Vec<u8> {
    if is_long_double(ty) {
        return values
            .iter()
            .flat_map(|&v| word_of(v).to_le_bytes())
            .collect();
    }
    values
        .first()
        .map(|&v| from_wasm(ty, v))
        .unwrap_or_default()
}

/// Whether a value of `ty` travels through a pointer: a non-empty struct by
/// value that is not a single scalar (`single_scalar`).
pub fn is_indirect(ty: &CType) -> bool {
    match ty.kind() {
        CKind::Record(rec) => {
            rec.kind == RecordKind::Struct
                && rec.usable_layout().is_some_and(|l| !l.fields.is_empty())
                && single_scalar(ty).is_none()
        }
        _ => false,
    }
}

/// The scalar that is all of struct `ty` (clang's "single element struct"): its
/// one member, looking through one-member structs and one-item arrays, when
/// that member fills the struct. Clang passes such a struct as the scalar.
fn single_scalar(ty: &CType) -> Option<CType> {
    let mut inner = ty.clone();
    loop {
        inner = match inner.kind() {
            CKind::Record(rec) if rec.kind == RecordKind::Struct => {
                match rec.usable_layout()?.fields.as_slice() {
                    [only] if only.bitsize < 0 => only.ty.clone(),
                    _ => return None,
                }
            }
            CKind::Array { item, len: Some(1) } => item.clone(),
            CKind::Record(_) | CKind::Array { .. } | CKind::Void => return None,
            CKind::Prim(..) | CKind::Enum(_) | CKind::Pointer(_) | CKind::Function(_) => {
                return (inner.size() == ty.size()).then_some(inner)
            }
        };
    }
}

/// The wasm signature of a C function `ret(params)`.
///
/// # Errors
/// As [`check_libffi_signature`] and [`wasm_type`].
pub fn signature(ret: &CType, params: &[CType]) -> Result<WasmSignature> {
    check_libffi_signature(ret, params)?;
    let mut wasm_params = Vec::with_capacity(params.len() + 1);
    for p in params {
        wasm_params.extend(param_types(p)?);
    }
    let result = if returns_indirectly(ret) {
        wasm_params.insert(0, WasmType::I32);
        None
    } else {
        wasm_type(ret)?
    };
    Ok(WasmSignature {
        params: wasm_params,
        result,
    })
}

/// The wasm value carrying the C value of type `ty` held in `bytes` (little
/// endian, `ty`'s size). Narrow integers are extended as their signedness says.
///
/// # Errors
/// As [`wasm_type`].
pub fn to_wasm(ty: &CType, bytes: &[u8]) -> Result<Option<WasmVal>> {
    let Some(wt) = wasm_type(ty)? else {
        return Ok(None);
    };
    let mut word = [0u8; 8];
    let n = bytes.len().min(8);
    word[..n].copy_from_slice(&bytes[..n]);
    let extended = match abi_class(ty, PlainChar::Signed) {
        AbiClass::Int { size, signed } => extend(u64::from_le_bytes(word), size, signed),
        _ => u64::from_le_bytes(word),
    };
    Ok(Some(from_word(extended, wt)))
}

/// The wasm value of type `ty` whose bits are the low bits of `word` (an integer
/// already extended to 64 bits, or a float's bit pattern): the inverse of [`word_of`].
pub fn from_word(word: u64, ty: WasmType) -> WasmVal {
    match ty {
        WasmType::I32 => WasmVal::I32(word as i32),
        WasmType::I64 => WasmVal::I64(word as i64),
        WasmType::F32 => WasmVal::F32(f32::from_bits(word as u32)),
        WasmType::F64 => WasmVal::F64(f64::from_bits(word)),
    }
}

/// The bytes of a C value of type `ty` carried by `val` (truncated to `ty`'s size).
pub fn from_wasm(ty: &CType, val: WasmVal) -> Vec<u8> {
    let size = ty.size().unwrap_or(0) as usize;
    word_of(val).to_le_bytes()[..size.min(8)].to_vec()
}

/// The bits of `val` as a little-endian word (an `i32` zero-extended, a float's
/// bit pattern): the low bytes are the C value's bytes.
pub fn word_of(val: WasmVal) -> u64 {
    match val {
        WasmVal::I32(v) => u64::from(v as u32),
        WasmVal::I64(v) => v as u64,
        WasmVal::F32(v) => u64::from(v.to_bits()),
        WasmVal::F64(v) => v.to_bits(),
    }
}

/// One variadic argument's place in the wasm32 variadic area: the block the
/// caller fills and passes as one pointer, which the callee's `va_list` walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VarargSlot {
    /// Where the value (or the pointer to it) goes in the area.
    pub offset: u64,
    /// A struct or union travels as an `i32` pointer to a copy of it, aligned
    /// as the struct is (at least 4).
    pub by_pointer: bool,
}

/// The wasm32 variadic area of arguments of `types` (already promoted, see
/// `layout::vararg_promotion`): each at its alignment and at least 4, a
/// struct or union by pointer. Returns each slot and the area's size.
pub fn vararg_area(types: &[CType]) -> (Vec<VarargSlot>, u64) {
    let mut at = 0u64;
    let slots = types
        .iter()
        .map(|ty| {
            let by_pointer = matches!(ty.kind(), CKind::Record(_));
            let (size, align) = if by_pointer {
                (4, 4)
            } else {
                (ty.size().unwrap_or(0), ty.align().unwrap_or(4).max(4))
            };
            let offset = at.next_multiple_of(align);
            at = offset + size;
            VarargSlot { offset, by_pointer }
        })
        .collect();
    (slots, at)
}

/// How the wasm arguments of a C function of some signature travel, in order:
/// the hidden result pointer (for a result that [`returns_indirectly`]), then
/// each parameter's values (as many as [`param_types`] says).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgShape {
    hidden_result: bool,
    counts: Vec<usize>,
}

impl ArgShape {
    /// The shape of the arguments of a function returning `ret` with `params`.
    ///
    /// # Errors
    /// As [`param_types`].
    pub fn new(ret: &CType, params: &[CType]) -> Result<ArgShape> {
        Ok(ArgShape {
            hidden_result: returns_indirectly(ret),
            counts: params
                .iter()
                .map(|p| param_types(p).map(|t| t.len()))
                .collect::<Result<_>>()?,
        })
    }

    /// `args` in parts: the guest address where the result goes (with a
    /// hidden result pointer), and each parameter's values. A parameter whose
    /// values are missing (`args` too short) gets none.
    pub fn split<'a>(&self, args: &'a [WasmVal]) -> (Option<u64>, Vec<&'a [WasmVal]>) {
        let (result_at, mut rest) = match (self.hidden_result, args.split_first()) {
            (true, Some((&WasmVal::I32(at), rest))) => (Some(u64::from(at as u32)), rest),
            _ => (None, args),
        };
        let params = self
            .counts
            .iter()
            .map(|&n| {
                let (values, tail) = rest.split_at(n.min(rest.len()));
                rest = tail;
                values
            })
            .collect();
        (result_at, params)
    }
}
