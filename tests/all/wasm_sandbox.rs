//! The wasm sandbox runtime: calls, guest memory, faults, output routing, limits.
//!
//! The guest C is compiled with zig (`python3 -m ziglang`, or the repository's
//! `.venv`) when the tests run; without it the tests print a message and pass.

use std::sync::{Arc, Mutex, OnceLock};

use std::time::{Duration, Instant};

use wasmcffi::backend::wasm::{Limits, Sandbox, SandboxConfig, WasmModule, WasmVal};
use wasmcffi::cdata::Memory;
use wasmcffi::Error;

const GUEST_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#define EXPORT(name) __attribute__((export_name(#name)))

EXPORT(add) int add(int a, int b) { return a + b; }
EXPORT(add64) long long add64(long long a, long long b) { return a + b; }
EXPORT(scale) double scale(double x, float f) { return x * f; }
EXPORT(sum) int sum(const int *p, int n) { int s = 0; for (int i = 0; i < n; i++) s += p[i]; return s; }
EXPORT(do_trap) void do_trap(void) { __builtin_trap(); }
EXPORT(divide) int divide(int a, int b) { return a / b; }
EXPORT(deep) int deep(int n) {
    volatile char frame[512];
    frame[0] = (char)n;
    return n == 0 ? 0 : deep(n - 1) + frame[0];
}
EXPORT(deep_c_stack) int deep_c_stack(int n) {
    volatile char frame[16384];
    frame[n % 16384] = (char)n;
    return n == 0 ? 0 : deep_c_stack(n - 1) + frame[n % 16384];
}
EXPORT(do_exit) void do_exit(int code) { exit(code); }
EXPORT(hello) void hello(void) { printf("hi\n"); }
EXPORT(complain) void complain(void) { fprintf(stderr, "oops\n"); }
/* A volatile store keeps the compiler from eliding malloc (and assuming success). */
static void *volatile keep;
EXPORT(try_malloc) int try_malloc(int bytes) { keep = malloc(bytes); return keep != NULL; }
EXPORT(grab_megabytes) int grab_megabytes(int max) {
    int n = 0;
    while (n < max && (keep = malloc(1 << 20)) != NULL) n++;
    return n;
}
EXPORT(read_at) int read_at(int addr) { return *(volatile int *)addr; }
EXPORT(spin) void spin(void) { for (volatile int i = 0;; i++) {} }
static int bumps;
EXPORT(bump) int bump(void) { return ++bumps; }
EXPORT(count) int count(int n) { volatile int s = 0; for (int i = 0; i < n; i++) s += i; return s; }
"#;

/// The test module, compiled once per test run (None: no zig here).
fn module() -> Option<WasmModule> {
    static MODULE: OnceLock<Option<WasmModule>> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            crate::support::build_guest_module(
                "wasm-tests",
                "wasm sandbox tests",
                GUEST_C,
                &["-Wl,-z,stack-size=1048576"],
            )
        })
        .clone()
}

fn sandbox(config: SandboxConfig) -> Option<Arc<Sandbox>> {
    Some(Sandbox::new(&module()?, config).expect("instantiate"))
}

fn call_i32(sb: &Sandbox, name: &str, args: &[i32]) -> Result<i32, Error> {
    let args: Vec<WasmVal> = args.iter().map(|&a| WasmVal::I32(a)).collect();
    match sb.call(name, &args)?.as_slice() {
        [WasmVal::I32(v)] => Ok(*v),
        other => panic!("unexpected results {other:?}"),
    }
}

fn collector() -> (Arc<Mutex<Vec<u8>>>, wasmcffi::backend::wasm::OutputSink) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let b = Arc::clone(&buf);
    (
        buf,
        Arc::new(move |bytes: &[u8]| b.lock().unwrap().extend_from_slice(bytes)),
    )
}

#[test]
fn wasm_calls_exports_with_each_value_type() {
    let Some(sb) = sandbox(SandboxConfig::default()) else {
        return;
    };
    assert_eq!(call_i32(&sb, "add", &[2, 40]).unwrap(), 42);
    assert_eq!(call_i32(&sb, "add", &[i32::MAX, 1]).unwrap(), i32::MIN);
    assert_eq!(
        sb.call("add64", &[WasmVal::I64(1 << 40), WasmVal::I64(2)])
            .unwrap(),
        vec![WasmVal::I64((1 << 40) + 2)]
    );
    assert_eq!(
        sb.call("scale", &[WasmVal::F64(1.5), WasmVal::F32(2.0)])
            .unwrap(),
        vec![WasmVal::F64(3.0)]
    );
    assert!(sb.has_export("add") && sb.has_export("wasmcffi_malloc"));
    assert!(!sb.has_export("nope") && !sb.has_export("memory"));
}

