//! Calling host functions through libffi: a [`CallPlan`] per signature, made
//! once and reused, and an [`ArgBuffer`] holding one call's argument values.

use std::ffi::c_void;

use libffi::middle::{Cif, CodePtr};
use smallvec::SmallVec;

use crate::cdata::Addr;
use crate::error::{Error, Result};
use crate::layout::{CKind, CType, Place};

use super::errno;
use super::ffi_type::{ffi_type, int_class};
use super::register_call::RegisterCall;

/// How to call functions of one signature: the prepared libffi call interface
/// and the C types of the parameters and result.
pub struct CallPlan {
    cif: Cif,
    params: Vec<CType>,
    ret: CType,
    /// Bytes the result needs: at least one full register, as libffi writes one.
    ret_size: usize,
    /// The call without libffi, when every value travels in a register.
    registers: Option<RegisterCall>,
}

// SAFETY: a prepared `Cif` is only read afterwards (by `ffi_call` and closures);
// its type descriptions are owned by the `Cif` and never change.
unsafe impl Send for CallPlan {}
// SAFETY: as above: shared use is read-only.
unsafe impl Sync for CallPlan {}

impl CallPlan {
    /// A plan for calling a function returning `ret` with `params`. For a call to
    /// a variadic function, `params` holds the fixed parameters followed by the
    /// types of this call's extra arguments, and `fixed` counts the former.
    ///
    /// # Errors
    /// What libffi cannot pass (see `ffi_type`), with CFFI's exception types.
    pub fn new(ret: &CType, params: &[CType], fixed: Option<usize>) -> Result<CallPlan> {
        let ret_type = ffi_type(ret, Place::Result)?;
        let arg_types = params
            .iter()
            .map(|p| ffi_type(p, Place::Argument))
            .collect::<Result<Vec<_>>>()?;
        let cif = match fixed {
            Some(n) => Cif::try_new_variadic(arg_types, n, ret_type),
            None => Cif::try_new(arg_types, ret_type),
        }
        .map_err(|e| Error::NotImplemented(format!("libffi cannot describe this call: {e:?}")))?;
        let ret_size = usize::try_from(ret.size().unwrap_or(0))
            .unwrap_or(usize::MAX)
            .max(8);
        Ok(CallPlan {
            cif,
            params: params.to_vec(),
            ret: ret.clone(),
            ret_size,
            registers: if fixed.is_none() {
                RegisterCall::new(ret, params)
            } else {
                None
            },
        })
    }

    /// The parameter types, in order.
    pub fn params(&self) -> &[CType] {
        &self.params
    }

    /// The result type.
    pub fn ret(&self) -> &CType {
        &self.ret
    }

    /// Number of 8-byte words a result buffer for [`CallPlan::call_into`] needs.
    pub fn ret_words(&self) -> usize {
        self.ret_size.div_ceil(8)
    }

    /// Size in bytes of the result (0 for `void`).
    pub fn ret_len(&self) -> usize {
        match self.ret.kind() {
            CKind::Void => 0,
            _ => usize::try_from(self.ret.size().unwrap_or(0)).unwrap_or(0),
        }
    }

    /// Calls the host function at `func` with `args` and returns the result's
    /// bytes (`ret` size, or empty for `void`). See [`CallPlan::call_into`].
    ///
    /// # Errors
    /// As [`CallPlan::call_into`].
    pub fn call(&self, func: Addr, args: &ArgBuffer) -> Result<Vec<u8>> {
        let mut ret = vec![0u64; self.ret_words()];
        self.call_into(func, args, &mut ret)?;
        Ok(ret
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .take(self.ret_len())
            .collect())
    }

