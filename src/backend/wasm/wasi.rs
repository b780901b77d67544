//! The WASI preview 1 world a sandbox sees: stdout and stderr routed to host sinks,
//! no stdin or sockets; files, environment variables and arguments only as the
//! user's [`Grants`] say; frozen clocks and a deterministic random source (a guest
//! cannot use time or randomness to fingerprint the host). Also [`StoreData`], what
//! each wasmtime store carries.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::AsyncWrite;

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{FsPerms, HostMonotonicClock, HostWallClock, WasiCtxBuilder};

use super::interrupt::CallClock;
use super::limits::Limiter;
use crate::error::{Error, Result};

/// Where guest stdout/stderr bytes go (the Python layer routes them to
/// `sys.stdout`/`sys.stderr`).
///
/// A sink is called after each call into the guest returns (trap or not) with what
/// the guest wrote during it, and also *during* a call whenever more than
/// [`FLUSH_THRESHOLD`] bytes are pending. It must therefore not call back into the
/// same sandbox (that would be refused as a re-entrant call).
pub type OutputSink = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// Pending output beyond which a pipe hands its bytes to the sink without waiting
/// for the call to return.
pub const FLUSH_THRESHOLD: usize = 64 * 1024;

/// What a sandbox's wasmtime `Store` carries.
pub(crate) struct StoreData {
    /// The WASI preview 1 state.
    pub(crate) wasi: WasiP1Ctx,
    /// The memory / table / instance limits enforced through `Store::limiter`.
    pub(crate) limiter: Limiter,
    /// The running call's time limit and tick count (read by the epoch callback).
    pub(crate) clock: CallClock,
    /// Host calls: `extern "Python"`, callbacks in the function table, re-entry.
    pub(crate) host: super::host_state::HostState,
    /// The guest functions of `Sandbox::function`, by slot, found on first use.
    pub(crate) functions: Vec<Option<wasmtime::Func>>,
}

/// A host directory the guest may use, under the name `guest_path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirGrant {
    /// The directory on the host.
    pub host_path: PathBuf,
    /// Its name inside the guest (e.g. `"/data"` or `"."`).
    pub guest_path: String,
    /// Whether the guest may create, write and delete files in it (else read only).
    pub writable: bool,
}

/// What a sandbox is granted beyond stdout/stderr. `Default` grants nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    /// Preopened directories (the guest sees nothing else of the file system).
    pub dirs: Vec<DirGrant>,
    /// Environment variables the guest's `getenv` sees.
    pub env: Vec<(String, String)>,
    /// The guest's `argv` (for a reactor, only what it reads through WASI).
    pub args: Vec<String>,
}

/// One output stream of the guest (stdout or stderr): a buffer in front of a sink.
/// Bytes written while no sink is configured are dropped.
#[derive(Clone)]
pub(crate) struct OutputPipe {
    inner: Arc<PipeInner>,
}

struct PipeInner {
    pending: Mutex<Vec<u8>>,
    /// Whether `pending` may hold bytes (read without the lock after every call).
    has_pending: AtomicBool,
    sink: Option<OutputSink>,
}

impl OutputPipe {
    /// A pipe to `sink` (or to nowhere).
    pub(crate) fn new(sink: Option<OutputSink>) -> OutputPipe {
        OutputPipe {
            inner: Arc::new(PipeInner {
                pending: Mutex::new(Vec::new()),
                has_pending: AtomicBool::new(false),
                sink,
            }),
        }
    }

    fn push(&self, bytes: &[u8]) {
        if self.inner.sink.is_none() {
            return;
        }
        let full = {
            let mut pending = self
                .inner
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            pending.extend_from_slice(bytes);
            self.inner.has_pending.store(true, Ordering::Release);
            pending.len() >= FLUSH_THRESHOLD
        };
        if full {
            self.flush();
        }
    }

    /// Hands everything pending to the sink.
    ///
    /// Runs after every call: the common case (nothing written) is one inlined load.
    #[inline]
    pub(crate) fn flush(&self) {
        // A plain load first: most calls write nothing, and a swap is a locked write.
        if self.inner.has_pending.load(Ordering::Acquire) {
            self.flush_pending();
        }
    }

    #[inline(never)]
    fn flush_pending(&self) {
        let Some(sink) = &self.inner.sink else { return };
        if !self.inner.has_pending.swap(false, Ordering::AcqRel) {
            return;
        }
        let taken = {
            let mut pending = self
                .inner
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if pending.is_empty() {
                return;
            }
            std::mem::take(&mut *pending)
        };
        // A panicking sink must not unwind through wasmtime or the caller's frames.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink(&taken)));
    }
}

impl IsTerminal for OutputPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for OutputPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for OutputPipe {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        // Bytes reach the sink when the call returns (or at the threshold); a guest
        // `fflush` does not force a host-side flush mid-call.
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(1 << 20)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for OutputPipe {
    async fn ready(&mut self) {}
}

impl AsyncWrite for OutputPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A clock that never moves: the guest sees 1970-01-01 and a monotonic time of 0.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// The WASI context of a new sandbox: stdout and stderr, plus `grants`.
///
/// # Errors
/// `Error::Os` if a granted directory cannot be opened.
pub(crate) fn wasi_ctx(
    stdout: &OutputPipe,
    stderr: &OutputPipe,
    grants: &Grants,
) -> Result<WasiP1Ctx> {
    // Fixed bytes, not host entropy: randomness is not granted (DESIGN §5).
    const SEED: &[u8] = b"wasmcffi: randomness is not granted to this sandbox";
    let mut builder = WasiCtxBuilder::new();
    for dir in &grants.dirs {
        let perms = if dir.writable {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        builder
            .preopened_dir(&dir.host_path, &dir.guest_path, perms)
            .map_err(|e| {
                Error::Os(format!(
                    "cannot grant directory {}: {e:#}",
                    dir.host_path.display()
                ))
            })?;
    }
    Ok(builder
        .envs(&grants.env)
        .args(&grants.args)
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .wall_clock(FrozenClock)
        .monotonic_clock(FrozenClock)
        .secure_random(wasmtime_wasi::Deterministic::new(SEED.to_vec()))
        .insecure_random(wasmtime_wasi::Deterministic::new(SEED.to_vec()))
        .insecure_random_seed(0)
        .build_p1())
}
