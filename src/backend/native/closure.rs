//! C function pointers that call back into the host language (`ffi.callback`),
//! made with libffi closures.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use libffi::low::ffi_cif;

use crate::cdata::Addr;
use crate::error::{Error, Result};
use crate::layout::extend;

use super::CallPlan;

/// What runs when C calls a closure: it gets one pointer per argument (to that
/// argument's value) and a pointer to the result slot, which has room for the
/// result type and at least 8 bytes. It must not unwind (panics are caught and
/// give a zero result).
pub type Callback = Box<dyn Fn(&[*const u8], *mut u8) + Send + Sync>;

/// What the trampoline needs; boxed so its address is stable.
struct ClosureState {
    plan: CallPlan,
    callback: Callback,
}

/// A C function pointer whose calls run a [`Callback`]. The code pointer is
/// valid while this value lives.
pub struct Closure {
    // Declared before `state`, so it is dropped first: the libffi closure refers to it.
    closure: libffi::middle::Closure<'static>,
    state: Box<ClosureState>,
}

// SAFETY: the closure's code and trampoline data are immutable after creation;
// the callback itself is `Send + Sync`.
unsafe impl Send for Closure {}
// SAFETY: as above.
unsafe impl Sync for Closure {}

impl Closure {
    /// A function pointer of `plan`'s signature running `callback`.
    ///
    /// # Errors
    /// `Error::NotImplemented` if libffi cannot make the closure.
    pub fn new(plan: CallPlan, callback: Callback) -> Result<Closure> {
        let state = Box::new(ClosureState { plan, callback });
        // SAFETY: the reference points into the box, which lives as long as the
        // returned `Closure` and is dropped after the libffi closure (field order).
        let state_ref: &'static ClosureState = unsafe { &*std::ptr::from_ref(state.as_ref()) };
        let closure =
            libffi::middle::Closure::try_new(state.plan.cif().clone(), trampoline, state_ref)
                .map_err(|e| {
                    Error::NotImplemented(format!("libffi cannot make this callback: {e:?}"))
                })?;
        Ok(Closure { closure, state })
    }

    /// The C function pointer.
    pub fn code_ptr(&self) -> Addr {
        *self.closure.code_ptr() as usize as Addr
    }

    /// The signature of the function pointer.
    pub fn plan(&self) -> &CallPlan {
        &self.state.plan
    }
}

/// Entered by libffi when C calls the closure.
unsafe extern "C" fn trampoline(
    _cif: &ffi_cif,
    result: &mut u64,
    args: *const *const c_void,
    state: &ClosureState,
) {
    let n = state.plan.params().len();
    // SAFETY: libffi passes one argument pointer per parameter of the cif, which
    // has `n` parameters.
    let args = unsafe { std::slice::from_raw_parts(args.cast::<*const u8>(), n) };
    let result_ptr = std::ptr::from_mut(result).cast::<u8>();
    if catch_unwind(AssertUnwindSafe(|| (state.callback)(args, result_ptr))).is_err() {
        *result = 0;
        return;
    }
    if let Some((size, signed)) = state.plan.narrow_int_result() {
        // libffi expects integer results widened to a full register.
        *result = extend(*result, size, signed);
    }
}
