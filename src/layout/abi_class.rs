//! The one classification of C types into the classes a calling convention
//! sees: how libffi describes a value, which register a register call puts it
//! in, which wasm value carries it, and how a narrow integer is widened.
#![forbid(unsafe_code)]

use super::{CKind, CType, PrimClass};

/// How a calling path treats plain `char` (a distinct C type, signed on both
/// of our targets), which is a decision of the path rather than of the type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlainChar {
    /// Sign-extended: clang's wasm32 C ABI widens a `char` argument as the
    /// signed type it is there, and a guest may rely on it.
    Signed,
    /// Zero-extended: CFFI describes `char` to libffi as an unsigned byte, so
    /// the libffi paths (and the register call that stands in for them) do too.
    Unsigned,
}

/// The class of a C value as an argument or result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbiClass {
    /// No value: `void`.
    Void,
    /// An integer of `size` bytes, widened as `signed` says: integers,
    /// characters, `_Bool` and enums.
    Int { size: u8, signed: bool },
    /// A `float` (4 bytes) or `double` (8).
    Float { size: u8 },
    /// A data or function pointer.
    Pointer,
    /// `long double`.
    LongDouble,
    /// A complex number.
    Complex,
    /// A struct or union by value.
    Record,
    /// An array (never passed by value).
    Array,
}

/// The class of `ty`; `plain_char` says how the calling path widens `char`.
pub fn abi_class(ty: &CType, plain_char: PlainChar) -> AbiClass {
    let int = |size: u64, signed: bool| AbiClass::Int {
        size: u8::try_from(size).unwrap_or(u8::MAX),
        signed,
    };
    match ty.kind() {
        CKind::Void => AbiClass::Void,
        CKind::Pointer(_) | CKind::Function(_) => AbiClass::Pointer,
        // Both paths have always widened enums as signed, as CFFI does.
        CKind::Enum(e) => int(e.repr.size, true),
        CKind::Prim(_, l) => match l.class {
            PrimClass::Int { signed } | PrimClass::WideChar { signed } => int(l.size, signed),
            PrimClass::Char => int(l.size, plain_char == PlainChar::Signed),
            PrimClass::Bool => int(l.size, false),
            PrimClass::Float => AbiClass::Float {
                size: u8::try_from(l.size).unwrap_or(u8::MAX),
            },
            PrimClass::LongDouble => AbiClass::LongDouble,
            PrimClass::Complex => AbiClass::Complex,
        },
        CKind::Record(_) => AbiClass::Record,
        CKind::Array { .. } => AbiClass::Array,
    }
}

/// The low `size` bytes of `word` widened to 64 bits, by sign or by zeros.
#[inline]
pub fn extend(word: u64, size: u8, signed: bool) -> u64 {
    if size == 0 || size >= 8 {
        return word;
    }
    let shift = 64 - u32::from(size) * 8;
    if signed {
        (((word << shift) as i64) >> shift) as u64
    } else {
        (word << shift) >> shift
    }
}

#[cfg(test)]
mod tests {
    use super::extend;

    #[test]
    fn narrow_integers_are_extended_by_signedness() {
        assert_eq!(extend(0xff, 1, true), u64::MAX);
        assert_eq!(extend(0x1ff, 1, false), 0xff);
        assert_eq!(extend(0xffff_8000, 2, true), 0xffff_ffff_ffff_8000);
        assert_eq!(extend(0x7f, 1, true), 0x7f);
        assert_eq!(
            extend(0x1234_5678_9abc_def0, 8, true),
            0x1234_5678_9abc_def0
        );
    }
}
