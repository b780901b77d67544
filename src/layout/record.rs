//! Struct and union layout: field offsets, bitfields, packing, flexible arrays.
//!
//! The algorithm is CFFI's `complete_struct_or_union()` in its GCC flavour, which
//! is also what x86-64 System V gcc and wasm32 clang do:
//!
//! - Each field is aligned to its natural alignment, capped at `pack` when the
//!   record has a [`Packing::max_align`]. The record's alignment is the largest
//!   field alignment, except that unnamed bitfields do not count (GCC).
//! - A bitfield of type `T` lives in a `sizeof(T)`-byte unit aligned to
//!   `alignof(T)` (capped by `pack`): it goes at the next free bit if it fits in
//!   the unit that contains that bit, else at the start of the next unit.
//!   `T : 0` pads to the next unit boundary.
//! - With `pack=1` (`packed=True`) the unit is byte-aligned, so bitfields pack at
//!   bit granularity as with GCC's `__attribute__((packed))`. The one case GCC
//!   handles that CFFI's model cannot (a packed bitfield straddling its unit and
//!   starting mid-byte) is refused with CFFI's `NotImplementedError`.
//! - Members of anonymous nested structs and unions are lifted into the parent
//!   with absolute offsets; in a union, every member after the first (and all
//!   that it lifts) is skipped by positional initializers.
//! - A last field `T x[]` is a flexible array member: it takes no room, and the
//!   record, like any record containing such a record, is variable-size.
//! - A record whose fields take no room has size 1, as in CFFI.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::model::{Packing, RecordKind};

use super::{CKind, CType, FieldLayout, PrimClass, RecordLayout};

/// One declared member of a record, with its type already resolved.
pub(super) struct FieldInput<'a> {
    /// Empty for anonymous struct/union members and unnamed bitfields.
    pub name: &'a str,
    pub ty: CType,
    /// `Some(n)` for a bitfield `: n`.
    pub bits: Option<u32>,
}

/// Running position inside the record being laid out, in bytes plus 0..8 bits.
#[derive(Clone, Copy, Default)]
struct Cursor {
    byte: u64,
    bit: u64,
}

impl Cursor {
    /// The first whole byte at or after the cursor.
    fn rounded(self) -> Result<u64> {
        self.byte
            .checked_add(u64::from(self.bit > 0))
            .ok_or_else(too_large)
    }
}

