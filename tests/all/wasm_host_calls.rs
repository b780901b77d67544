//! Calls from guest code into the host and back: the `wasmcffi.call_python`
//! import, host functions in the guest's function table, calls through guest
//! function pointers, re-entrant memory access and calls, and guest faults in
//! nested calls.

use std::sync::{Arc, Mutex, OnceLock, Weak};

use wasmcffi::backend::wasm::{
    ExternPythonHandler, Sandbox, SandboxConfig, TableCallback, WasmModule, WasmSignature,
    WasmType, WasmVal,
};
use wasmcffi::cdata::Memory;
use wasmcffi::Error;

const GUEST_C: &str = r#"
#define EXPORT(name) __attribute__((export_name(#name)))
__attribute__((import_module("wasmcffi"), import_name("call_python")))
void call_python(int index, void *args, void *result);

EXPORT(twice) int twice(int n) { return 2 * n; }
EXPORT(crash) void crash(void) { __builtin_trap(); }
/* Calls the host with a pointer to {n, n + 1} and returns what it stored. */
EXPORT(ask_host) int ask_host(int n) {
    struct { int a, b; } args = { n, n + 1 };
    int result = -1;
    call_python(0, &args, &result);
    return result;
}
/* A hostile guest: wild argument and result addresses. */
EXPORT(wild_args) int wild_args(void) { int r = 0; call_python(0, (void *)0xfffffff0, &r); return r; }
EXPORT(wild_result) void wild_result(void) { int args[2] = { 1, 2 }; call_python(0, args, (void *)0xfffffffc); }
EXPORT(no_such_function) int no_such_function(void) { int r = 5; call_python(99, 0, &r); return r; }
EXPORT(apply) int apply(int (*f)(int, int), int a, int b) { return f(a, b); }
static int sub(int a, int b) { return a - b; }
EXPORT(get_sub) void *get_sub(void) { return (void *)sub; }
"#;

fn module() -> Option<WasmModule> {
    static MODULE: OnceLock<Option<WasmModule>> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            crate::support::build_guest_module(
                "host-calls",
                "host-call tests",
                GUEST_C,
                &["-Wl,--export-table", "-Wl,--growable-table"],
            )
        })
        .clone()
}

/// A handler reading the two ints, calling `twice` on the first (re-entrantly)
/// and storing `twice(a) + b`; or calling `crash` when told to.
struct Handler {
    sandbox: Mutex<Weak<Sandbox>>,
    crash: bool,
    seen: Mutex<Vec<Result<i32, String>>>,
}

impl ExternPythonHandler for Handler {
    fn args_size(&self, index: u32) -> usize {
        if index == 0 {
            8
        } else {
            0
        }
    }

    fn call(&self, index: u32, args: &[u8]) -> Vec<u8> {
        if index != 0 {
            return Vec::new(); // an unknown function: the result stays as the guest set it
        }
        let sandbox = self.sandbox.lock().unwrap().upgrade().unwrap();
        let a = i32::from_le_bytes(args[..4].try_into().unwrap());
        let b = i32::from_le_bytes(args[4..].try_into().unwrap());
        let name = if self.crash { "crash" } else { "twice" };
        let outcome = sandbox.call(name, &[WasmVal::I32(a)][..usize::from(!self.crash)]);
        let value = match outcome {
            Ok(v) => match v.as_slice() {
                [WasmVal::I32(t)] => Ok(t + b),
                _ => Ok(0),
            },
            Err(e) => Err(e.to_string()),
        };
        self.seen.lock().unwrap().push(value.clone());
        // Guest memory stays reachable (and allocatable) from the callback; after
        // a fault in it, no guest code (such as malloc) runs again.
        let mem = sandbox.memory();
        if self.crash {
            assert!(matches!(mem.alloc_zeroed(16, 8), Err(Error::Trap(_))));
            return Vec::new();
        }
        let block = mem.alloc_zeroed(16, 8).unwrap();
        mem.write(block, &[1, 2, 3, 4]).unwrap();
        let mut back = [0u8; 4];
        mem.read(block, &mut back).unwrap();
        assert_eq!(back, [1, 2, 3, 4]);
        mem.free(block, 16, 8);
        value.unwrap_or(-7).to_le_bytes().to_vec()
    }
}

fn setup(crash: bool) -> Option<(Arc<Sandbox>, Arc<Handler>)> {
    let sandbox = Sandbox::new(&module()?, SandboxConfig::default()).unwrap();
    let handler = Arc::new(Handler {
        sandbox: Mutex::new(Arc::downgrade(&sandbox)),
        crash,
        seen: Mutex::new(Vec::new()),
    });
    let dyn_handler: Arc<dyn ExternPythonHandler> = handler.clone();
    sandbox.set_extern_python(&dyn_handler).unwrap();
    Some((sandbox, handler))
}

