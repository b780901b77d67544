//! Marshalling between Python and C for every kind of call: arguments to bytes
//! (`encode_arg`), results from bytes (`value_from_bytes`), the temporaries a
//! call keeps, and `CallbackTarget` (CFFI's rules for callbacks). The calls
//! themselves are above it (`call`, `guest_callback`, `module_lib`).
//!
//! Arguments become bytes with the core's conversion rules; Python lists,
//! bytes and str given for `T *` parameters become temporary arrays that live
//! until the call returns, as in CFFI.

use std::borrow::Cow;
use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use pyo3::IntoPyObjectExt;
use wasmcffi::cdata::{self as core, Addr, HostMemory, Memory, Value};
use wasmcffi::layout::{
    extend, vararg_promotion, CKind, CType, FuncInfo, PrimClass, Promotion, Target,
};

use crate::base::exceptions::type_name;
use crate::base::exceptions::CoreResultExt;
use crate::marshal::convert::{plain_to_py, to_value_for};
use crate::memory::allocation::Allocation;
use crate::memory::context::FfiContext;
use crate::memory::scratch::Lease;
use crate::objects::cdata::{Flavor, PyCData};

/// What a call keeps until it returns: temporary arrays made for bytes, str
/// and list arguments, and sandboxed `from_buffer` cdata whose guest copies go
/// back to their Python objects afterwards.
#[derive(Default)]
pub struct CallTemps {
    blocks: Vec<Arc<Allocation>>,
    write_backs: Vec<Py<PyCData>>,
    /// The context's scratch block, once this call has leased it.
    lease: Option<Lease>,
    /// Whether this call tried to lease it (once is enough: a busy block stays busy).
    lease_tried: bool,
}

impl CallTemps {
    /// `size` bytes (aligned to `align`) of `ctx`'s memory for a temporary the
    /// caller overwrites entirely at once, alive until the call returns: a piece
    /// of the context's scratch block for a sandboxed call that can lease it,
    /// else a block of its own (no guest `malloc`/`free` in the common case).
    pub fn overwrite_block(&mut self, ctx: &FfiContext, size: u64, align: u64) -> PyResult<Addr> {
        if ctx.sandbox().is_some() {
            if !self.lease_tried {
                self.lease_tried = true;
                self.lease = ctx.scratch.lease(&ctx.mem);
            }
            if let Some(addr) = self.lease.as_mut().and_then(|l| l.take(size, align)) {
                return Ok(addr);
            }
        }
        let block = Allocation::for_overwrite(&ctx.mem, size, align)?;
        let addr = block.addr();
        self.blocks.push(block);
        Ok(addr)
    }

    /// Keeps `block` alive until the call returns.
    pub fn keep(&mut self, block: Arc<Allocation>) {
        self.blocks.push(block);
    }

    /// After a call that returned normally: writes the `from_buffer` copies back,
    /// then frees the temporaries.
    pub fn finish(self, py: Python<'_>) -> PyResult<()> {
        for cdata in &self.write_backs {
            cdata.get().write_back_mirror(py)?;
        }
        Ok(())
    }
}

/// The positional arguments of a call: a tuple (`tp_call`) or the caller's
/// array (vectorcall, see `fastcall`).
#[derive(Clone, Copy)]
pub enum Args<'a, 'py> {
    Tuple(&'a Bound<'py, PyTuple>),
    Slice(&'a [&'a Bound<'py, PyAny>]),
}

impl<'a, 'py> Args<'a, 'py> {
    /// The number of arguments.
    pub fn len(self) -> usize {
        match self {
            Args::Tuple(t) => t.len(),
            Args::Slice(s) => s.len(),
        }
    }

    /// The arguments in order (borrowed: no reference counting per argument).
    pub fn iter(self) -> ArgsIter<'a, 'py> {
        match self {
            Args::Tuple(t) => ArgsIter::Tuple(t, 0),
            Args::Slice(s) => ArgsIter::Slice(s.iter()),
        }
    }
}

/// The iterator of [`Args::iter`].
pub enum ArgsIter<'a, 'py> {
    /// A tuple and the index of the next item.
    Tuple(&'a Bound<'py, PyTuple>, usize),
    Slice(std::slice::Iter<'a, &'a Bound<'py, PyAny>>),
}

impl<'a, 'py> Iterator for ArgsIter<'a, 'py> {
    type Item = pyo3::Borrowed<'a, 'py, PyAny>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            ArgsIter::Tuple(tuple, next) => {
                let item = tuple.get_borrowed_item(*next).ok()?;
                *next += 1;
                Some(item)
            }
            ArgsIter::Slice(items) => items.next().map(|item| item.as_borrowed()),
        }
    }
}

