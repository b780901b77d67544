//! Memory and contexts: the blocks cdata own (`allocation`), the scratch block of calls
//! (`scratch`) and an FFI's context (`context`). Above `base` only.
pub(crate) mod allocation;
pub(crate) mod context;
pub(crate) mod scratch;
