//! The one integration-test binary: one module per subject.

mod build_glue;
mod cdecl;
mod layout_oracle;
mod layout_resolve;
mod native_call;
mod support;
mod wasm_host_calls;
mod wasm_sandbox;
