//! The primitive C types CFFI knows by name without any declaration.

/// Declares [`Prim`], [`Prim::ALL`] and [`Prim::name`] from one table.
macro_rules! primitives {
    ($($variant:ident => $name:literal,)*) => {
        /// A primitive C type. Each has its own name in CFFI (`int64_t` is not `long`),
        /// even where two share a layout on some target.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Prim {
            $($variant,)*
        }

        impl Prim {
            /// Every primitive, in declaration order.
            pub const ALL: &'static [Prim] = &[$(Prim::$variant,)*];

            /// The name CFFI prints for this type (`ffi.typeof(...).cname`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Prim::$variant => $name,)*
                }
            }
        }
    };
}

primitives! {
    Char => "char",
    SChar => "signed char",
    UChar => "unsigned char",
    Short => "short",
    UShort => "unsigned short",
    Int => "int",
    UInt => "unsigned int",
    Long => "long",
    ULong => "unsigned long",
    LongLong => "long long",
    ULongLong => "unsigned long long",
    Float => "float",
    Double => "double",
    LongDouble => "long double",
    Bool => "_Bool",
    WChar => "wchar_t",
    Char16 => "char16_t",
    Char32 => "char32_t",
    Int8 => "int8_t",
    UInt8 => "uint8_t",
    Int16 => "int16_t",
    UInt16 => "uint16_t",
    Int32 => "int32_t",
    UInt32 => "uint32_t",
    Int64 => "int64_t",
    UInt64 => "uint64_t",
    IntLeast8 => "int_least8_t",
    UIntLeast8 => "uint_least8_t",
    IntLeast16 => "int_least16_t",
    UIntLeast16 => "uint_least16_t",
    IntLeast32 => "int_least32_t",
    UIntLeast32 => "uint_least32_t",
    IntLeast64 => "int_least64_t",
    UIntLeast64 => "uint_least64_t",
    IntFast8 => "int_fast8_t",
    UIntFast8 => "uint_fast8_t",
    IntFast16 => "int_fast16_t",
    UIntFast16 => "uint_fast16_t",
    IntFast32 => "int_fast32_t",
    UIntFast32 => "uint_fast32_t",
    IntFast64 => "int_fast64_t",
    UIntFast64 => "uint_fast64_t",
    IntPtr => "intptr_t",
    UIntPtr => "uintptr_t",
    IntMax => "intmax_t",
    UIntMax => "uintmax_t",
    Size => "size_t",
    SSize => "ssize_t",
    PtrDiff => "ptrdiff_t",
    FloatComplex => "_cffi_float_complex_t",
    DoubleComplex => "_cffi_double_complex_t",
}

impl Prim {
    /// The spelling of this type in C source (differs from [`Prim::name`] only
    /// for the complex types, which CFFI prints under typedef names).
    pub fn c_spelling(self) -> &'static str {
        match self {
            Prim::FloatComplex => "float _Complex",
            Prim::DoubleComplex => "double _Complex",
            other => other.name(),
        }
    }

    /// The primitive spelled `name` by a single identifier-like name
    /// (`int8_t`, `size_t`, `wchar_t`, `bool`, …); multi-word C spellings such as
    /// `unsigned long` are resolved by the parser, not here.
    pub fn from_typedef_name(name: &str) -> Option<Prim> {
        if name == "bool" {
            return Some(Prim::Bool);
        }
        Prim::ALL.iter().copied().find(|p| {
            !p.is_complex() && !p.name().contains(' ') && p.name() == name && !is_keyword_prim(*p)
        })
    }

    /// True for integer types, `char`, the wide characters and `_Bool`.
    pub fn is_integral(self) -> bool {
        !self.is_float() && !self.is_complex()
    }

    /// True for `float`, `double` and `long double`.
    pub fn is_float(self) -> bool {
        matches!(self, Prim::Float | Prim::Double | Prim::LongDouble)
    }

    /// True for the `_Complex` types.
    pub fn is_complex(self) -> bool {
        matches!(self, Prim::FloatComplex | Prim::DoubleComplex)
    }

    /// True for the character types that convert to and from Python strings
    /// (`char` to bytes; `wchar_t`, `char16_t`, `char32_t` to str).
    pub fn is_char(self) -> bool {
        matches!(self, Prim::Char | Prim::WChar | Prim::Char16 | Prim::Char32)
    }
}

/// Primitives spelled with C keywords (`int`, `char`, `_Bool`, …) rather than typedef names.
fn is_keyword_prim(p: Prim) -> bool {
    matches!(
        p,
        Prim::Char | Prim::Short | Prim::Int | Prim::Long | Prim::Float | Prim::Double | Prim::Bool
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prim_typedef_names_resolve() {
        assert_eq!(Prim::from_typedef_name("int8_t"), Some(Prim::Int8));
        assert_eq!(Prim::from_typedef_name("size_t"), Some(Prim::Size));
        assert_eq!(Prim::from_typedef_name("bool"), Some(Prim::Bool));
        assert_eq!(Prim::from_typedef_name("int"), None);
        assert_eq!(Prim::from_typedef_name("unsigned int"), None);
    }

    #[test]
    fn prim_all_has_unique_names() {
        let mut names: Vec<_> = Prim::ALL.iter().map(|p| p.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Prim::ALL.len());
    }
}