    /// Calls the host function at `func` with `args`, writing the result into
    /// `ret` (little-endian, [`CallPlan::ret_len`] bytes; `ret` must have at least
    /// [`CallPlan::ret_words`] words). `errno` is restored from this thread's saved
    /// value before the call and saved after it.
    ///
    /// The function is trusted to have the plan's signature, as CFFI's ABI mode
    /// trusts the cdef: a wrong declaration is undefined behaviour in C terms.
    ///
    /// # Errors
    /// `Error::Runtime` for a NULL `func`; `Error::Internal` when `args` does not
    /// hold one value per parameter or `ret` is too small.
    pub fn call_into(&self, func: Addr, args: &ArgBuffer, ret: &mut [u64]) -> Result<()> {
        if func == 0 {
            return Err(Error::Runtime(
                "cannot call a NULL function pointer".to_owned(),
            ));
        }
        if args.offsets.len() != self.params.len() || ret.len() < self.ret_words() {
            return Err(Error::Internal(format!(
                "{} argument values for {} parameters, {} result words for {}",
                args.offsets.len(),
                self.params.len(),
                ret.len(),
                self.ret_words()
            )));
        }
        if let Some(registers) = &self.registers {
            let words = args.offsets.iter().map(|&off| args.words[off / 8]);
            errno::restore();
            // SAFETY: `func` is trusted to have this plan's signature (as below),
            // which is the one `registers` was made for; `args` holds one value per
            // parameter (checked above), each in the first word of its slot.
            ret[0] = unsafe { registers.call(func as usize, words) };
            errno::save();
            return Ok(());
        }
        const INLINE: usize = 16;
        let base = args.words.as_ptr().cast::<u8>();
        let slot = |off: usize| base.wrapping_add(off).cast_mut().cast::<c_void>();
        let mut inline = [std::ptr::null_mut::<c_void>(); INLINE];
        let mut spilled = Vec::new();
        let pointers: &mut [*mut c_void] = if args.offsets.len() <= INLINE {
            for (p, &off) in inline.iter_mut().zip(&args.offsets) {
                *p = slot(off);
            }
            &mut inline[..args.offsets.len()]
        } else {
            spilled.extend(args.offsets.iter().map(|&off| slot(off)));
            &mut spilled
        };
        errno::restore();
        // SAFETY: `func` is non-NULL and trusted to have this plan's signature (the
        // cdef's, as in CFFI's ABI mode); each pointer in `pointers` points into
        // `args.words` at a slot holding a value of its parameter's type, aligned to
        // 8 bytes and at least as large as the type; `ret` has room for a full
        // register and for the result type (checked above). Nothing here outlives
        // the call.
        unsafe {
            libffi::raw::ffi_call(
                self.cif.as_raw_ptr(),
                Some(*CodePtr::from_ptr(func as usize as *const c_void).as_fun()),
                ret.as_mut_ptr().cast::<c_void>(),
                pointers.as_mut_ptr(),
            );
        }
        errno::save();
        Ok(())
    }

    /// How a result narrower than a register must be widened in place for
    /// libffi (closures return full registers): `Some((size, signed))`.
    pub(super) fn narrow_int_result(&self) -> Option<(u8, bool)> {
        let (size, signed) = int_class(&self.ret)?;
        (size < 8).then_some((size, signed))
    }

    pub(super) fn cif(&self) -> &Cif {
        &self.cif
    }
}

/// Arguments whose words an [`ArgBuffer`] holds without a heap allocation.
const INLINE_ARGS: usize = 8;

/// The argument values of one call, each in its own 8-byte-aligned slot; the
/// first [`INLINE_ARGS`] words on the stack.
#[derive(Default)]
pub struct ArgBuffer {
    words: SmallVec<[u64; INLINE_ARGS]>,
    /// Byte offset of each argument in `words`.
    offsets: SmallVec<[usize; INLINE_ARGS]>,
}

impl ArgBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the next argument's value when it fits one word (integers,
    /// floats as their bits, pointers), little-endian.
    pub fn push_word(&mut self, word: u64) {
        self.offsets.push(self.words.len() * 8);
        self.words.push(word);
    }

    /// Appends the next argument's value, as the bytes of its C type.
    pub fn push(&mut self, bytes: &[u8]) {
        let offset = self.words.len() * 8;
        let mut words = bytes.chunks(8).map(|chunk| {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            u64::from_le_bytes(w)
        });
        // Even an empty value gets a slot, so every argument has an address.
        self.words.push(words.next().unwrap_or(0));
        self.words.extend(words);
        self.offsets.push(offset);
    }

    /// Number of arguments pushed.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// True when no argument was pushed.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }
}