#[test]
fn wasm_bad_export_or_arguments_are_clean_errors() {
    let Some(sb) = sandbox(SandboxConfig::default()) else {
        return;
    };
    assert!(matches!(sb.call("nope", &[]), Err(Error::Attribute(_))));
    assert!(matches!(
        sb.call("add", &[WasmVal::I32(1)]),
        Err(Error::Type(_))
    ));
    assert!(matches!(
        sb.call("add", &[WasmVal::I32(1), WasmVal::F64(1.0)]),
        Err(Error::Type(_))
    ));
    assert_eq!(call_i32(&sb, "add", &[1, 2]).unwrap(), 3);
}

#[test]
fn wasm_guest_memory_round_trip() {
    let Some(sb) = sandbox(SandboxConfig::default()) else {
        return;
    };
    let mem = sb.memory();
    assert!(Arc::ptr_eq(mem.sandbox(), &sb));
    let p = mem.alloc_zeroed(40, 4).unwrap();
    assert!(p != 0 && p % 4 == 0);
    let mut zeros = [1u8; 40];
    mem.read(p, &mut zeros).unwrap();
    assert_eq!(zeros, [0; 40]);
    let data: Vec<u8> = (1..=10i32).flat_map(|i| i.to_le_bytes()).collect();
    mem.write(p, &data).unwrap();
    assert_eq!(call_i32(&sb, "sum", &[p as i32, 10]).unwrap(), 55);
    mem.copy(p, p + 4, 36).unwrap();
    let mut first = [0u8; 4];
    mem.read(p, &mut first).unwrap();
    assert_eq!(i32::from_le_bytes(first), 2);
    let big = mem.alloc_zeroed(100, 256).unwrap();
    assert_eq!(big % 256, 0);
    let empty = mem.alloc_zeroed(0, 1).unwrap();
    assert!(empty != 0);
    mem.free(p, 40, 4);
    mem.free(big, 100, 256);
    mem.free(empty, 0, 1);
    assert!(mem.alloc_zeroed(8, 8).is_ok());
}

#[test]
fn wasm_guest_memory_is_bounds_checked() {
    let Some(sb) = sandbox(SandboxConfig::default()) else {
        return;
    };
    let mem = sb.memory();
    let size = mem.size().unwrap();
    let mut buf = [0u8; 4];
    assert!(matches!(mem.read(size, &mut buf), Err(Error::Memory(_))));
    assert!(matches!(
        mem.read(size - 2, &mut buf),
        Err(Error::Memory(_))
    ));
    assert!(matches!(
        mem.read(u64::from(u32::MAX), &mut buf),
        Err(Error::Memory(_))
    ));
    assert!(matches!(
        mem.read(u64::MAX - 1, &mut buf),
        Err(Error::Memory(_))
    ));
    assert!(matches!(mem.write(size, &buf), Err(Error::Memory(_))));
    assert!(matches!(mem.copy(8, size - 1, 4), Err(Error::Memory(_))));
    assert!(matches!(mem.read(0, &mut buf), Err(Error::Runtime(_))));
    mem.read(size - 4, &mut buf).unwrap();
    assert!(matches!(
        mem.alloc_zeroed(u64::from(u32::MAX), 8),
        Err(Error::Memory(_))
    ));
    // A guest-side wild read traps in the guest, never on the host.
    assert!(matches!(
        call_i32(&sb, "read_at", &[-4]),
        Err(Error::Trap(_))
    ));
}

#[test]
fn wasm_trap_carries_backtrace_and_poisons_until_reset() {
    let Some(sb) = sandbox(SandboxConfig::default()) else {
        return;
    };
    let Err(Error::Trap(msg)) = sb.call("do_trap", &[]) else {
        panic!("expected a trap")
    };
    eprintln!("{msg}");
    assert!(msg.contains("unreachable"), "{msg}");
    assert!(
        msg.contains("backtrace") && msg.contains("do_trap"),
        "{msg}"
    );
    assert!(sb.poisoned().unwrap().is_some());
    let Err(Error::Trap(again)) = sb.call("add", &[WasmVal::I32(1), WasmVal::I32(2)]) else {
        panic!("expected the poisoned sandbox to refuse")
    };
    assert!(again.contains("reset"), "{again}");
    let old = sb.memory();
    sb.reset().unwrap();
    assert_eq!(call_i32(&sb, "add", &[1, 2]).unwrap(), 3);
    let mut buf = [0u8; 4];
    assert!(matches!(old.read(1024, &mut buf), Err(Error::Memory(_))));
    sb.memory().read(1024, &mut buf).unwrap();
}

