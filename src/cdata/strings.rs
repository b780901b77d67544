//! `ffi.string()` and `ffi.unpack()`, and the UTF-16/UTF-32 code-unit
//! conversions of `char16_t`, `char32_t` and `wchar_t` data.

#![forbid(unsafe_code)]
// Encodings here truncate on purpose (C's integer and float conversions, code
// units), so `clippy::cast_possible_truncation` is not enabled in this module.

use crate::error::{Error, Result};
use crate::layout::{CKind, CType, PrimClass, PrimLayout};

use super::convert::{read_pointer, StringResult};
use super::prim::{code_point, read_int, read_prim_value, read_uint};
use super::repr::pointer_cname;
use super::{Addr, Memory, Value};

/// Code units of `s` for wide chars of `unit_size` bytes: UTF-16 with
/// surrogate pairs for 2 bytes, code points unchanged for 4.
pub fn encode_wide(s: &[u32], unit_size: u64) -> Vec<u32> {
    if unit_size != 2 {
        return s.to_vec();
    }
    let mut out = Vec::with_capacity(s.len());
    for &cp in s {
        if cp > 0xFFFF {
            let c = cp - 0x10000;
            out.push(0xD800 | (c >> 10));
            out.push(0xDC00 | (c & 0x3FF));
        } else {
            out.push(cp);
        }
    }
    out
}

/// Code points of wide-char code units: surrogate pairs of 2-byte units are
/// joined, lone surrogates kept; 4-byte units must be valid code points.
///
/// # Errors
/// `Error::Value` for a 4-byte unit beyond U+10FFFF (or negative `wchar_t`).
pub fn decode_wide(units: &[i128], unit_size: u64) -> Result<Vec<u32>> {
    let mut out = Vec::with_capacity(units.len());
    let mut i = 0;
    while i < units.len() {
        let u = code_point(units[i])?;
        if unit_size == 2 && (0xD800..0xDC00).contains(&u) {
            if let Some(&next) = units.get(i + 1) {
                if (0xDC00..0xE000).contains(&next) {
                    out.push(0x10000 + ((u - 0xD800) << 10) + (next as u32 - 0xDC00));
                    i += 2;
                    continue;
                }
            }
        }
        out.push(u);
        i += 1;
    }
    Ok(out)
}

/// The value of one code unit of layout `l` (little-endian bytes).
fn unit_value(unit: &[u8], l: PrimLayout) -> i128 {
    let mut b = [0u8; 16];
    b[..unit.len()].copy_from_slice(unit);
    let raw = u128::from_le_bytes(b);
    match l.class {
        PrimClass::WideChar { signed: true } => {
            let shift = 128 - 8 * l.size as u32;
            ((raw << shift) as i128) >> shift
        }
        _ => raw as i128,
    }
}

/// The bytes of the units of `size` bytes from `addr` up to (not including) the
/// first zero unit, at most `limit` units. The host keeps the raw bytes only (no
/// wider copy), so a string as long as a sandbox's memory costs the host that
/// much, not a multiple of it.
fn read_until_nul(
    mem: &dyn Memory,
    addr: Addr,
    l: PrimLayout,
    limit: Option<u64>,
) -> Result<Vec<u8>> {
    const CHUNK: u64 = 256;
    const PAGE: u64 = 4096;
    let size = l.size as usize;
    let mut out: Vec<u8> = Vec::new();
    let mut at = addr;
    loop {
        let count = (out.len() / size) as u64;
        let room = limit.map_or(CHUNK, |m| m.saturating_sub(count).min(CHUNK));
        if room == 0 {
            return Ok(out);
        }
        // Never read past the page holding the next unit: bytes after the NUL may be
        // unmapped in host memory.
        let room = room.min(((PAGE - at % PAGE) / l.size).max(1));
        // Scan the chunk where the memory lends it (no copy of the bytes past the NUL).
        let mut ended = false;
        let mut scan = |chunk: &[u8]| {
            let end = match size {
                1 => chunk.iter().position(|&byte| byte == 0),
                _ => chunk
                    .chunks(size)
                    .position(|unit| unit_value(unit, l) == 0)
                    .map(|units| units * size),
            };
            ended = end.is_some();
            out.extend_from_slice(&chunk[..end.unwrap_or(chunk.len())]);
        };
        // A chunk may run past the end of a sandbox's memory although the string ends
        // before it: fall back to one unit at a time.
        let got = if mem
            .read_with(at, (room * l.size) as usize, &mut scan)
            .is_ok()
        {
            room
        } else {
            mem.read_with(at, size, &mut scan)?;
            1
        };
        if ended {
            return Ok(out);
        }
        at = at
            .checked_add(got * l.size)
            .ok_or_else(|| Error::Memory("string runs past the end of memory".into()))?;
    }
}

