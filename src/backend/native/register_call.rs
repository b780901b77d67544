//! Calls whose arguments and result all travel in registers, made without libffi.
//!
//! On the System V x86-64 and AArch64 C ABIs, a non-variadic call passes its
//! integer-class arguments (integers, pointers) in the integer argument registers
//! and its floating arguments in the vector registers, each class in its own
//! order: `f(int, double)` and `f(double, int)` use the same registers. So every
//! scalar signature with at most [`INT_REGS`] integer and [`FLOAT_REGS`] floating
//! parameters is callable as one and the same Rust function type taking all the
//! registers (the callee ignores those it does not declare), returning the
//! integer or the vector result register. libffi works out the same placement
//! on every call ([`super::CallPlan`] falls back to it for everything else).
//!
//! Narrow integers are extended to 64 bits first, as libffi does (and as
//! compilers expect of callers); a `float` travels as the low 32 bits of its
//! register, which is what the callee reads.

use crate::layout::{abi_class, extend, AbiClass, CType, PlainChar};

#[cfg(target_arch = "x86_64")]
const INT_REGS: usize = 6;
#[cfg(not(target_arch = "x86_64"))]
const INT_REGS: usize = 8;
const FLOAT_REGS: usize = 8;

/// Whether this platform's C ABI is one the register call is written for.
const SUPPORTED: bool = cfg!(all(
    unix,
    any(target_arch = "x86_64", target_arch = "aarch64")
));

/// How one argument or result travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// In an integer register, extended from `size` bytes by `signed`.
    Int { size: u8, signed: bool },
    /// In a vector register (a `float` in its low 32 bits).
    Float,
    /// No value (`void` results only).
    Void,
}

fn class_of(ty: &CType) -> Option<Class> {
    match abi_class(ty, PlainChar::Unsigned) {
        AbiClass::Int { size, signed } => (size <= 8).then_some(Class::Int { size, signed }),
        AbiClass::Pointer => Some(Class::Int {
            size: 8,
            signed: false,
        }),
        AbiClass::Float { size: 4 | 8 } => Some(Class::Float),
        AbiClass::Void => Some(Class::Void),
        _ => None,
    }
}

/// A signature callable in registers: the class of each parameter and of the result.
#[derive(Clone, Debug)]
pub(super) struct RegisterCall {
    params: Vec<Class>,
    ret: Class,
}

impl RegisterCall {
    /// The register call for a non-variadic function returning `ret` with
    /// `params`, if every value fits a register and there are registers enough.
    pub(super) fn new(ret: &CType, params: &[CType]) -> Option<RegisterCall> {
        if !SUPPORTED {
            return None;
        }
        let params = params
            .iter()
            .map(|p| class_of(p).filter(|c| *c != Class::Void))
            .collect::<Option<Vec<_>>>()?;
        let floats = params.iter().filter(|c| **c == Class::Float).count();
        if floats > FLOAT_REGS || params.len() - floats > INT_REGS {
            return None;
        }
        Some(RegisterCall {
            params,
            ret: class_of(ret)?,
        })
    }

    /// Calls `func` with `args` (one little-endian word per parameter, as
    /// [`super::ArgBuffer::push_word`] holds them); returns the result register.
    ///
    /// # Safety
    /// `func` must be a function with the signature this call was made for, and
    /// `args` must hold one word per parameter.
    pub(super) unsafe fn call(&self, func: usize, args: impl Iterator<Item = u64>) -> u64 {
        // At most `INT_REGS` are filled (see `new`).
        let mut ints = [0u64; 8];
        let mut floats = [0f64; FLOAT_REGS];
        let (mut i, mut f) = (0, 0);
        for (class, word) in self.params.iter().zip(args) {
            match *class {
                Class::Int { size, signed } => {
                    ints[i] = extend(word, size, signed);
                    i += 1;
                }
                // A `float`'s bits are the low half of the word: they land in the
                // low 32 bits of the register, where the callee reads them.
                _ => {
                    floats[f] = f64::from_bits(word);
                    f += 1;
                }
            }
        }
        // Eight integer slots on every supported ABI: on x86-64 the last two
        // (never used, see `INT_REGS`) go to the stack, which the caller owns.
        #[rustfmt::skip]
        type AllRegisters<R> = extern "C" fn(
            u64, u64, u64, u64, u64, u64, u64, u64,
            f64, f64, f64, f64, f64, f64, f64, f64,
        ) -> R;
        let [i0, i1, i2, i3, i4, i5, i6, i7] = ints;
        let [f0, f1, f2, f3, f4, f5, f6, f7] = floats;
        macro_rules! call_as {
            ($ret:ty) => {{
                // SAFETY: the caller guarantees `func` has this call's signature; on
                // the supported ABIs (see the module docs) that signature passes
                // its values in exactly the registers this function type fills, and
                // the callee ignores the rest.
                let f = unsafe { std::mem::transmute::<usize, AllRegisters<$ret>>(func) };
                f(
                    i0, i1, i2, i3, i4, i5, i6, i7, f0, f1, f2, f3, f4, f5, f6, f7,
                )
            }};
        }
        match self.ret {
            Class::Float => call_as!(f64).to_bits(),
            Class::Int { .. } | Class::Void => call_as!(u64),
        }
    }
}