/// CFFI's error for a call of function-pointer type `ctype` with `given` arguments.
pub(crate) fn check_arity(ctype: &CType, sig: &FuncInfo, given: usize) -> PyResult<()> {
    let fixed = sig.params.len();
    if given < fixed || (!sig.variadic && given != fixed) {
        return Err(PyTypeError::new_err(format!(
            "'{}' expects {}{fixed} arguments, got {given}",
            ctype.cname(),
            if sig.variadic { "at least " } else { "" },
        )));
    }
    Ok(())
}

/// The one-word value of the most common arguments — a Python `int` in range
/// for an integer parameter, a Python `float` for a floating one — or `None`
/// to take the general path (which also makes every error message).
pub(crate) fn fast_word(param: &CType, arg: &Bound<'_, PyAny>) -> Option<u64> {
    let CKind::Prim(_, layout) = param.kind() else {
        return None;
    };
    match layout.class {
        // Plain 64-bit arithmetic: this runs for every integer argument.
        PrimClass::Int { signed: true } if arg.is_exact_instance_of::<pyo3::types::PyInt>() => {
            let value = arg.extract::<i64>().ok()?;
            let spare = 64u32.checked_sub(8 * layout.size as u32)?;
            // In range when the top `spare + 1` bits are all equal.
            (((value << spare) >> spare) == value).then_some(value as u64)
        }
        PrimClass::Int { signed: false } if arg.is_exact_instance_of::<pyo3::types::PyInt>() => {
            let value = arg.extract::<u64>().ok()?;
            let spare = 64u32.checked_sub(8 * layout.size as u32)?;
            (((value << spare) >> spare) == value).then_some(value)
        }
        PrimClass::Float if arg.is_exact_instance_of::<pyo3::types::PyFloat>() => {
            let value: f64 = arg.extract().ok()?;
            Some(if layout.size == 4 {
                u64::from((value as f32).to_bits())
            } else {
                value.to_bits()
            })
        }
        _ => None,
    }
}

/// The address passed for pointer parameter `param` by the most common pointer
/// arguments — a cdata in this FFI's memory that is a pointer of exactly the
/// parameter's type, or an array of its item type (`ffi.new("char[]", n)` for a
/// `char *`) — or `None` to take the general path (which finds the same address
/// after building a `Value`, and makes every error message).
pub(crate) fn fast_pointer(
    ctx: &Arc<FfiContext>,
    param: &CType,
    arg: &Bound<'_, PyAny>,
) -> Option<PyResult<Addr>> {
    let CKind::Pointer(item) = param.kind() else {
        return None;
    };
    let cdata = arg.cast::<PyCData>().ok()?.get();
    let same_type = match cdata.ctype.kind() {
        CKind::Pointer(_) => cdata.ctype == *param,
        CKind::Array { item: of, .. } => of == item,
        _ => false,
    };
    (same_type && Arc::ptr_eq(&cdata.ctx.mem, &ctx.mem) && !cdata.is_mirror())
        .then(|| cdata.check_alive().map(|()| cdata.addr))
}

/// The Python value of an integer, floating or pointer result held in `word`
/// (a pointer of the FFI's target, zero-extended), or `None` for other result
/// types.
// Inlined: out of line, its large `Option<PyResult<_>>` goes through memory,
// which cost a sandboxed `add` about 6 ns (measured).
#[inline]
pub(crate) fn fast_result(
    py: Python<'_>,
    ctx: &Arc<FfiContext>,
    ret: &CType,
    word: u64,
) -> Option<PyResult<Py<PyAny>>> {
    let layout = match ret.kind() {
        CKind::Prim(_, layout) => layout,
        CKind::Pointer(_) | CKind::Function(_) => {
            return Some(PyCData::plain(ctx, ret.clone(), word).into_py_any(py))
        }
        _ => return None,
    };
    Some(match layout.class {
        PrimClass::Int { signed } => {
            let value = extend(word, layout.size as u8, signed);
            if signed {
                (value as i64).into_py_any(py)
            } else {
                value.into_py_any(py)
            }
        }
        PrimClass::Float if layout.size == 4 => {
            f64::from(f32::from_bits(word as u32)).into_py_any(py)
        }
        PrimClass::Float => f64::from_bits(word).into_py_any(py),
        _ => return None,
    })
}

