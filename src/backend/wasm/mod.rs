//! The wasm sandbox: C compiled to wasm32-wasi, run by wasmtime.
//!
//! - [`WasmModule`]: a compiled `.wasm` file (one process-wide Cranelift engine;
//!   a module's instances after its first come from a pool of [`POOL_SLOTS`]
//!   reusable slots).
//! - [`Sandbox`]: one instance with its own store, linear memory and WASI context
//!   (stdout/stderr routed to [`OutputSink`]s; frozen clocks; deterministic
//!   "randomness"; files, environment and arguments only as [`Grants`] say), under
//!   [`Limits`] (memory, time per call, fuel per call), counting its [`Usage`].
//! - `interrupt`: epoch interruption (a ticker thread, per-call deadlines) and the
//!   [`HostHooks`] through which the Python layer hands back the GIL and sees Ctrl-C.
//! - [`GuestMemory`]: the instance's linear memory as a cdata [`crate::cdata::Memory`],
//!   bounds-checked on every access, allocating with the guest's own `malloc`.
//!
//! # Building a module
//!
//! Every sandboxed module links `guest/runtime.c`, which exports
//! `wasmcffi_malloc(size, align)` and `wasmcffi_free(ptr)`. With zig 0.17
//! (`python -m ziglang`):
//!
//! ```text
//! python -m ziglang cc --target=wasm32-wasi -mexec-model=reactor -O2 \
//!     -Wl,-z,stack-size=1048576 -Wl,--export-table -Wl,--growable-table \
//!     user.c glue.c guest/runtime.c -o module.wasm
//! ```
//!
//! - Functions the host calls are exported with `__attribute__((export_name("f")))`
//!   (zig needs no `--export-dynamic`).
//! - `-Wl,--export-table -Wl,--growable-table` export the indirect function table
//!   (C function pointers are indices into it): the host calls guest function
//!   pointers through it and adds host functions to it (`ffi.callback`).
//! - The one import besides WASI is `wasmcffi.call_python(index, args, result)`,
//!   which the glue of `extern "Python"` functions calls (see `host_calls`).
//! - zig's own wasm linker puts the C stack *first* (below the data, growing down
//!   from `stack-size` towards 0), which is what `-Wl,--stack-first` does with
//!   wasm-ld (zig rejects that flag, so do not pass it to zig; pass it to a clang +
//!   wasm-ld toolchain). A C stack overflow then runs off the bottom of linear memory
//!   and traps instead of overwriting globals.
//! - Without `-s`, the module keeps its `name` section (and DWARF), so trap
//!   backtraces show C function names; `-s` makes it much smaller (3 KB instead of
//!   900 KB for a tiny module) but backtraces then show function indices only.
//!
//! # Faults
//!
//! A trap becomes `Error::Trap` (description + guest backtrace), a guest `exit(n)`
//! `Error::GuestExit(n)`, a call past its time limit or fuel `Error::Timeout`, a host
//! interrupt `Error::Interrupted`; all poison the instance until [`Sandbox::reset`]
//! (or [`SandboxConfig::auto_reset`]). None can take down the process: wasmtime catches traps, including guest stack overflow
//! (wasm frames are limited to wasmtime's `max_wasm_stack`; the C stack is in linear
//! memory).

pub mod abi;
mod custom_section;
#[allow(unsafe_code)] // Module::deserialize of cached machine code
mod engine;
mod fault;
#[allow(unsafe_code)] // the registered Caller of a running host call
mod host_calls;
mod host_state;
mod interrupt;
mod limits;
mod memory;
#[allow(unsafe_code)] // Module::deserialize of cached machine code
mod module_cache;
#[allow(unsafe_code)] // Func::call_unchecked of a type-checked function
mod raw_call;
mod sandbox;
mod snapshot;
mod values;
mod wasi;

pub use engine::{WasmModule, POOL_SLOTS};
pub use host_state::{ExternPythonHandler, TableCallback};
pub use interrupt::{after_fork_in_child, set_host_hooks, HostHooks, TICK};
pub use limits::{Limits, Usage, DEFAULT_MAX_MEMORY, MAX_TABLE_ELEMENTS};
pub use memory::GuestMemory;
pub use module_cache::cache_root;
pub use sandbox::{GuestFunc, Sandbox, SandboxConfig};
pub use snapshot::PAGE_SIZE;
pub use values::{WasmSignature, WasmType, WasmVal};
pub use wasi::{DirGrant, Grants, OutputSink, FLUSH_THRESHOLD};
