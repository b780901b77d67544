//! The Python faces: `CData`'s protocols, `ffi.buffer`, the `lib` of `dlopen()` and of
//! compiled modules. Above `calls`; only `ffi` and the module root are above it.
#[allow(unsafe_code)] // the buffer protocol
pub(crate) mod buffer;
pub(crate) mod cdata_protocols;
pub(crate) mod lib_object;
pub(crate) mod module_lib;
