//! Calls from guest code into the host, and back into the guest from there.
//!
//! Two kinds of host functions are reachable from guest code:
//!
//! - the import `wasmcffi.call_python(index, args, result)`, which the glue of a
//!   module's `extern "Python"` functions calls (`args` is a guest array of
//!   pointers to the argument values, `result` a zeroed slot for the result);
//!   it runs the sandbox's [`ExternPythonHandler`](super::ExternPythonHandler);
//! - [`TableCallback`](super::TableCallback)s (`ffi.callback`): host functions placed in free slots of
//!   the guest's indirect function table, so that the slot index is a C function
//!   pointer the guest can call.
//!
//! # Re-entrant access
//!
//! While a host function runs, the store is mutably borrowed by the guest call
//! below it (the sandbox's lock is held by that call), and wasmtime hands the host
//! function a [`Caller`] as the only way to reach the store. So that the host code
//! can read guest memory, allocate in it and call guest functions again, the
//! `Caller` is registered for the current thread in a stack of *active* host
//! calls (one per nesting level) for the duration of the host function; the
//! sandbox's memory and call paths use the newest registration of their sandbox
//! when the current thread is already inside it ([`with_reentered`]).
//!
//! A guest fault (trap, exit, timeout) in such a nested call is returned to the
//! host code as an error *and* remembered: when the host function returns, it
//! fails with that fault, so the outer guest code unwinds too and the outermost
//! call reports the fault and poisons the instance. Guest code never continues on
//! top of a faulted nested call.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use wasmtime::{
    Caller, Extern, Func, Instance, Linker, Memory, Module, ModuleExport, Ref, TypedFunc, Val,
};

use super::fault::{describe_fault, in_bounds, Fault};
use super::host_state::{Handles, Slot, TableCallback};
use super::values::{WasmSignature, WasmVal};
use super::wasi::StoreData;
use crate::bail;
use crate::error::{Error, Result};

/// Defines the `wasmcffi` imports in the process-wide linker.
pub(crate) fn define_imports(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "wasmcffi",
        "call_python",
        |mut caller: Caller<'_, StoreData>, index: i32, args: i32, result: i32| {
            let handler = caller
                .data()
                .host
                .extern_python
                .as_ref()
                .and_then(Weak::upgrade);
            let Some(handler) = handler else {
                eprintln!(
                    "extern \"Python\": function number {index} called, but no code was attached to it yet with @ffi.def_extern().  Returning 0."
                );
                return Ok(());
            };
            let index = index as u32;
            // Most argument structs fit on the stack.
            let size = handler.args_size(index);
            let mut inline = [0u8; 64];
            let mut spilled = Vec::new();
            let bytes: &mut [u8] = if size <= inline.len() {
                &mut inline[..size]
            } else {
                spilled.resize(size, 0);
                &mut spilled
            };
            if !bytes.is_empty() {
                with_bytes(&mut caller, u64::from(args as u32), bytes.len(), |src| {
                    bytes.copy_from_slice(src);
                })
                .map_err(|e| wasmtime::Error::msg(format!("extern \"Python\" call: {e}")))?;
            }
            let (out, fault) = enter_host(&mut caller, || handler.call(index, bytes));
            if let Some(fault) = fault {
                return Err(fault);
            }
            if result != 0 && !out.is_empty() {
                with_bytes(&mut caller, u64::from(result as u32), out.len(), |dst| {
                    dst.copy_from_slice(&out);
                })
                .map_err(|e| wasmtime::Error::msg(format!("extern \"Python\" result: {e}")))?;
            }
            Ok(())
        },
    )?;
    Ok(())
}

/// Where the exports the host needs sit in one compiled module, found once per
/// module so that each new instance takes them by index, not by name.
pub(crate) struct ExportIndices {
    memory: Option<ModuleExport>,
    malloc: Option<ModuleExport>,
    malloc_uninit: Option<ModuleExport>,
    table: Option<ModuleExport>,
    free: Option<ModuleExport>,
    errno_location: Option<ModuleExport>,
}

impl ExportIndices {
    pub(crate) fn of(module: &Module) -> ExportIndices {
        ExportIndices {
            memory: module.get_export_index("memory"),
            malloc: module.get_export_index("wasmcffi_malloc"),
            malloc_uninit: module.get_export_index("wasmcffi_malloc_uninit"),
            table: module.get_export_index("__indirect_function_table"),
            free: module.get_export_index("wasmcffi_free"),
            errno_location: module.get_export_index("wasmcffi_errno_location"),
        }
    }
}