/// The bytes of argument `arg` for a parameter of type `param`.
/// TypeError for a cdata of another sandbox instance: its addresses mean
/// nothing in this one (host cdata of different FFIs share one address space).
fn check_same_sandbox(ctx: &Arc<FfiContext>, arg: &Bound<'_, PyAny>) -> PyResult<()> {
    let Ok(cdata) = arg.cast::<PyCData>() else {
        return Ok(());
    };
    let theirs = &cdata.get().ctx;
    if ctx.target() == Target::Wasm32
        && theirs.target() == Target::Wasm32
        && !Arc::ptr_eq(&theirs.mem, &ctx.mem)
    {
        return Err(PyTypeError::new_err(format!(
            "cdata '{}' belongs to another sandbox instance and cannot be passed to this one",
            cdata.get().ctype.cname()
        )));
    }
    Ok(())
}

/// The bytes of a `long double` cdata passed for a `long double` parameter of
/// the same target: copied as they are, with all their precision (a Python
/// float would keep only a double's).
fn long_double_bytes(
    ctx: &Arc<FfiContext>,
    param: &CType,
    arg: &Bound<'_, PyAny>,
) -> PyResult<Option<Vec<u8>>> {
    let is_long_double =
        |ty: &CType| matches!(ty.kind(), CKind::Prim(_, l) if l.class == PrimClass::LongDouble);
    let Ok(cdata) = arg.cast::<PyCData>() else {
        return Ok(None);
    };
    let cdata = cdata.get();
    if !is_long_double(param) || cdata.ctype != *param || ctx.target() != cdata.ctype.data().target
    {
        return Ok(None);
    }
    cdata.check_alive()?;
    let mut bytes = vec![0u8; param.size().unwrap_or(0) as usize];
    cdata.data_memory().read(cdata.addr, &mut bytes).py()?;
    Ok(Some(bytes))
}

pub(crate) fn encode_arg(
    ctx: &Arc<FfiContext>,
    param: &CType,
    arg: &Bound<'_, PyAny>,
    temps: &mut CallTemps,
) -> PyResult<Vec<u8>> {
    let takes_function = match param.kind() {
        CKind::Function(_) => true,
        CKind::Pointer(item) => matches!(item.kind(), CKind::Void),
        _ => false,
    };
    if takes_function {
        if let Some(pointer) = crate::base::function_object::function_pointer_of(arg) {
            // `lib.f` where C expects a function pointer or a `void *`: the address of `f`.
            return encode_arg(ctx, param, pointer?.bind(arg.py()), temps);
        }
    }
    if let (CKind::Pointer(item), Ok(bytes)) = (param.kind(), arg.cast::<PyBytes>()) {
        if takes_bytes(item) {
            let data = bytes.as_bytes();
            if ctx.target() == Target::Host {
                // As CFFI does: the C function gets the bytes object's own buffer
                // (NUL-terminated by CPython), alive for the whole call because the
                // caller holds `arg`.
                return Ok(pointer_bytes(ctx, data.as_ptr() as usize as Addr));
            }
            // In a sandbox: a NUL-terminated copy in guest memory, freed when the
            // call returns, made by one write into a block that is not zeroed
            // first (the generic path below would go through a `Value` and
            // convert per item).
            let addr = temps.overwrite_block(ctx, data.len() as u64 + 1, 1)?;
            let fill = &mut |dst: &mut [u8]| {
                let (text, nul) = dst.split_at_mut(data.len());
                text.copy_from_slice(data);
                nul.fill(0);
            };
            ctx.mem.write_with(addr, data.len() + 1, fill).py()?;
            return Ok(pointer_bytes(ctx, addr));
        }
    }
    if let Some(addr) = fast_pointer(ctx, param, arg) {
        return Ok(pointer_bytes(ctx, addr?));
    }
    check_same_sandbox(ctx, arg)?;
    if let Some(bytes) = long_double_bytes(ctx, param, arg)? {
        return Ok(bytes);
    }
    if let Ok(cdata) = arg.cast::<PyCData>() {
        if cdata.get().is_mirror() {
            cdata.get().refresh_mirror(arg.py())?;
            temps.write_backs.push(cdata.clone().unbind());
        }
    }
    let value = to_value_for(arg, param, ctx.target())?;
    match param.kind() {
        CKind::Prim(..) | CKind::Enum(_) => core::encode_prim(&*ctx.mem, param, &value).py(),
        CKind::Pointer(item) => {
            // As in CFFI, None is not NULL (pass ffi.NULL): it raises TypeError below.
            let temporary_array = match (&value, item.kind()) {
                (Value::List(_), _) => item.size().is_some(),
                (Value::Bytes(_), CKind::Prim(_, l)) => {
                    l.size == 1 && !matches!(l.class, PrimClass::Float)
                }
                (Value::Str(_), CKind::Prim(_, l)) => matches!(l.class, PrimClass::WideChar { .. }),
                _ => false,
            };
            let addr = match &value {
                _ if temporary_array => {
                    let array = ctx.open_array_of(item).py()?;
                    let block = temporary(ctx, &array, &value)?;
                    let addr = block.addr();
                    temps.blocks.push(block);
                    addr
                }
                // CFFI names the forms a `char *` takes when it gets none of them.
                Value::Str(_) if is_char_item(item) => {
                    return Err(PyTypeError::new_err(format!(
                        "initializer for ctype '{}' must be a bytes or list or tuple, not {}",
                        param.cname(),
                        value.type_name()
                    )))
                }
                _ => core::pointer_init(param, &value).py()?,
            };
            Ok(pointer_bytes(ctx, addr))
        }
        CKind::Function(_) => Ok(pointer_bytes(ctx, core::pointer_init(param, &value).py()?)),
        CKind::Record(_) => {
            let block = temporary(ctx, param, &value)?;
            let mut bytes = vec![0u8; param.size().unwrap_or(0) as usize];
            ctx.mem.read(block.addr(), &mut bytes).py()?;
            Ok(bytes)
        }
        CKind::Array { .. } | CKind::Void => Err(PyTypeError::new_err(format!(
            "ctype '{}' is not a valid argument type",
            param.cname()
        ))),
    }
}

