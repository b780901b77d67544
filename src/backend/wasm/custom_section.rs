//! Reading a custom section of a wasm module's bytes (wasmtime keeps none).
#![forbid(unsafe_code)]

/// The unsigned LEB128 number at `bytes[at..]` and the offset after it, or
/// `None` if the bytes end first or the number does not fit in 32 bits.
fn leb128(bytes: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let mut value: u64 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(at)?;
        at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some((usize::try_from(value).ok()?, at));
        }
    }
    None
}

/// The content of the first custom section called `name` in the wasm module
/// `wasm`, or `None` if there is none (or the bytes are not a module).
pub(crate) fn custom_section<'a>(wasm: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let mut at = 8; // magic and version
    while at < wasm.len() {
        let id = wasm[at];
        let (size, payload) = leb128(wasm, at + 1)?;
        let end = payload.checked_add(size).filter(|&end| end <= wasm.len())?;
        if id == 0 {
            let (name_size, name_at) = leb128(wasm, payload)?;
            let content = name_at.checked_add(name_size).filter(|&c| c <= end)?;
            if &wasm[name_at..content] == name.as_bytes() {
                return Some(&wasm[content..end]);
            }
        }
        at = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::custom_section;

    fn module(sections: &[(u8, &[u8])]) -> Vec<u8> {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        for (id, content) in sections {
            wasm.push(*id);
            wasm.push(u8::try_from(content.len()).unwrap());
            wasm.extend_from_slice(content);
        }
        wasm
    }

    #[test]
    fn finds_the_named_custom_section() {
        let wasm = module(&[
            (1, b"\x01\x60\0\0"),
            (0, b"\x04name\x00"),
            (0, b"\x05stubsa,b"),
        ]);
        assert_eq!(custom_section(&wasm, "stubs"), Some(&b"a,b"[..]));
        assert_eq!(custom_section(&wasm, "other"), None);
    }

    #[test]
    fn malformed_bytes_find_nothing() {
        let mut wasm = module(&[(0, b"\x05stubsa,b")]);
        wasm[9] = 100; // a section longer than the module
        assert_eq!(custom_section(&wasm, "stubs"), None);
        assert_eq!(
            custom_section(b"\0asm\x01\0\0\0\0\xff\xff\xff\xff\xff\xff", "stubs"),
            None
        );
    }
}
