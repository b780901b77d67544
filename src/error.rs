//! The crate's one error type. Each variant maps to the Python exception CFFI raises
//! in the same situation (the mapping lives in `host-python/src/base/exceptions.rs`).

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error the core can report. Messages have no trailing period and spell
/// C types the way CFFI does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Bad cdef text or a bad type string (`CDefError`). The message names the line.
    #[error("{0}")]
    CDef(String),
    /// A value of the wrong kind (`TypeError`).
    #[error("{0}")]
    Type(String),
    /// An integer out of range for its C type (`OverflowError`).
    #[error("{0}")]
    Overflow(String),
    /// An index or length out of range (`IndexError`).
    #[error("{0}")]
    Index(String),
    /// A bad value of the right kind (`ValueError`).
    #[error("{0}")]
    Value(String),
    /// A missing field or symbol (`AttributeError`).
    #[error("{0}")]
    Attribute(String),
    /// A missing name (`KeyError`).
    #[error("{0}")]
    Key(String),
    /// A NULL dereference or similar (`RuntimeError`).
    #[error("{0}")]
    Runtime(String),
    /// CFFI's own `ffi.error` (`FFIError`): size of an opaque type, etc.
    #[error("{0}")]
    Ffi(String),
    /// A declaration the compiler disagrees with (`VerificationError`).
    #[error("{0}")]
    Verification(String),
    /// A declaration that needs a compiled module (`VerificationMissing`): using a
    /// partial struct before a build completed it.
    #[error("{0}")]
    VerificationMissing(String),
    /// A feature that does not exist yet (`NotImplementedError`).
    #[error("{0}")]
    NotImplemented(String),
    /// A library that cannot be loaded, or another operating-system failure (`OSError`).
    #[error("{0}")]
    Os(String),
    /// An access outside the memory an address space allows (a sandbox fault).
    #[error("{0}")]
    Memory(String),
    /// Sandboxed code trapped (`wasmcffi.Trap`): out-of-bounds access,
    /// `unreachable`, division by zero, stack overflow… The message carries the
    /// trap's description and the guest backtrace.
    #[error("{0}")]
    Trap(String),
    /// Sandboxed code ran past its time limit or its fuel budget (`wasmcffi.Timeout`).
    #[error("{0}")]
    Timeout(String),
    /// Sandboxed code was stopped because the host asked (a signal such as Ctrl-C,
    /// seen by the host's tick hook, which keeps the matching host exception).
    #[error("{0}")]
    Interrupted(String),
    /// Sandboxed code called `exit(code)` (`wasmcffi.GuestExit`).
    #[error("guest exited with code {0}")]
    GuestExit(i32),
    /// A bug in wasmcffi: a state no input should reach.
    #[error("internal error in wasmcffi (please report): {0}")]
    Internal(String),
}

/// Returns early with an [`Error`] variant built from a format string.
///
/// `bail!(Type, "cannot convert {}", x)` is `return Err(Error::Type(format!(…)))`.
#[macro_export]
macro_rules! bail {
    ($kind:ident, $($arg:tt)*) => {
        return Err($crate::error::Error::$kind(format!($($arg)*)))
    };
}