/// True for `char` items (`char *` parameters take bytes).
fn is_char_item(item: &CType) -> bool {
    matches!(item.kind(), CKind::Prim(_, l) if l.class == PrimClass::Char)
}

/// True for the pointed-to types whose pointer parameters take a bytes object
/// as it is, as in CFFI: `void`, `char` and the one-byte integers.
fn takes_bytes(item: &CType) -> bool {
    match item.kind() {
        CKind::Void => true,
        CKind::Prim(_, l) => {
            l.class == PrimClass::Char || (l.size == 1 && matches!(l.class, PrimClass::Int { .. }))
        }
        _ => false,
    }
}

/// A zeroed block of `ty` (sized by `value` when `ty` is `T[]`) initialized from `value`.
fn temporary(ctx: &Arc<FfiContext>, ty: &CType, value: &Value) -> PyResult<Arc<Allocation>> {
    let size = match core::var_size(ty, value).py()? {
        Some(size) => size,
        None => ty.sizeof().py()?,
    };
    let block = Allocation::new(&ctx.mem, size, ty.align().unwrap_or(1))?;
    core::write_init(&*ctx.mem, block.addr(), ty, value).py()?;
    Ok(block)
}

fn pointer_bytes(ctx: &FfiContext, addr: Addr) -> Vec<u8> {
    let size = ctx.target().pointer_size() as usize;
    addr.to_le_bytes()[..size].to_vec()
}

