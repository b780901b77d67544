//! Calls: function-pointer cdata and `ffi.callback` (`call`), calls into and out of a
//! sandbox's function table (`guest_callback`), `extern "Python"` dispatch
//! (`extern_python`). Above `marshal`.
pub(crate) mod call;
pub(crate) mod extern_python;
pub(crate) mod guest_callback;