#[test]
fn wasm_division_by_zero_traps() {
    let Some(sb) = sandbox(SandboxConfig::default()) else {
        return;
    };
    assert_eq!(call_i32(&sb, "divide", &[7, 2]).unwrap(), 3);
    let Err(Error::Trap(msg)) = call_i32(&sb, "divide", &[7, 0]) else {
        panic!("expected a trap")
    };
    assert!(msg.contains("divide by zero"), "{msg}");
}

#[test]
fn wasm_stack_overflow_traps() {
    let Some(sb) = sandbox(SandboxConfig::default()) else {
        return;
    };
    assert_eq!(call_i32(&sb, "deep", &[10]).unwrap(), 55);
    // 512 bytes a frame: 100k frames are far beyond the 1 MiB C stack.
    let Err(Error::Trap(msg)) = call_i32(&sb, "deep", &[100_000]) else {
        panic!("expected a trap")
    };
    eprintln!("{msg}");
    assert!(msg.contains("deep"), "{msg}");
    sb.reset().unwrap();
    assert_eq!(call_i32(&sb, "deep", &[10]).unwrap(), 55);
    // 16 KiB a frame: the 1 MiB C stack (in linear memory, placed first) runs out
    // after ~64 frames, long before wasm's own stack: the guest traps on the
    // access below address 0 instead of overwriting its data.
    assert_eq!(call_i32(&sb, "deep_c_stack", &[10]).unwrap(), 55);
    let Err(Error::Trap(msg)) = call_i32(&sb, "deep_c_stack", &[1000]) else {
        panic!("expected a trap")
    };
    eprintln!("{msg}");
    assert!(
        msg.contains("out of bounds") && msg.contains("deep_c_stack"),
        "{msg}"
    );
}

#[test]
fn wasm_exit_is_guest_exit() {
    let Some(sb) = sandbox(SandboxConfig::default()) else {
        return;
    };
    assert_eq!(
        sb.call("do_exit", &[WasmVal::I32(3)]),
        Err(Error::GuestExit(3))
    );
    assert!(matches!(
        sb.call("add", &[WasmVal::I32(1), WasmVal::I32(2)]),
        Err(Error::Trap(_))
    ));
    sb.reset().unwrap();
    assert_eq!(
        sb.call("do_exit", &[WasmVal::I32(0)]),
        Err(Error::GuestExit(0))
    );
}

#[test]
fn wasm_stdout_and_stderr_reach_the_sinks() {
    let (out, out_sink) = collector();
    let (err, err_sink) = collector();
    let config = SandboxConfig {
        stdout: Some(out_sink),
        stderr: Some(err_sink),
        ..SandboxConfig::default()
    };
    let Some(sb) = sandbox(config) else { return };
    sb.call("hello", &[]).unwrap();
    assert_eq!(out.lock().unwrap().as_slice(), b"hi\n");
    sb.call("complain", &[]).unwrap();
    assert_eq!(err.lock().unwrap().as_slice(), b"oops\n");
    assert_eq!(out.lock().unwrap().as_slice(), b"hi\n");
    // Without sinks, output is dropped.
    let Some(quiet) = sandbox(SandboxConfig::default()) else {
        return;
    };
    quiet.call("hello", &[]).unwrap();
}

#[test]
fn wasm_memory_limit_fails_inside_the_guest() {
    let config = SandboxConfig {
        limits: Limits {
            max_memory: 4 << 20,
            ..Default::default()
        },
        ..SandboxConfig::default()
    };
    let Some(sb) = sandbox(config) else { return };
    assert_eq!(call_i32(&sb, "try_malloc", &[64 << 20]).unwrap(), 0);
    let got = call_i32(&sb, "grab_megabytes", &[100]).unwrap();
    assert!(got < 4, "allocated {got} MiB under a 4 MiB limit");
    assert!(sb.memory().size().unwrap() <= 4 << 20);
    assert!(
        matches!(sb.memory().alloc_zeroed(2 << 20, 8), Err(Error::Memory(m)) if m.contains("out of memory"))
    );
    assert_eq!(call_i32(&sb, "add", &[1, 2]).unwrap(), 3);
    // Unlimited, the same guest gets what it asks for.
    let Some(free) = sandbox(SandboxConfig::default()) else {
        return;
    };
    assert_eq!(call_i32(&free, "grab_megabytes", &[8]).unwrap(), 8);
}

