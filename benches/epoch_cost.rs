//! What epoch interruption (timeouts, Ctrl-C, GIL hand-back) and fuel metering
//! cost guest code: the same compute kernels run on three wasmtime engines that
//! differ only in those settings (Cranelift, `OptLevel::Speed`, as wasmcffi's).
//!
//! Run: `cargo bench -p wasmcffi --bench epoch_cost --profile dev` (the guest's
//! machine code does not depend on the host profile; only compile time does).
//! Needs zig (`python3 -m ziglang`, or `.venv/bin/python -m ziglang`). Prints the
//! fastest time of each kernel per engine and the ratios to the plain engine.

use std::time::{Duration, Instant};

use wasmtime::{Config, Engine, Instance, Module, OptLevel, Store, Strategy, TypedFunc};

const KERNELS: &str = r#"
#define EXPORT(name) __attribute__((export_name(#name)))
EXPORT(sum_loop) unsigned sum_loop(unsigned n) {
    unsigned s = 0; for (unsigned i = 0; i < n; i++) s = s * 31 + i; return s;
}
static unsigned char sieve_buf[1 << 20];
EXPORT(sieve) int sieve(int n) {
    int count = 0;
    for (int i = 0; i < n; i++) sieve_buf[i] = 1;
    for (int i = 2; i < n; i++) if (sieve_buf[i]) { count++; for (int j = 2 * i; j < n; j += i) sieve_buf[j] = 0; }
    return count;
}
static double a[64][64], b[64][64], c[64][64];
EXPORT(matmul) double matmul(int reps) {
    for (int i = 0; i < 64; i++) for (int j = 0; j < 64; j++) { a[i][j] = i + j; b[i][j] = i - j; }
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < 64; i++) for (int j = 0; j < 64; j++) {
            double s = 0; for (int k = 0; k < 64; k++) s += a[i][k] * b[k][j]; c[i][j] = s;
        }
    return c[7][9];
}
static unsigned fib(unsigned n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
EXPORT(calls) unsigned calls(unsigned n) { return fib(n); }
"#;

#[path = "../tests/all/support.rs"]
#[allow(dead_code)]
mod support;

fn build_kernels() -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("wasmcffi-epoch-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, out) = (dir.join("kernels.c"), dir.join("kernels.wasm"));
    std::fs::write(&src, KERNELS).unwrap();
    let status = support::zig_cc()
        .expect("zig (python -m ziglang) is needed")
        .args([
            "--target=wasm32-wasi",
            "-mexec-model=reactor",
            "-O2",
            "-nostdlib",
        ])
        .args(["-Wl,--no-entry", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap();
    assert!(status.success(), "zig failed");
    std::fs::read(out).unwrap()
}

fn engine(epochs: bool, fuel: bool) -> Engine {
    let mut config = Config::new();
    config
        .strategy(Strategy::Cranelift)
        .cranelift_opt_level(OptLevel::Speed)
        .epoch_interruption(epochs)
        .consume_fuel(fuel);
    Engine::new(&config).unwrap()
}

/// The fastest wall time of `export(arg)` over `runs` runs on `engine` (the
/// minimum: the machine is shared, and noise only ever adds time).
fn time_kernel(engine: &Engine, wasm: &[u8], export: &str, arg: i32, runs: usize) -> Duration {
    let module = Module::new(engine, wasm).unwrap();
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        store.set_epoch_deadline(u64::MAX / 2);
        let _ = store.set_fuel(u64::MAX);
        let start = Instant::now();
        // Every kernel takes one i32; the result type differs, so call untyped.
        if let Ok(f) = instance.get_typed_func::<i32, i32>(&mut store, export) {
            std::hint::black_box(f.call(&mut store, arg).unwrap());
        } else {
            let f: TypedFunc<i32, f64> = instance.get_typed_func(&mut store, export).unwrap();
            std::hint::black_box(f.call(&mut store, arg).unwrap());
        }
        times.push(start.elapsed());
    }
    times.into_iter().min().unwrap_or_default()
}

fn main() {
    let wasm = build_kernels();
    let engines = [
        ("plain", engine(false, false)),
        ("epochs", engine(true, false)),
        ("epochs+fuel", engine(true, true)),
    ];
    let kernels = [
        ("sum_loop", 200_000_000),
        ("sieve", 1 << 20),
        ("matmul", 40),
        ("calls", 30),
    ];
    println!(
        "{:<10} {:>12} {:>12} {:>12} {:>9} {:>11}",
        "kernel", "plain", "epochs", "epochs+fuel", "epochs/x", "fuel/x"
    );
    for (name, arg) in kernels {
        // Rounds alternate between the engines, so load changes hit all of them.
        let mut times = vec![Duration::MAX; engines.len()];
        for _ in 0..5 {
            for (t, (_, e)) in times.iter_mut().zip(&engines) {
                *t = (*t).min(time_kernel(e, &wasm, name, arg, 3));
            }
        }
        let ratio = |t: Duration| t.as_secs_f64() / times[0].as_secs_f64();
        println!(
            "{name:<10} {:>12?} {:>12?} {:>12?} {:>9.3} {:>11.3}",
            times[0],
            times[1],
            times[2],
            ratio(times[1]),
            ratio(times[2])
        );
    }
}
