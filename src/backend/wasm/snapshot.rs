//! A sandbox's state between calls as pages of its linear memory, and a fresh
//! instance brought to such a state.
//!
//! Between calls the whole state of a guest is its linear memory: the C stack
//! is empty, so the one mutable wasm global a wasmcffi module has (the stack
//! pointer, which wasm-ld does not export) is back at its start value, and
//! wasm32 without threads keeps thread-local storage in memory too. Host
//! functions put in the function table (`ffi.callback`) and `ffi.new_handle`
//! handles belong to the host process and are not part of it: a restored
//! guest that calls one traps, as it would after they were released.

use super::sandbox::Sandbox;
use crate::bail;
use crate::error::{Error, Result};

/// The unit of a memory image: one wasm page.
pub const PAGE_SIZE: usize = 65536;

impl Sandbox {
    /// Runs `f` with the instance's linear memory, taken between calls, and the
    /// indexes (ascending) of its pages that hold a non-zero byte: what a
    /// snapshot keeps. `f` reads the pages in place, so a snapshot copies them
    /// once, into its own buffer.
    ///
    /// # Errors
    /// `Error::Runtime` from inside a call into this sandbox (its stack is in
    /// use); `Error::Trap` when the instance is poisoned (its memory may be
    /// inconsistent).
    pub fn with_memory_pages<R>(&self, f: impl FnOnce(&[u8], &[u32]) -> R) -> Result<R> {
        self.check_between_calls("snapshot")?;
        self.with_store(false, |store| {
            let memory = store.data().host.handles.as_ref().and_then(|h| h.memory);
            let data = memory.map(|m| m.data(&store)).unwrap_or_default();
            let indexes: Vec<u32> = (0..)
                .zip(data.chunks(PAGE_SIZE))
                .filter(|(_, page)| page.iter().any(|&b| b != 0))
                .map(|(index, _)| index)
                .collect();
            Ok(f(data, &indexes))
        })
    }

    /// Makes the instance's linear memory `size` bytes (grown within the
    /// memory limit), zero except for the pages at `indexes`, whose bytes follow
    /// one another in `data`.
    ///
    /// # Errors
    /// `Error::Value` for pages that do not describe a memory (indexes out of
    /// order or beyond the size, data of another length, a size not a whole
    /// number of pages or smaller than the memory is); `Error::Memory` beyond the
    /// memory limit; `Error::Runtime` / `Error::Trap` as [`Sandbox::with_memory_pages`].
    pub fn restore_memory_pages(&self, size: u64, indexes: &[u32], data: &[u8]) -> Result<()> {
        self.check_between_calls("restore a snapshot")?;
        check_pages(size, indexes, data)?;
        self.with_store(false, |mut store| {
            let Some(memory) = store.data().host.handles.as_ref().and_then(|h| h.memory) else {
                return Err(Error::Value("this module has no linear memory".into()).into());
            };
            let current = memory.data_size(&store) as u64;
            if size < current {
                return Err(Error::Value(format!(
                    "the snapshot's memory ({size} bytes) is smaller than a fresh instance's ({current} bytes)"
                ))
                .into());
            }
            let grow = (size - current) / PAGE_SIZE as u64;
            if grow > 0 && memory.grow(&mut store, grow).is_err() {
                return Err(Error::Memory(format!(
                    "the snapshot needs {size} bytes of linear memory, beyond this instance's memory limit"
                ))
                .into());
            }
            let linear = memory.data_mut(&mut store);
            linear.fill(0);
            for (index, page) in indexes.iter().zip(data.chunks(PAGE_SIZE)) {
                let start = *index as usize * PAGE_SIZE;
                linear[start..start + PAGE_SIZE].copy_from_slice(page);
            }
            Ok(())
        })
    }

    fn check_between_calls(&self, what: &str) -> Result<()> {
        if self.is_entered_by_current_thread() {
            bail!(
                Runtime,
                "cannot {what} inside a call into the same sandbox: its state is only whole between calls"
            );
        }
        if let Some(why) = self.poisoned()? {
            bail!(Trap, "cannot {what} of a poisoned instance: {why}");
        }
        Ok(())
    }
}

/// Checks that `indexes` and `data` describe the pages of a wasm32 memory of
/// `size` bytes before any of it is applied.
fn check_pages(size: u64, indexes: &[u32], data: &[u8]) -> Result<()> {
    let page = PAGE_SIZE as u64;
    if size % page != 0 || size > 1 << 32 {
        bail!(
            Value,
            "a memory of {size} bytes is not a whole number of wasm pages within 4 GiB"
        );
    }
    if data.len() as u64 != indexes.len() as u64 * page {
        bail!(
            Value,
            "{} bytes of page data for {} pages",
            data.len(),
            indexes.len()
        );
    }
    let count = size / page;
    let ascending = indexes.windows(2).all(|w| w[0] < w[1]);
    if !ascending || indexes.last().is_some_and(|&i| u64::from(i) >= count) {
        bail!(
            Value,
            "page indexes must ascend within the memory's {count} pages"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(size: u64, indexes: &[u32]) -> Result<()> {
        check_pages(size, indexes, &vec![1; indexes.len() * PAGE_SIZE])
    }

    #[test]
    fn pages_are_checked_before_use() {
        let page = PAGE_SIZE as u64;
        assert!(check(4 * page, &[0, 3]).is_ok());
        assert!(check(4 * page + 1, &[]).is_err());
        assert!(check(4 * page, &[4]).is_err());
        assert!(check(4 * page, &[2, 1]).is_err());
        assert!(check(4 * page, &[1, 1]).is_err());
        assert!(check((1 << 32) + page, &[]).is_err());
        let short = vec![1; PAGE_SIZE - 1];
        assert!(check_pages(4 * page, &[1], &short).is_err());
    }
}
