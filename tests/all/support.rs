//! Test support shared by the integration tests: finding the wasm32 C compiler
//! and building guest modules with it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// A Python that can run `-m ziglang` (the project's wasm32-wasi C compiler), if
/// any: `$WASMCFFI_PYTHON`, the repository's `.venv`, or `python3` on PATH.
pub fn zig_python() -> Option<&'static Path> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let repo_venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python3");
            let candidates = [
                std::env::var_os("WASMCFFI_PYTHON").map(PathBuf::from),
                Some(repo_venv),
                Some(PathBuf::from("python3")),
            ];
            candidates.into_iter().flatten().find(|py| {
                Command::new(py)
                    .args(["-m", "ziglang", "version"])
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
        })
        .as_deref()
}

/// `zig cc` as a command, with zig's cache in a persistent directory; `None`
/// when zig is not installed (tests then skip with a message).
pub fn zig_cc() -> Option<Command> {
    let mut cmd = Command::new(zig_python()?);
    cmd.args(["-m", "ziglang", "cc"]);
    if std::env::var_os("ZIG_GLOBAL_CACHE_DIR").is_none() {
        if let Some(home) = std::env::var_os("HOME") {
            cmd.env(
                "ZIG_GLOBAL_CACHE_DIR",
                Path::new(&home).join(".cache/wasmcffi-zig"),
            );
        }
    }
    Some(cmd)
}

/// `c_source` with `guest/runtime.c` built into a wasm32-wasi reactor module
/// (`-O2` plus `extra_args`) and compiled; `None` (with a message naming `what`)
/// when zig is not installed. `tag` names the scratch directory.
pub fn build_guest_module(
    tag: &str,
    what: &str,
    c_source: &str,
    extra_args: &[&str],
) -> Option<wasmcffi::backend::wasm::WasmModule> {
    let Some(mut cc) = zig_cc() else {
        eprintln!("skipping {what}: `python3 -m ziglang` is not available");
        return None;
    };
    let dir = std::env::temp_dir().join(format!("wasmcffi-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, out) = (dir.join("guest.c"), dir.join("guest.wasm"));
    std::fs::write(&src, c_source).unwrap();
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR")).join("guest/runtime.c");
    let output = cc
        .args(["--target=wasm32-wasi", "-mexec-model=reactor", "-O2"])
        .args(extra_args)
        .arg(&src)
        .arg(&runtime)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run zig");
    assert!(
        output.status.success(),
        "zig failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bytes = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    Some(wasmcffi::backend::wasm::WasmModule::new(&bytes).expect("compile module"))
}