/// The C type and bytes of argument `index` in the variadic part of a call:
/// it must be a cdata, and gets C's default argument promotions
/// (`layout::vararg_promotion`, `cdata::promoted_to_int`).
pub(crate) fn encode_vararg(
    ctx: &Arc<FfiContext>,
    index: usize,
    arg: &Bound<'_, PyAny>,
) -> PyResult<(CType, Vec<u8>)> {
    let Ok(cdata) = arg.cast::<PyCData>() else {
        return Err(PyTypeError::new_err(format!(
            "argument {} passed in the variadic part needs to be a cdata object (got {})",
            index + 1,
            type_name(arg)
        )));
    };
    let cdata = cdata.get();
    let promoted = |text: &str| ctx.parse_ctype(text).py();
    let encode = |ty: CType, value: &Value| {
        let bytes = core::encode_prim(&*ctx.mem, &ty, value).py()?;
        Ok((ty, bytes))
    };
    match (vararg_promotion(&cdata.ctype).py()?, cdata.ctype.kind()) {
        (Promotion::Int, CKind::Prim(_, layout)) => {
            let value = core::promoted_to_int(layout.class, cdata.as_value(ctx.target())?);
            encode(promoted("int")?, &value)
        }
        (Promotion::Double, _) => encode(promoted("double")?, &cdata.as_value(ctx.target())?),
        (Promotion::ItemPointer, CKind::Array { item, .. }) => {
            Ok((ctx.pointer_to(item).py()?, pointer_bytes(ctx, cdata.addr)))
        }
        (_, CKind::Pointer(_) | CKind::Function(_)) => {
            Ok((cdata.ctype.clone(), pointer_bytes(ctx, cdata.addr)))
        }
        (_, CKind::Record(_)) => {
            let mut bytes = vec![0u8; cdata.ctype.size().unwrap_or(0) as usize];
            ctx.mem.read(cdata.addr, &mut bytes).py()?;
            Ok((cdata.ctype.clone(), bytes))
        }
        _ => encode(cdata.ctype.clone(), &cdata.as_value(ctx.target())?),
    }
}

/// A C value of type `ty` held in `bytes` (host memory), as Python sees it.
pub(crate) fn value_from_bytes(
    py: Python<'_>,
    ctx: &Arc<FfiContext>,
    ty: &CType,
    bytes: &[u8],
) -> PyResult<Py<PyAny>> {
    let at = bytes.as_ptr() as usize as Addr;
    match ty.kind() {
        CKind::Void => Ok(py.None()),
        CKind::Prim(_, l) if l.class == PrimClass::LongDouble => {
            PyCData::value(ctx, ty.clone(), bytes)?.into_py_any(py)
        }
        CKind::Prim(..) | CKind::Enum(_) => {
            Ok(plain_to_py(py, &core::read_prim(&HostMemory, at, ty).py()?)?.unbind())
        }
        CKind::Pointer(_) | CKind::Function(_) => {
            // `bytes` holds a pointer of the FFI's target (4 bytes on wasm32).
            let mut word = [0u8; 8];
            let n = bytes.len().min(8);
            word[..n].copy_from_slice(&bytes[..n]);
            let addr = u64::from_le_bytes(word);
            PyCData::plain(ctx, ty.clone(), addr).into_py_any(py)
        }
        CKind::Record(_) | CKind::Array { .. } => {
            let block = Allocation::new(&ctx.mem, bytes.len() as u64, ty.align().unwrap_or(1))?;
            ctx.mem.write(block.addr(), bytes).py()?;
            let addr = block.addr();
            PyCData::plain(ctx, ty.clone(), addr)
                .with_owner(Some(block))
                .with_flavor(Flavor::Owning)
                .into_py_any(py)
        }
    }
}

/// The bytes of one callback argument: a value of up to a word (scalars and
/// pointers, nearly every argument) held inline, so reading it allocates nothing.
pub(crate) enum ArgBytes<'a> {
    /// The first `.1` bytes of `.0`.
    Word([u8; 8], usize),
    Other(Cow<'a, [u8]>),
}

impl ArgBytes<'_> {
    /// The first `len` (at most 8) little-endian bytes of `word`.
    pub(crate) fn word(word: u64, len: usize) -> Self {
        ArgBytes::Word(word.to_le_bytes(), len.min(8))
    }

    /// The `len` bytes at `addr` of `mem`.
    pub(crate) fn read(mem: &dyn Memory, addr: Addr, len: usize) -> PyResult<Self> {
        if len <= 8 {
            let mut word = [0u8; 8];
            mem.read(addr, &mut word[..len]).py()?;
            return Ok(ArgBytes::Word(word, len));
        }
        let mut bytes = vec![0u8; len];
        mem.read(addr, &mut bytes).py()?;
        Ok(ArgBytes::Other(Cow::Owned(bytes)))
    }
}

impl std::ops::Deref for ArgBytes<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            ArgBytes::Word(word, len) => &word[..*len],
            ArgBytes::Other(bytes) => bytes,
        }
    }
}

/// What a callback does with a Python exception: CFFI's `error` and `onerror`.
struct ErrorPolicy {
    /// The result bytes returned when the Python function raised.
    error_bytes: Vec<u8>,
    onerror: Option<Py<PyAny>>,
}

