//! The two data models: the host's and wasm32's.

use target_lexicon::{Architecture, CDataModel, Size, Triple};

use crate::model::Prim;

/// Where the C code of an FFI runs, which fixes its data model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// The machine running Python (x86-64 LP64 here): `dlopen` and `target="native"`.
    Host,
    /// wasm32-wasi (ILP32): sandboxed modules.
    Wasm32,
}

/// How values of a primitive convert to and from Python.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrimClass {
    /// Integer with this signedness.
    Int { signed: bool },
    /// `char`: a 1-byte string in Python.
    Char,
    /// `wchar_t`, `char16_t`, `char32_t`: a 1-character str in Python.
    WideChar { signed: bool },
    /// `_Bool`: strictly 0 or 1.
    Bool,
    /// `float`, `double`.
    Float,
    /// `long double`: stays a cdata in Python to keep its precision.
    LongDouble,
    /// `float _Complex`, `double _Complex`: a Python complex.
    Complex,
}

/// Size, alignment and conversion class of a primitive on one target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrimLayout {
    pub size: u64,
    pub align: u64,
    pub class: PrimClass,
}

impl PrimLayout {
    const fn int(size: u64, signed: bool) -> Self {
        PrimLayout {
            size,
            align: size,
            class: PrimClass::Int { signed },
        }
    }

    /// The smallest and largest value of an integer-like layout (`_Bool`: 0..=1).
    pub fn int_range(&self) -> (i128, i128) {
        let bits = self.size * 8;
        match self.class {
            PrimClass::Bool => (0, 1),
            PrimClass::Int { signed: true }
            | PrimClass::WideChar { signed: true }
            | PrimClass::Char => (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1),
            _ => (0, (1i128 << bits) - 1),
        }
    }
}

impl Target {
    /// The `target_lexicon` triple this target stands for.
    pub fn triple(self) -> Triple {
        match self {
            Target::Host => Triple::host(),
            Target::Wasm32 => "wasm32-wasip1"
                .parse()
                .expect("wasm32-wasip1 is a known triple"),
        }
    }

    /// The C integer widths of this target.
    fn data_model(self) -> CDataModel {
        match self {
            // target-lexicon describes wasm32 through its ILP32 model as well.
            Target::Wasm32 => CDataModel::ILP32,
            Target::Host => self.triple().data_model().unwrap_or(CDataModel::LP64),
        }
    }

    /// Size (and alignment) of a data pointer in bytes.
    pub fn pointer_size(self) -> u64 {
        match self {
            // This process's own pointers: asked on every pointer argument.
            Target::Host => std::mem::size_of::<*const u8>() as u64,
            Target::Wasm32 => bytes(self.data_model().pointer_width()),
        }
    }

    /// True when plain `char` is signed (x86 and wasm32; not ARM Linux).
    pub fn char_is_signed(self) -> bool {
        match self {
            Target::Wasm32 => true,
            Target::Host => !matches!(
                self.triple().architecture,
                Architecture::Aarch64(_) | Architecture::Arm(_)
            ),
        }
    }

    /// Layout of a primitive type on this target.
    pub fn prim_layout(self, prim: Prim) -> PrimLayout {
        use Prim::*;
        let model = self.data_model();
        let (short, int, long, llong) = (
            bytes(model.short_size()),
            bytes(model.int_size()),
            bytes(model.long_size()),
            bytes(model.long_long_size()),
        );
        let ptr = self.pointer_size();
        // glibc makes the 16- and 32-bit "fast" types `long`; wasi-libc makes
        // `int_fast16_t` an `int16_t` and `int_fast32_t` an `int32_t` (checked with
        // zig's wasm32-wasi clang in the layout oracle test).
        let (fast16, fast32) = match self {
            Target::Host => (long, long),
            Target::Wasm32 => (short, int),
        };
        match prim {
            Char => PrimLayout {
                size: 1,
                align: 1,
                class: PrimClass::Char,
            },
            SChar | Int8 | IntLeast8 | IntFast8 => PrimLayout::int(1, true),
            UChar | UInt8 | UIntLeast8 | UIntFast8 => PrimLayout::int(1, false),
            Short | Int16 | IntLeast16 => PrimLayout::int(short, true),
            UShort | UInt16 | UIntLeast16 => PrimLayout::int(short, false),
            Int | Int32 | IntLeast32 => PrimLayout::int(int, true),
            UInt | UInt32 | UIntLeast32 => PrimLayout::int(int, false),
            Long => PrimLayout::int(long, true),
            ULong => PrimLayout::int(long, false),
            LongLong | Int64 | IntLeast64 | IntFast64 | IntMax => PrimLayout::int(llong, true),
            ULongLong | UInt64 | UIntLeast64 | UIntFast64 | UIntMax => {
                PrimLayout::int(llong, false)
            }
            IntFast16 => PrimLayout::int(fast16, true),
            UIntFast16 => PrimLayout::int(fast16, false),
            IntFast32 => PrimLayout::int(fast32, true),
            UIntFast32 => PrimLayout::int(fast32, false),
            IntPtr | SSize | PtrDiff => PrimLayout::int(ptr, true),
            UIntPtr | Size => PrimLayout::int(ptr, false),
            Bool => PrimLayout {
                size: 1,
                align: 1,
                class: PrimClass::Bool,
            },
            WChar => PrimLayout {
                size: 4,
                align: 4,
                class: PrimClass::WideChar { signed: true },
            },
            Char16 => PrimLayout {
                size: 2,
                align: 2,
                class: PrimClass::WideChar { signed: false },
            },
            Char32 => PrimLayout {
                size: 4,
                align: 4,
                class: PrimClass::WideChar { signed: false },
            },
            Float => PrimLayout {
                size: 4,
                align: 4,
                class: PrimClass::Float,
            },
            Double => PrimLayout {
                size: 8,
                align: 8,
                class: PrimClass::Float,
            },
            // x87 80-bit in 16 bytes on x86-64; IEEE binary128 on wasm32.
            LongDouble => PrimLayout {
                size: 16,
                align: 16,
                class: PrimClass::LongDouble,
            },
            FloatComplex => PrimLayout {
                size: 8,
                align: 4,
                class: PrimClass::Complex,
            },
            DoubleComplex => PrimLayout {
                size: 16,
                align: 8,
                class: PrimClass::Complex,
            },
        }
    }
}

fn bytes(size: Size) -> u64 {
    u64::from(size.bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasm32_is_ilp32() {
        let t = Target::Wasm32;
        assert_eq!(t.pointer_size(), 4);
        assert_eq!(t.prim_layout(Prim::Long).size, 4);
        assert_eq!(t.prim_layout(Prim::Size).size, 4);
        assert_eq!(t.prim_layout(Prim::LongLong).size, 8);
        assert_eq!(t.prim_layout(Prim::LongLong).align, 8);
    }

    #[test]
    fn int_range_of_layouts() {
        assert_eq!(PrimLayout::int(1, true).int_range(), (-128, 127));
        assert_eq!(PrimLayout::int(2, false).int_range(), (0, 65535));
        assert_eq!(PrimLayout::int(8, false).int_range(), (0, u64::MAX as i128));
    }
}
