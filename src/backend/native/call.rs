//! Calling host functions through libffi: a [`CallPlan`] per signature, made
//! once and reused, and an [`ArgBuffer`] holding one call's argument values.

use std::ffi::c_void;

use libffi::middle::{Cif, CodePtr};

use crate::cdata::Addr;
use crate::error::{Error, Result};
use crate::layout::{CKind, CType, PrimClass};

use super::errno;
use super::ffi_type::{ffi_type, Position};

/// How to call functions of one signature: the prepared libffi call interface
/// and the C types of the parameters and result.
pub struct CallPlan {
    cif: Cif,
    params: Vec<CType>,
    ret: CType,
    /// Bytes the result needs: at least one full register, as libffi writes one.
    ret_size: usize,
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
        let ret_type = ffi_type(ret, Position::Result)?;
        let arg_types = params
            .iter()
            .map(|p| ffi_type(p, Position::Argument))
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

    /// Calls the host function at `func` with `args` and returns the result's
    /// bytes (`ret` size, or empty for `void`). `errno` is restored from this
    /// thread's saved value before the call and saved after it.
    ///
    /// The function is trusted to have the plan's signature, as CFFI's ABI mode
    /// trusts the cdef: a wrong declaration is undefined behaviour in C terms.
    ///
    /// # Errors
    /// `Error::Runtime` for a NULL `func`; `Error::Internal` when `args` does not
    /// hold one value per parameter.
    pub fn call(&self, func: Addr, args: &ArgBuffer) -> Result<Vec<u8>> {
        if func == 0 {
            return Err(Error::Runtime(
                "cannot call a NULL function pointer".to_owned(),
            ));
        }
        if args.offsets.len() != self.params.len() {
            return Err(Error::Internal(format!(
                "{} argument values for {} parameters",
                args.offsets.len(),
                self.params.len()
            )));
        }
        let base = args.words.as_ptr().cast::<u8>();
        let mut pointers: Vec<*mut c_void> = args
            .offsets
            .iter()
            .map(|&off| base.wrapping_add(off).cast_mut().cast::<c_void>())
            .collect();
        let mut ret = vec![0u64; self.ret_size.div_ceil(8)];
        errno::restore();
        // SAFETY: `func` is non-NULL and trusted to have this plan's signature (the
        // cdef's, as in CFFI's ABI mode); each pointer in `pointers` points into
        // `args.words` at a slot holding a value of its parameter's type, aligned to
        // 8 bytes and at least as large as the type; `ret` has room for a full
        // register and for the result type. Nothing here outlives the call.
        unsafe {
            libffi::raw::ffi_call(
                self.cif.as_raw_ptr(),
                Some(*CodePtr::from_ptr(func as usize as *const c_void).as_fun()),
                ret.as_mut_ptr().cast::<c_void>(),
                pointers.as_mut_ptr(),
            );
        }
        errno::save();
        let size = if matches!(self.ret.kind(), CKind::Void) {
            0
        } else {
            usize::try_from(self.ret.size().unwrap_or(0)).unwrap_or(0)
        };
        let bytes = ret
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .take(size)
            .collect();
        Ok(bytes)
    }

    /// How a result narrower than a register must be widened in place for
    /// libffi (closures return full registers): `Some((size, signed))`.
    pub(super) fn narrow_int_result(&self) -> Option<(usize, bool)> {
        let (size, signed) = match self.ret.kind() {
            CKind::Prim(_, l) => match l.class {
                PrimClass::Int { signed } | PrimClass::WideChar { signed } => (l.size, signed),
                PrimClass::Char | PrimClass::Bool => (l.size, false),
                _ => return None,
            },
            CKind::Enum(e) => (e.repr.size, true),
            _ => return None,
        };
        (size < 8).then_some((size as usize, signed))
    }

    pub(super) fn cif(&self) -> &Cif {
        &self.cif
    }
}

/// The argument values of one call, each in its own 8-byte-aligned slot.
#[derive(Default)]
pub struct ArgBuffer {
    words: Vec<u64>,
    /// Byte offset of each argument in `words`.
    offsets: Vec<usize>,
}

impl ArgBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
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