/// Lays out the fields of the record called `cname` (its CFFI name, for messages).
///
/// `max_size` is the largest object the target allows.
///
/// # Errors
/// CFFI's errors for fields it refuses (`TypeError` → [`Error::Type`]: unknown
/// size, bad bitfield type or width, named `:0`; [`Error::Key`] for a duplicate
/// name; [`Error::NotImplemented`] for a packed bitfield GCC would split), and
/// [`Error::Overflow`] when the record would exceed `max_size`.
pub(super) fn lay_out(
    cname: &str,
    kind: RecordKind,
    packing: Packing,
    fields: &[FieldInput<'_>],
    max_size: u64,
) -> Result<RecordLayout> {
    let pack = match packing.max_align {
        None => u64::MAX,
        Some(n) if n.is_power_of_two() => n,
        Some(n) => {
            return Err(Error::Value(format!(
                "'pack' must be a power of two, not {n}"
            )))
        }
    };
    let sf_packed = pack == 1;
    let is_union = kind == RecordKind::Union;

    let mut out: Vec<FieldLayout> = Vec::with_capacity(fields.len());
    let mut names: HashSet<String> = HashSet::new();
    let mut cur = Cursor::default();
    let mut max_byte = 0u64;
    let mut alignment = 1u64;
    let mut with_var_array = false;
    let mut custom_field_pos = false;
    let mut packed_change = false;

    for (i, field) in fields.iter().enumerate() {
        let ty = &field.ty;
        let fname = field.name;
        let fsize = ty.size();
        match (fsize, ty.kind()) {
            (None, CKind::Array { .. }) if field.bits.is_none() && i + 1 == fields.len() => {
                with_var_array = true;
            }
            (None, _) => {
                return Err(Error::Type(format!(
                    "field '{cname}.{fname}' has ctype '{}' of unknown size",
                    ty.cname()
                )))
            }
            (Some(_), CKind::Record(_)) => {
                // As GCC, accept a variable-size struct anywhere, and propagate the flag.
                with_var_array |= ty.record_layout().is_some_and(|l| l.has_flexible_array);
            }
            (Some(_), _) => {}
        }
        if is_union {
            cur = Cursor::default();
        }
        let falign_org = ty.align().unwrap_or(1).max(1);
        let falign = falign_org.min(pack);
        // GCC: unnamed bitfields (of any width) do not affect the record's alignment.
        if (field.bits.is_none() || !fname.is_empty()) && alignment < falign {
            alignment = falign;
        }
        let skip = is_union && i > 0;

        match field.bits {
            None => {
                let start = cur.rounded()?;
                cur = Cursor {
                    byte: align_up(start, falign)?,
                    bit: 0,
                };
                packed_change |= cur.byte != align_up(start, falign_org)?;
                match (fname.is_empty(), ty.record_layout()) {
                    (true, Some(nested)) => {
                        custom_field_pos = true;
                        for sub in &nested.fields {
                            let offset = cur.byte.checked_add(sub.offset).ok_or_else(too_large)?;
                            push_field(
                                &mut out,
                                &mut names,
                                FieldLayout {
                                    name: sub.name.clone(),
                                    ty: sub.ty.clone(),
                                    offset,
                                    bitshift: sub.bitshift,
                                    bitsize: sub.bitsize,
                                    skip_in_positional_init: sub.skip_in_positional_init || skip,
                                },
                            )?;
                        }
                    }
                    _ => push_field(
                        &mut out,
                        &mut names,
                        FieldLayout {
                            name: fname.to_owned(),
                            ty: ty.clone(),
                            offset: cur.byte,
                            // CFFI's BS_EMPTY_ARRAY (-2) for `T x[]` and `T x[0]`, else BS_REGULAR (-1).
                            bitshift: if matches!(
                                ty.kind(),
                                CKind::Array {
                                    len: None | Some(0),
                                    ..
                                }
                            ) {
                                -2
                            } else {
                                -1
                            },
                            bitsize: -1,
                            skip_in_positional_init: skip,
                        },
                    )?,
                }
                cur.byte = cur
                    .byte
                    .checked_add(fsize.unwrap_or(0))
                    .ok_or_else(too_large)?;
            }
            Some(bits) => {
                check_bitfield(cname, fname, ty, bits)?;
                let unit_bits = fsize.unwrap_or(0).saturating_mul(8);
                let mut unit = cur.byte & !(falign - 1);
                if bits == 0 {
                    // GCC's `T : 0`: pad to the next `T`-aligned boundary.
                    if cur.rounded()? > unit {
                        unit = unit.checked_add(falign).ok_or_else(too_large)?;
                    }
                    cur = Cursor { byte: unit, bit: 0 };
                } else {
                    let occupied = (cur.byte - unit) * 8 + cur.bit;
                    let bitshift = if occupied + u64::from(bits) > unit_bits {
                        if sf_packed && occupied % 8 != 0 {
                            return Err(Error::NotImplemented(format!(
                                "with 'packed', gcc would compile field '{cname}.{fname}' \
                                 to reuse some bits in the previous field"
                            )));
                        }
                        unit = unit.checked_add(falign).ok_or_else(too_large)?;
                        cur = Cursor { byte: unit, bit: 0 };
                        0
                    } else {
                        occupied
                    };
                    let end_bit = cur.bit + u64::from(bits);
                    cur = Cursor {
                        byte: cur.byte.checked_add(end_bit >> 3).ok_or_else(too_large)?,
                        bit: end_bit & 7,
                    };
                    if !fname.is_empty() {
                        push_field(
                            &mut out,
                            &mut names,
                            FieldLayout {
                                name: fname.to_owned(),
                                ty: ty.clone(),
                                offset: unit,
                                // Both fit: a unit is at most 16 bytes (128 bits).
                                bitshift: i32::try_from(bitshift).map_err(|_| too_large())?,
                                bitsize: i32::try_from(bits).map_err(|_| too_large())?,
                                skip_in_positional_init: skip,
                            },
                        )?;
                    }
                }
            }
        }
        max_byte = max_byte.max(cur.rounded()?);
    }

    let size = align_up(max_byte, alignment)?.max(1);
    if size > max_size {
        return Err(Error::Overflow(format!("ctype '{cname}' is too large")));
    }
    Ok(RecordLayout {
        size,
        align: alignment,
        fields: out,
        has_flexible_array: with_var_array,
        custom_field_pos,
        packed_change,
    })
}

/// Refuses bitfields CFFI (and C) refuse: non-integer types, widths wider than
/// the type, and named zero-width ones.
fn check_bitfield(cname: &str, fname: &str, ty: &CType, bits: u32) -> Result<()> {
    let integral = match ty.kind() {
        CKind::Prim(_, l) => matches!(
            l.class,
            PrimClass::Int { .. } | PrimClass::Char | PrimClass::WideChar { .. } | PrimClass::Bool
        ),
        CKind::Enum(_) => true,
        _ => false,
    };
    if !integral {
        return Err(Error::Type(format!(
            "field '{cname}.{fname}' declared as '{}' cannot be a bit field",
            ty.cname()
        )));
    }
    if u64::from(bits) > ty.size().unwrap_or(0).saturating_mul(8) {
        return Err(Error::Type(format!(
            "bit field '{cname}.{fname}' is declared '{}:{bits}', which exceeds the width of the type",
            ty.cname()
        )));
    }
    if bits == 0 && !fname.is_empty() {
        return Err(Error::Type(format!(
            "field '{cname}.{fname}' is declared with :0"
        )));
    }
    Ok(())
}

/// Appends a field, refusing a name already used (CFFI's `KeyError`).
fn push_field(
    out: &mut Vec<FieldLayout>,
    names: &mut HashSet<String>,
    field: FieldLayout,
) -> Result<()> {
    if !field.name.is_empty() && !names.insert(field.name.clone()) {
        return Err(Error::Key(format!("duplicate field name '{}'", field.name)));
    }
    out.push(field);
    Ok(())
}

/// `x` rounded up to a multiple of `align` (a power of two).
fn align_up(x: u64, align: u64) -> Result<u64> {
    let mask = align - 1;
    Ok(x.checked_add(mask).ok_or_else(too_large)? & !mask)
}

fn too_large() -> Error {
    Error::Overflow("array size would overflow a Py_ssize_t".to_owned())
}