/// The guest exports the host needs in `instance` (of the module `exports` was
/// made from), and its `wasmcffi_free`.
pub(crate) fn find_handles(
    store: &mut wasmtime::Store<StoreData>,
    instance: Instance,
    exports: &ExportIndices,
) -> (Handles, Option<TypedFunc<i32, ()>>) {
    let mut get = |export: &Option<ModuleExport>| {
        export
            .as_ref()
            .and_then(|e| instance.get_module_export(&mut *store, e))
    };
    let (memory, table) = (get(&exports.memory), get(&exports.table));
    let (malloc, malloc_uninit, free) = (
        get(&exports.malloc),
        get(&exports.malloc_uninit),
        get(&exports.free),
    );
    let typed = |export: Option<Extern>| {
        export
            .and_then(Extern::into_func)
            .and_then(|f| f.typed::<(i32, i32), i32>(&*store).ok())
    };
    let handles = Handles {
        instance,
        memory: memory.and_then(Extern::into_memory),
        malloc: typed(malloc),
        malloc_uninit: typed(malloc_uninit),
        table: table.and_then(Extern::into_table),
    };
    let free = free
        .and_then(Extern::into_func)
        .and_then(|f| f.typed::<i32, ()>(&*store).ok());
    (handles, free)
}

/// Where a new instance's `errno` is: its memory and the offset (`None` for
/// modules built before `wasmcffi_errno_location` existed). Runs guest code:
/// `store` must be armed for a call.
pub(crate) fn find_errno(
    store: &mut wasmtime::Store<StoreData>,
    exports: &ExportIndices,
) -> Option<(Memory, usize)> {
    let handles = store.data().host.handles.as_ref()?;
    let (instance, memory) = (handles.instance, handles.memory?);
    let location = instance
        .get_module_export(&mut *store, exports.errno_location.as_ref()?)?
        .into_func()?
        .typed::<(), i32>(&*store)
        .ok()?;
    let addr = location.call(&mut *store, ()).ok()?;
    Some((memory, usize::try_from(addr).ok()?))
}

/// One of the guest exports found at instantiation (`None` if the module lacks it).
fn handle<H>(
    store: &impl wasmtime::AsContext<Data = StoreData>,
    pick: impl FnOnce(&Handles) -> Option<H>,
) -> Option<H> {
    store
        .as_context()
        .data()
        .host
        .handles
        .as_ref()
        .and_then(pick)
}

// ---- the registry of active host calls (this thread) ----

/// A host call in progress on this thread: the `Caller` it was given, erased to
/// `'static` (it is only used while the host call runs, see [`enter_host`]).
struct Active {
    key: u64,
    caller: *mut Caller<'static, StoreData>,
    /// A nested use of `caller` is running ([`with_reentered`]): the pointer must
    /// not be borrowed again until it returns.
    busy: bool,
    /// A guest fault in a nested call: the host call fails with it when it returns.
    fault: Option<wasmtime::Error>,
}

thread_local! {
    static ACTIVE: RefCell<Vec<Active>> = const { RefCell::new(Vec::new()) };
}

/// Pops this thread's newest active call when dropped (also on unwinding).
struct PopOnDrop;

impl Drop for PopOnDrop {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.borrow_mut().pop());
    }
}

/// Runs `f` (host code called by the guest through `caller`) with `caller`
/// registered as the way into the store for nested accesses on this thread.
/// Returns `f`'s result and the guest fault a nested call hit, if any.
fn enter_host<R>(
    caller: &mut Caller<'_, StoreData>,
    f: impl FnOnce() -> R,
) -> (R, Option<wasmtime::Error>) {
    let key = caller.data().host.key;
    let erased = std::ptr::from_mut(caller).cast::<Caller<'static, StoreData>>();
    ACTIVE.with(|a| {
        a.borrow_mut().push(Active {
            key,
            caller: erased,
            busy: false,
            fault: None,
        });
    });
    let pop = PopOnDrop;
    let out = f();
    let fault = ACTIVE.with(|a| a.borrow_mut().last_mut().and_then(|r| r.fault.take()));
    drop(pop);
    (out, fault)
}

/// Whether this thread is running a host call of sandbox `key`.
pub(crate) fn is_reentered(key: u64) -> bool {
    ACTIVE.with(|a| a.borrow().iter().any(|r| r.key == key))
}