/// A Python function called from C with CFFI's callback rules: the arguments
/// converted from C, the result converted back, and an exception reported
/// (`onerror`, `sys.unraisablehook`) with the `error` value returned instead.
/// One implementation for `ffi.callback` on both targets and `extern "Python"`.
pub(crate) struct CallbackTarget {
    ctx: Arc<FfiContext>,
    function: Py<PyAny>,
    pub(crate) params: Vec<CType>,
    pub(crate) ret: CType,
    policy: ErrorPolicy,
}

impl CallbackTarget {
    /// Checks `function`, `error` and `onerror` for the function-pointer type
    /// `fptr` (of an `extern "Python"` function, or of `ffi.callback`).
    pub(crate) fn new(
        ctx: &Arc<FfiContext>,
        fptr: &CType,
        extern_python: bool,
        function: &Bound<'_, PyAny>,
        error: Option<&Bound<'_, PyAny>>,
        onerror: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let CKind::Function(sig) = fptr.kind() else {
            return Err(PyTypeError::new_err(format!(
                "expected a function ctype, got '{}'",
                fptr.cname()
            )));
        };
        if !function.is_callable() {
            // CFFI words this differently for `ffi.callback` and `def_extern`.
            return Err(PyTypeError::new_err(if extern_python {
                format!("expected a callable object, not {}", type_name(function))
            } else {
                "the 'python_callable' argument is not callable".to_owned()
            }));
        }
        // An extern "Python" function is API mode; a callback is what CFFI
        // makes with libffi, on both targets.
        let libffi_refuses = !extern_python
            && wasmcffi::layout::check_libffi_signature(&sig.ret, &sig.params).is_err();
        if sig.variadic || libffi_refuses {
            return Err(pyo3::exceptions::PyNotImplementedError::new_err(format!(
                "{}: callback with unsupported argument or return type or with '...'",
                fptr.cname()
            )));
        }
        if let Some(onerror) = onerror.filter(|o| !o.is_none()) {
            if !onerror.is_callable() {
                return Err(PyTypeError::new_err(format!(
                    "expected a callable object for 'onerror', not {}",
                    type_name(onerror)
                )));
            }
        }
        let ret_size = result_size(&sig.ret);
        let error_bytes = match error.filter(|e| !e.is_none()) {
            Some(error) if ret_size > 0 => encode_result(ctx, &sig.ret, error)?,
            _ => vec![0u8; ret_size],
        };
        Ok(CallbackTarget {
            ctx: ctx.clone(),
            function: function.clone().unbind(),
            params: sig.params.clone(),
            ret: sig.ret.clone(),
            policy: ErrorPolicy {
                error_bytes,
                onerror: onerror.filter(|o| !o.is_none()).map(|o| o.clone().unbind()),
            },
        })
    }

    /// The Python function.
    pub(crate) fn function(&self) -> &Py<PyAny> {
        &self.function
    }

    /// The parameter types.
    pub(crate) fn params(&self) -> &[CType] {
        &self.params
    }

    /// The result type.
    pub(crate) fn ret(&self) -> &CType {
        &self.ret
    }

    /// Runs the Python function with the arguments `read_arg(i, type)` gives (the
    /// bytes of a value of the parameter's type) and returns the bytes of the
    /// result (empty for `void`). A failure reading an argument counts as an
    /// exception of the call.
    pub(crate) fn invoke<'a>(
        &self,
        py: Python<'_>,
        mut read_arg: impl FnMut(usize, &CType) -> PyResult<ArgBytes<'a>>,
    ) -> Vec<u8> {
        let ctx = &self.ctx;
        let called = (|| -> PyResult<Py<PyAny>> {
            let mut py_args = Vec::with_capacity(self.params.len());
            for (i, ty) in self.params.iter().enumerate() {
                let bytes = read_arg(i, ty)?;
                let mut word = [0u8; 8];
                let n = bytes.len().min(8);
                word[..n].copy_from_slice(&bytes[..n]);
                py_args.push(match fast_result(py, ctx, ty, u64::from_le_bytes(word)) {
                    Some(value) => value?,
                    None => value_from_bytes(py, ctx, ty, &bytes)?,
                });
            }
            self.function.call1(py, PyTuple::new(py, py_args)?)
        })();
        let outcome = match called {
            Ok(out) if matches!(self.ret.kind(), CKind::Void) => {
                if out.is_none(py) {
                    Ok(Vec::new())
                } else {
                    let err = PyTypeError::new_err(
                        "callback with the return type 'void' must return None",
                    );
                    Err((err, Stage::Result))
                }
            }
            Ok(out) => match fast_word(&self.ret, out.bind(py)) {
                Some(word) => Ok(word.to_le_bytes()[..result_size(&self.ret).min(8)].to_vec()),
                None => encode_result(ctx, &self.ret, out.bind(py)).map_err(|e| (e, Stage::Result)),
            },
            Err(err) => Err((err, Stage::Call)),
        };
        match outcome {
            Ok(bytes) => bytes,
            Err((err, stage)) => {
                handle_error(py, ctx, &self.function, &self.ret, &self.policy, err, stage)
            }
        }
    }
}

