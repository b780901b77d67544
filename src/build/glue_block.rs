//! The block of one call through a glue wrapper `_cffi_f_NAME(void **args,
//! void *result)`: where the `args` pointer table, the result slot and each
//! argument's value go, the same on both targets.
#![forbid(unsafe_code)]

/// Offsets, from the start of the block, of one call's parts: first the
/// pointer table (one pointer per argument, each to that argument's value),
/// then the result slot, then the values, each part 8-aligned (the block
/// itself must be 8-aligned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlueBlock {
    /// The size of the block in bytes (a multiple of 8).
    pub size: u64,
    /// Where the result goes (at least 8 bytes, even for `void`).
    pub result_at: u64,
    /// Where each argument's value goes.
    pub arg_offsets: Vec<u64>,
    pointer_size: u64,
}

impl GlueBlock {
    /// The block for arguments of `arg_sizes` bytes and a result of
    /// `result_size` bytes, with pointers of `pointer_size` bytes.
    pub fn new(arg_sizes: &[usize], result_size: usize, pointer_size: u64) -> GlueBlock {
        let round = |n: u64| n.div_ceil(8) * 8;
        let result_at = round(pointer_size * arg_sizes.len() as u64);
        let mut at = result_at + round(result_size.max(8) as u64);
        let mut arg_offsets = Vec::with_capacity(arg_sizes.len());
        for &size in arg_sizes {
            arg_offsets.push(at);
            at += round(size.max(1) as u64);
        }
        GlueBlock {
            size: at,
            result_at,
            arg_offsets,
            pointer_size,
        }
    }

    /// The pointer table of a block at address `base` (little-endian, as both
    /// targets store pointers).
    pub fn pointer_table(&self, base: u64) -> Vec<u8> {
        let width = self.pointer_size as usize;
        self.arg_offsets
            .iter()
            .flat_map(|offset| (base + offset).to_le_bytes().into_iter().take(width))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::GlueBlock;

    #[test]
    fn table_then_result_then_eight_aligned_values() {
        // wasm32: three arguments (an int, a 12-byte struct, a double), a 16-byte result.
        let block = GlueBlock::new(&[4, 12, 8], 16, 4);
        assert_eq!(block.result_at, 16); // 3 pointers of 4 bytes, rounded to 8
        assert_eq!(block.arg_offsets, vec![32, 40, 56]);
        assert_eq!(block.size, 64);
        let table = block.pointer_table(0x1000);
        assert_eq!(table.len(), 12);
        assert_eq!(&table[4..8], &(0x1000u32 + 40).to_le_bytes());
    }

    #[test]
    fn void_results_and_empty_values_still_get_a_slot() {
        // Host: no arguments, a void result: the result slot is 8 bytes.
        let block = GlueBlock::new(&[], 0, 8);
        assert_eq!((block.result_at, block.size), (0, 8));
        let block = GlueBlock::new(&[0], 0, 8);
        assert_eq!(block.arg_offsets, vec![16]);
        assert_eq!(block.size, 24);
        assert_eq!(
            block.pointer_table(0x10),
            (0x10u64 + 16).to_le_bytes().to_vec()
        );
    }
}