/// The code units of `bytes` (whole units of layout `l`).
fn units_of(bytes: &[u8], l: PrimLayout) -> Vec<i128> {
    bytes
        .chunks(l.size as usize)
        .map(|unit| unit_value(unit, l))
        .collect()
}

/// `ffi.string()` (see [`super::string`]).
pub(crate) fn string(
    mem: &dyn Memory,
    ty: &CType,
    addr: Addr,
    maxlen: Option<u64>,
) -> Result<StringResult> {
    let unexpected = || {
        Error::Type(format!(
            "string(): unexpected cdata '{}' argument",
            ty.cname()
        ))
    };
    match ty.kind() {
        CKind::Pointer(item) | CKind::Array { item, .. } => {
            let il = match item.kind() {
                CKind::Prim(_, l) => *l,
                CKind::Enum(e) => e.repr,
                _ => return Err(unexpected()),
            };
            if matches!(
                il.class,
                PrimClass::Bool | PrimClass::Float | PrimClass::LongDouble | PrimClass::Complex
            ) {
                return Err(unexpected());
            }
            if addr == 0 {
                crate::bail!(
                    Runtime,
                    "cannot use string() on <cdata '{}' NULL>",
                    ty.cname()
                );
            }
            let limit = match (ty.kind(), maxlen) {
                (CKind::Array { len: Some(n), .. }, m) => Some(m.map_or(*n, |m| m.min(*n))),
                (_, m) => m,
            };
            let is_enum = matches!(item.kind(), CKind::Enum(_));
            match il.class {
                PrimClass::Char | PrimClass::Int { .. } if il.size == 1 && !is_enum => {
                    Ok(StringResult::Bytes(read_until_nul(mem, addr, il, limit)?))
                }
                PrimClass::WideChar { .. } => Ok(StringResult::Str(decode_wide(
                    &units_of(&read_until_nul(mem, addr, il, limit)?, il),
                    il.size,
                )?)),
                _ => Err(unexpected()),
            }
        }
        CKind::Prim(_, l) => match l.class {
            PrimClass::Char => Ok(StringResult::Bytes(vec![read_uint(mem, addr, 1)? as u8])),
            PrimClass::WideChar { .. } => Ok(StringResult::Str(vec![code_point(read_int(
                mem, addr, *l,
            )?)?])),
            _ => Err(unexpected()),
        },
        CKind::Enum(e) => {
            let v = read_int(mem, addr, e.repr)?;
            let text = match e.values.iter().find(|(_, x)| *x == v) {
                Some((name, _)) => name.clone(),
                None => v.to_string(),
            };
            Ok(StringResult::Str(text.chars().map(u32::from).collect()))
        }
        _ => Err(unexpected()),
    }
}

/// `ffi.unpack()` (see [`super::unpack`]).
pub(crate) fn unpack(mem: &dyn Memory, item: &CType, addr: Addr, length: u64) -> Result<Value> {
    if addr == 0 {
        crate::bail!(
            Runtime,
            "cannot use unpack() on <cdata '{}' NULL>",
            pointer_cname(item)
        );
    }
    let size = item.size().ok_or_else(|| {
        Error::Value(format!(
            "'{}' points to items of unknown size",
            pointer_cname(item)
        ))
    })?;
    let total = length
        .checked_mul(size)
        .ok_or_else(|| Error::Overflow("unpack() length is too large".into()))?;
    // Before building anything: a length from a guest must not make the host
    // allocate more than the guest's memory holds.
    mem.check_range(addr, total)?;
    if let CKind::Prim(_, l) = item.kind() {
        match l.class {
            PrimClass::Char => return Ok(Value::Bytes(mem.read_vec(addr, total)?)),
            PrimClass::WideChar { .. } => {
                let mut units = Vec::new();
                for i in 0..length {
                    units.push(read_int(mem, addr + i * size, *l)?);
                }
                return Ok(Value::Str(decode_wide(&units, size)?));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for i in 0..length {
        let at = addr + i * size; // cannot overflow: `total` did not, and it is a range in memory
        out.push(item_value(mem, item, at)?);
    }
    Ok(Value::List(out))
}

/// One item as `unpack` and `p[i]` return it: primitives converted (`long double`
/// kept as a view), pointers as pointer cdata, aggregates as views.
fn item_value(mem: &dyn Memory, item: &CType, at: Addr) -> Result<Value> {
    match item.kind() {
        CKind::Prim(_, l) if l.class == PrimClass::LongDouble => Ok(Value::CData {
            ty: item.clone(),
            addr: at,
        }),
        CKind::Prim(..) | CKind::Enum(_) => read_prim_value(mem, at, item),
        CKind::Pointer(_) | CKind::Function(_) => Ok(Value::CData {
            ty: item.clone(),
            addr: read_pointer(mem, at)?,
        }),
        _ => Ok(Value::CData {
            ty: item.clone(),
            addr: at,
        }),
    }
}