/// The size of a result of type `ret` (0 for `void`).
pub(crate) fn result_size(ret: &CType) -> usize {
    if matches!(ret.kind(), CKind::Void) {
        0
    } else {
        ret.size().unwrap_or(0) as usize
    }
}

/// The bytes of a Python value returned by a callback for a result of type `ret`.
pub(crate) fn encode_result(
    ctx: &Arc<FfiContext>,
    ret: &CType,
    value: &Bound<'_, PyAny>,
) -> PyResult<Vec<u8>> {
    let value = to_value_for(value, ret, ctx.target())?;
    match ret.kind() {
        CKind::Prim(..) | CKind::Enum(_) => core::encode_prim(&*ctx.mem, ret, &value).py(),
        CKind::Pointer(_) | CKind::Function(_) => {
            let addr = if matches!(value, Value::None) {
                0
            } else {
                core::pointer_init(ret, &value).py()?
            };
            Ok(pointer_bytes(ctx, addr))
        }
        _ => {
            let block = temporary(ctx, ret, &value)?;
            let mut bytes = vec![0u8; ret.size().unwrap_or(0) as usize];
            ctx.mem.read(block.addr(), &mut bytes).py()?;
            Ok(bytes)
        }
    }
}

/// Where a callback failed: in the Python function, or converting its result.
#[derive(Clone, Copy)]
enum Stage {
    Call,
    Result,
}

/// CFFI's rules for an exception in a callback: `onerror(exc, value, tb)` if
/// given (a non-None result of it is returned), else the exception goes to
/// `sys.unraisablehook`; either way the `error` value is the fallback result.
fn handle_error(
    py: Python<'_>,
    ctx: &Arc<FfiContext>,
    function: &Py<PyAny>,
    ret: &CType,
    policy: &ErrorPolicy,
    err: PyErr,
    stage: Stage,
) -> Vec<u8> {
    let Some(onerror) = &policy.onerror else {
        report_callback_error(py, function, &err, stage);
        return policy.error_bytes.clone();
    };
    let tb = err
        .traceback(py)
        .map_or_else(|| py.None(), |t| t.into_any().unbind());
    match onerror.call1(py, (err.get_type(py), err.value(py).clone(), tb)) {
        Ok(out) if out.is_none(py) || matches!(ret.kind(), CKind::Void) => {}
        Ok(out) => match encode_result(ctx, ret, out.bind(py)) {
            Ok(bytes) => return bytes,
            Err(conv) => {
                report_callback_error(py, function, &err, stage);
                report_callback_error(py, function, &conv, Stage::Result);
            }
        },
        Err(inner) => {
            report_callback_error(py, function, &err, stage);
            report(
                py,
                &inner,
                "Exception ignored during handling of the above exception by 'onerror'".to_owned(),
            );
        }
    }
    policy.error_bytes.clone()
}

/// Reports a callback's exception with CFFI's message.
fn report_callback_error(py: Python<'_>, function: &Py<PyAny>, err: &PyErr, stage: Stage) {
    let name = function
        .bind(py)
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "?".into());
    let msg = match stage {
        Stage::Call => format!("Exception ignored from cffi callback {name}"),
        Stage::Result => format!(
            "Exception ignored from cffi callback {name}, trying to convert the result back to C"
        ),
    };
    report(py, err, msg);
}

/// Hands an exception to `sys.unraisablehook` (through `wasmcffi._unraisable`).
fn report(py: Python<'_>, err: &PyErr, msg: String) {
    let reported = py
        .import("wasmcffi._unraisable")
        .and_then(|m| m.getattr("report"))
        .and_then(|report| report.call1((err.value(py).clone(), err.traceback(py), msg)));
    if let Err(failure) = reported {
        failure.write_unraisable(py, None);
    }
}