#[test]
fn host_call_reads_memory_and_calls_back_into_the_guest() {
    let Some((sandbox, handler)) = setup(false) else {
        return;
    };
    let out = sandbox.call("ask_host", &[WasmVal::I32(20)]).unwrap();
    assert_eq!(out, vec![WasmVal::I32(2 * 20 + 21)]);
    assert_eq!(handler.seen.lock().unwrap().as_slice(), &[Ok(61)]);
}

#[test]
fn guest_fault_in_a_nested_call_fails_the_outer_call() {
    let Some((sandbox, handler)) = setup(true) else {
        return;
    };
    let err = sandbox.call("ask_host", &[WasmVal::I32(1)]).unwrap_err();
    assert!(matches!(err, Error::Trap(_)), "{err:?}");
    let seen = handler.seen.lock().unwrap().clone();
    assert!(
        matches!(seen.as_slice(), [Err(m)] if m.contains("trap")),
        "{seen:?}"
    );
    assert!(sandbox.poisoned().unwrap().is_some());
    sandbox.reset().unwrap();
    assert_eq!(
        sandbox.call("twice", &[WasmVal::I32(4)]).unwrap(),
        vec![WasmVal::I32(8)]
    );
}

fn int_int_to_int() -> WasmSignature {
    WasmSignature {
        params: vec![WasmType::I32, WasmType::I32],
        result: Some(WasmType::I32),
    }
}

#[test]
fn table_callbacks_are_called_by_the_guest_and_freed() {
    let Some((sandbox, _)) = setup(false) else {
        return;
    };
    let product: TableCallback = Arc::new(|args| match args {
        [WasmVal::I32(a), WasmVal::I32(b)] => Some(WasmVal::I32(a * b)),
        _ => None,
    });
    let (generation, slot) = sandbox.add_callback(&int_int_to_int(), product).unwrap();
    let apply = |slot: u32| {
        sandbox.call(
            "apply",
            &[WasmVal::I32(slot as i32), WasmVal::I32(6), WasmVal::I32(7)],
        )
    };
    assert_eq!(apply(slot).unwrap(), vec![WasmVal::I32(42)]);
    sandbox.remove_callback(generation, slot);
    assert!(matches!(apply(slot), Err(Error::Trap(_))));
    sandbox.reset().unwrap();
    let again: TableCallback = Arc::new(|_| Some(WasmVal::I32(1)));
    let (_, reused) = sandbox.add_callback(&int_int_to_int(), again).unwrap();
    assert_eq!(apply(reused).unwrap(), vec![WasmVal::I32(1)]);
}

#[test]
fn guest_function_pointers_are_checked_before_calls() {
    let Some((sandbox, _)) = setup(false) else {
        return;
    };
    let [WasmVal::I32(sub)] = sandbox.call("get_sub", &[]).unwrap()[..] else {
        panic!()
    };
    let args = [WasmVal::I32(9), WasmVal::I32(4)];
    let sig = int_int_to_int();
    assert_eq!(
        sandbox.call_indirect(sub as u32, &sig, &args).unwrap(),
        Some(WasmVal::I32(5))
    );
    let wrong = WasmSignature {
        params: vec![WasmType::F64],
        result: None,
    };
    assert!(matches!(
        sandbox.call_indirect(sub as u32, &wrong, &[WasmVal::F64(1.0)]),
        Err(Error::Type(_))
    ));
    assert!(matches!(
        sandbox.call_indirect(0, &sig, &args),
        Err(Error::Runtime(_))
    ));
    assert!(matches!(
        sandbox.call_indirect(u32::MAX, &sig, &args),
        Err(Error::Runtime(_))
    ));
    assert!(sandbox.poisoned().unwrap().is_none());
}

#[test]
fn wild_addresses_from_the_guest_trap_it() {
    let Some((sandbox, _handler)) = setup(false) else {
        return;
    };
    for export in ["wild_args", "wild_result"] {
        let err = sandbox.call(export, &[]).unwrap_err();
        assert!(
            matches!(&err, Error::Trap(m) if m.contains("out of bounds")),
            "{err:?}"
        );
        sandbox.reset().unwrap();
    }
    let out = sandbox.call("no_such_function", &[]).unwrap();
    assert_eq!(out, vec![WasmVal::I32(5)]);
}