#[test]
fn wasm_sandbox_is_shared_between_threads() {
    let Some(sb) = sandbox(SandboxConfig::default()) else {
        return;
    };
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let sb = Arc::clone(&sb);
            std::thread::spawn(move || {
                let mem = sb.memory();
                for i in 0..200 {
                    assert_eq!(call_i32(&sb, "add", &[t, i]).unwrap(), t + i);
                    let p = mem.alloc_zeroed(16, 8).unwrap();
                    mem.write(p, &[1; 16]).unwrap();
                    mem.free(p, 16, 8);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn wasm_sinks_cannot_reenter_the_sandbox() {
    let slot: Arc<Mutex<Option<Arc<Sandbox>>>> = Arc::new(Mutex::new(None));
    let seen = Arc::new(Mutex::new(None));
    let (slot2, seen2) = (Arc::clone(&slot), Arc::clone(&seen));
    let sink: wasmcffi::backend::wasm::OutputSink = Arc::new(move |_: &[u8]| {
        if let Some(sb) = slot2.lock().unwrap().as_ref() {
            *seen2.lock().unwrap() = Some(sb.call("add", &[WasmVal::I32(1), WasmVal::I32(1)]));
        }
    });
    let config = SandboxConfig {
        stdout: Some(sink),
        ..SandboxConfig::default()
    };
    let Some(sb) = sandbox(config) else { return };
    *slot.lock().unwrap() = Some(Arc::clone(&sb));
    sb.call("hello", &[]).unwrap();
    // The sink runs after the call released the sandbox, so it may call in.
    assert_eq!(seen.lock().unwrap().take(), Some(Ok(vec![WasmVal::I32(2)])));
    slot.lock().unwrap().take();
}

/// A sandbox on the metered engine with `fuel` per call.
fn metered(fuel: Option<u64>) -> Option<Arc<Sandbox>> {
    sandbox(SandboxConfig {
        metered: true,
        limits: Limits {
            fuel,
            ..Limits::default()
        },
        ..SandboxConfig::default()
    })
}

#[test]
fn wasm_timeout_stops_an_endless_loop_and_poisons() {
    let Some(sb) = sandbox(SandboxConfig {
        limits: Limits {
            timeout: Some(Duration::from_millis(30)),
            ..Limits::default()
        },
        ..SandboxConfig::default()
    }) else {
        return;
    };
    let started = Instant::now();
    let err = sb.call("spin", &[]).unwrap_err();
    assert!(
        matches!(&err, Error::Timeout(m) if m.contains("time limit")),
        "{err:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(30));
    assert!(sb.poisoned().unwrap().is_some());
    assert!(matches!(call_i32(&sb, "add", &[1, 2]), Err(Error::Trap(_))));
    sb.reset().unwrap();
    assert_eq!(call_i32(&sb, "add", &[1, 2]).unwrap(), 3);
    // A short call under the same limit is unaffected.
    assert_eq!(call_i32(&sb, "count", &[1000]).unwrap(), 499_500);
    let usage = sb.usage();
    assert_eq!(usage.traps, 1);
    assert!(usage.calls >= 3, "{usage:?}");
}

#[test]
fn wasm_fuel_is_a_deterministic_budget() {
    let Some(sb) = metered(Some(1_000_000)) else {
        return;
    };
    let before = sb.usage().fuel; // `_initialize` burnt some
    assert_eq!(call_i32(&sb, "count", &[1000]).unwrap(), 499_500);
    let one = sb.usage().fuel - before;
    assert!(one > 1000, "{one}");
    assert_eq!(call_i32(&sb, "count", &[1000]).unwrap(), 499_500);
    assert_eq!(
        sb.usage().fuel - before,
        2 * one,
        "the same call burns the same fuel"
    );
    let err = sb.call("spin", &[]).unwrap_err();
    assert!(
        matches!(&err, Error::Timeout(m) if m.contains("fuel")),
        "{err:?}"
    );
    sb.reset().unwrap();
    sb.set_limits(Limits {
        fuel: Some(one / 2),
        ..sb.limits()
    })
    .unwrap();
    assert!(matches!(
        call_i32(&sb, "count", &[1000]),
        Err(Error::Timeout(_))
    ));
}

#[test]
fn wasm_fuel_needs_a_metered_sandbox() {
    let Some(sb) = sandbox(SandboxConfig::default()) else {
        return;
    };
    let limits = Limits {
        fuel: Some(10),
        ..Limits::default()
    };
    assert!(matches!(sb.set_limits(limits), Err(Error::Value(_))));
    let Some(unlimited) = metered(None) else {
        return;
    };
    assert_eq!(call_i32(&unlimited, "count", &[100]).unwrap(), 4950);
}

#[test]
fn wasm_auto_reset_leaves_a_fresh_instance() {
    let Some(sb) = sandbox(SandboxConfig {
        auto_reset: true,
        ..SandboxConfig::default()
    }) else {
        return;
    };
    let generation = sb.generation();
    assert!(matches!(sb.call("do_trap", &[]), Err(Error::Trap(_))));
    assert_eq!(sb.generation(), generation + 1);
    assert!(sb.poisoned().unwrap().is_none());
    assert_eq!(call_i32(&sb, "add", &[2, 2]).unwrap(), 4);
}

#[test]
fn wasm_live_memory_follows_resets_and_pinned_memory_dies() {
    let Some(sb) = sandbox(SandboxConfig::default()) else {
        return;
    };
    let live = sb.live_memory();
    let pinned = live.pinned().unwrap();
    let p = live.alloc_zeroed(8, 8).unwrap();
    sb.reset().unwrap();
    assert!(matches!(pinned.read(p, &mut [0; 8]), Err(Error::Memory(_))));
    pinned.free(p, 8, 8); // ignored: an address of the old instance
    let q = live.alloc_zeroed(8, 8).unwrap();
    live.write(q, &[7; 8]).unwrap();
    assert_eq!(live.generation(), sb.generation());
    assert!(matches!(live.read_vec(q, 1 << 40), Err(Error::Memory(_))));
}

#[test]
fn wasm_more_live_sandboxes_than_the_pool_holds() {
    let Some(module) = module() else {
        return;
    };
    let live: Vec<Arc<Sandbox>> = (0..wasmcffi::backend::wasm::POOL_SLOTS + 3)
        .map(|_| Sandbox::new(&module, SandboxConfig::default()).expect("instantiate"))
        .collect();
    let (first, last) = (&live[0], &live[live.len() - 1]);
    for (i, sb) in [first, last].into_iter().enumerate() {
        assert_eq!(call_i32(sb, "add", &[i as i32, 40]).unwrap(), 40 + i as i32);
    }
    // Past the pool, memories are still separate and still bounds-checked.
    for (sb, value) in [(first, 7), (last, 9)] {
        let p = sb.memory().alloc_zeroed(4, 4).unwrap();
        sb.memory().write(p, &i32::to_le_bytes(value)).unwrap();
        assert_eq!(call_i32(sb, "read_at", &[p as i32]).unwrap(), value);
    }
    let p = first.memory().alloc_zeroed(4, 4).unwrap();
    let q = last.memory().alloc_zeroed(4, 4).unwrap();
    assert_eq!(p, q, "both guests allocate alike");
    first.memory().write(p, &1i32.to_le_bytes()).unwrap();
    assert_eq!(call_i32(last, "read_at", &[q as i32]).unwrap(), 0);
    let size = last.memory().size().unwrap();
    assert!(matches!(
        call_i32(last, "read_at", &[size as i32]),
        Err(Error::Trap(_))
    ));
    // Dropping them frees the pool for new ones.
    drop(live);
    let again = sandbox(SandboxConfig::default()).unwrap();
    assert_eq!(call_i32(&again, "add", &[1, 2]).unwrap(), 3);
}

#[test]
fn wasm_a_reused_slot_starts_fresh() {
    let Some(module) = module() else {
        return;
    };
    // Sandboxes come from a pool of reused slots: nothing one leaves behind (memory
    // contents, memory growth, globals) may reach the next one in the same slot.
    // Marks left by one sandbox: deep in the C stack (linear memory starts with
    // it), which the guest does not reach, in the untouched middle of its initial
    // memory, and inside memory the guest grew. (A freed slot's touched pages are
    // either reset in place or handed back to the kernel: both must read as new.)
    let marks = |initial_size: u64| {
        [
            1024,
            initial_size / 2 + 100,
            initial_size + (2 << 20) + 4196,
        ]
    };
    for _ in 0..4 {
        let sb = Sandbox::new(&module, SandboxConfig::default()).unwrap();
        let initial_size = sb.memory().size().unwrap();
        assert_eq!(call_i32(&sb, "bump", &[]).unwrap(), 1, "globals start over");
        assert_eq!(call_i32(&sb, "grab_megabytes", &[4]).unwrap(), 4);
        for addr in marks(initial_size) {
            assert_eq!(
                call_i32(&sb, "read_at", &[addr as i32]).unwrap(),
                0,
                "leftover at {addr:#x}"
            );
            sb.memory().write(addr, &0x5eed_u32.to_le_bytes()).unwrap();
        }
        drop(sb);
        let next = Sandbox::new(&module, SandboxConfig::default()).unwrap();
        assert_eq!(next.memory().size().unwrap(), initial_size, "growth undone");
    }
}