/// Runs `f` on the store of sandbox `key` through the newest host call of this
/// thread into it (`Error::Runtime` if there is none). A guest fault `f` reports
/// (`Err(Fault::Guest)`) is remembered for that host call (see the module docs)
/// and returned as our error; once one happened, no guest code runs again.
pub(crate) fn with_reentered<R>(
    key: u64,
    run_guest: bool,
    f: impl FnOnce(&mut Caller<'_, StoreData>) -> std::result::Result<R, Fault>,
) -> Result<R> {
    let claimed = ACTIVE.with(|a| {
        let mut a = a.borrow_mut();
        let Some((index, record)) = a.iter_mut().enumerate().rev().find(|(_, r)| r.key == key)
        else {
            return Err(Error::Runtime(
                "the sandbox is not running a host call on this thread".into(),
            ));
        };
        if record.busy {
            Err(Error::Runtime(
                "the sandbox is already in use by this thread".into(),
            ))
        } else if run_guest && record.fault.is_some() {
            Err(Error::Trap(
                "the sandbox cannot run after an earlier fault in this callback".into(),
            ))
        } else {
            record.busy = true;
            Ok((index, record.caller))
        }
    });
    let (index, pointer) = claimed?;
    // SAFETY: `pointer` was made from the `&mut Caller` of a host call that is still
    // running below us on this thread (its record is popped before that host call
    // returns, and records are only reached from their own thread). That host call
    // does not touch its `Caller` while the record exists (see `enter_host`), and
    // the `busy` flag guarantees this is the only reference made from the pointer
    // until `f` returns; nested host calls register their own `Caller`.
    let caller = unsafe { &mut *pointer };
    let outcome = f(caller);
    ACTIVE.with(|a| {
        if let Some(record) = a.borrow_mut().get_mut(index) {
            record.busy = false;
        }
    });
    match outcome {
        Ok(value) => Ok(value),
        Err(Fault::Error(e)) => Err(e),
        Err(Fault::Guest(err)) => {
            let (error, _) = describe_fault(&err, None);
            ACTIVE.with(|a| {
                if let Some(record) = a.borrow_mut().get_mut(index) {
                    record.fault.get_or_insert(err);
                }
            });
            Err(error)
        }
    }
}

// ---- operations shared by the locked and the re-entrant paths ----

/// Calls `func` with `args`, checking them against its wasm signature.
pub(crate) fn call_func(
    mut store: impl wasmtime::AsContextMut<Data = StoreData>,
    func: &Func,
    args: &[WasmVal],
    what: &str,
) -> std::result::Result<Vec<WasmVal>, Fault> {
    let ty = func.ty(&store);
    if ty.params().len() != args.len() || !args.iter().zip(ty.params()).all(|(a, t)| a.matches(&t))
    {
        return Err(Fault::Error(Error::Type(format!(
            "'{what}' expects wasm arguments {:?}, got {args:?}",
            ty.params().collect::<Vec<_>>()
        ))));
    }
    let params: Vec<Val> = args.iter().map(|a| a.to_val()).collect();
    let mut results = vec![Val::I32(0); ty.results().len()];
    func.call(&mut store, &params, &mut results)
        .map_err(Fault::Guest)?;
    Ok(results
        .iter()
        .map(WasmVal::from_val)
        .collect::<Result<_>>()?)
}

/// Calls the function in slot `index` of the guest's table, which must have the
/// wasm signature `signature` (the C function pointer's type on wasm32).
pub(crate) fn call_indirect(
    mut store: impl wasmtime::AsContextMut<Data = StoreData>,
    index: u32,
    signature: &WasmSignature,
    args: &[WasmVal],
) -> std::result::Result<Option<WasmVal>, Fault> {
    let Some(table) = handle(&store, |h| h.table) else {
        return Err(Error::Runtime("the sandboxed module exports no function table".into()).into());
    };
    let func = match table.get(&mut store, u64::from(index)) {
        Some(r) => r.as_func().flatten().copied(),
        None => None,
    };
    let Some(func) = func else {
        return Err(Error::Runtime(format!(
            "cannot call function pointer {index:#x}: not a function of the sandboxed module"
        ))
        .into());
    };
    let actual = WasmSignature::of(&func.ty(&store));
    if actual.as_ref() != Some(signature) {
        return Err(Error::Type(format!(
            "cannot call function pointer {index:#x}: its wasm type {actual:?} does not match the C type (wasm {signature:?})"
        ))
        .into());
    }
    Ok(call_func(store, &func, args, "function pointer")?
        .into_iter()
        .next())
}

/// Reads or writes `len` bytes at guest address `addr` with `f`, bounds-checked.
pub(crate) fn with_bytes<R>(
    mut store: impl wasmtime::AsContextMut<Data = StoreData>,
    addr: u64,
    len: usize,
    f: impl FnOnce(&mut [u8]) -> R,
) -> Result<R> {
    if addr == 0 && len > 0 {
        bail!(Runtime, "cannot access memory at NULL");
    }
    let Some(memory) = handle(&store, |h| h.memory) else {
        bail!(Memory, "the sandboxed module exports no memory");
    };
    let data = memory.data_mut(&mut store);
    let range = in_bounds(addr, len, data.len())?;
    Ok(f(&mut data[range]))
}

/// Calls the guest's `wasmcffi_malloc(size, align)`, or when `zeroed` is false
/// its `wasmcffi_malloc_uninit` (falling back to the former for modules that
/// lack it).
pub(crate) fn malloc(
    mut store: impl wasmtime::AsContextMut<Data = StoreData>,
    size: i32,
    align: i32,
    zeroed: bool,
) -> std::result::Result<i32, Fault> {
    let pick = |h: &Handles| match zeroed {
        true => h.malloc.clone(),
        false => h.malloc_uninit.clone().or_else(|| h.malloc.clone()),
    };
    let Some(malloc) = handle(&store, pick) else {
        return Err(Error::Memory(
            "the sandboxed module has no wasmcffi_malloc export (guest/runtime.c not linked in)"
                .into(),
        )
        .into());
    };
    malloc.call(&mut store, (size, align)).map_err(Fault::Guest)
}

/// Puts `callback` into a free slot of the guest's function table (growing it
/// if needed) as a host function of wasm type `signature`; returns the slot.
pub(crate) fn add_callback(
    mut store: impl wasmtime::AsContextMut<Data = StoreData>,
    signature: &WasmSignature,
    callback: TableCallback,
) -> Result<u32> {
    let Some(table) = handle(&store, |h| h.table) else {
        bail!(
            NotImplemented,
            "ffi.callback() needs the module's function table exported (link with -Wl,--export-table -Wl,--growable-table)"
        );
    };
    let reusable = store
        .as_context()
        .data()
        .host
        .slots
        .iter()
        .find(|(_, s)| s.callback.is_none() && s.signature == *signature)
        .map(|(&i, s)| (i, s.func));
    let (index, func) = match reusable {
        Some(found) => found,
        None => {
            let ty = signature.func_type(store.as_context().engine());
            let index_cell = Arc::new(std::sync::OnceLock::<u32>::new());
            let slot_of = Arc::clone(&index_cell);
            let func = Func::new(&mut store, ty, move |mut caller, params, results| {
                let slot = slot_of.get().copied().unwrap_or(u32::MAX);
                let callback = caller
                    .data()
                    .host
                    .slots
                    .get(&slot)
                    .and_then(|s| s.callback.clone());
                let Some(callback) = callback else {
                    return Err(wasmtime::Error::msg(
                        "call through an ffi.callback() function pointer whose cdata was freed",
                    ));
                };
                let args: Vec<WasmVal> = params
                    .iter()
                    .map(WasmVal::from_val)
                    .collect::<Result<_>>()
                    .map_err(|e| wasmtime::Error::msg(e.to_string()))?;
                let (out, fault) = enter_host(&mut caller, || callback(&args));
                if let Some(fault) = fault {
                    return Err(fault);
                }
                if let (Some(value), Some(slot)) = (out, results.first_mut()) {
                    *slot = value.to_val();
                }
                Ok(())
            });
            let grown = table.grow(&mut store, 1, Ref::Func(None)).map_err(|e| {
                Error::Memory(format!("cannot grow the guest's function table: {e:#}"))
            })?;
            let index = u32::try_from(grown)
                .map_err(|_| Error::Memory("the guest's function table is full".into()))?;
            let _ = index_cell.set(index);
            (index, func)
        }
    };
    table
        .set(&mut store, u64::from(index), Ref::Func(Some(func)))
        .map_err(|e| Error::Internal(format!("cannot set the function table slot: {e:#}")))?;
    store.as_context_mut().data_mut().host.slots.insert(
        index,
        Slot {
            func,
            signature: signature.clone(),
            callback: Some(callback),
        },
    );
    Ok(index)
}

/// Empties the table slot of a callback (a later call through it traps) and
/// keeps it for reuse.
pub(crate) fn remove_callback(
    mut store: impl wasmtime::AsContextMut<Data = StoreData>,
    index: u32,
) {
    let table = handle(&store, |h| h.table);
    if let Some(slot) = store.as_context_mut().data_mut().host.slots.get_mut(&index) {
        slot.callback = None;
        if let Some(table) = table {
            let _ = table.set(&mut store, u64::from(index), Ref::Func(None));
        }
    }
}
