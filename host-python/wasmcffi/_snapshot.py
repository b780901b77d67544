"""Snapshots of a sandboxed instance: its linear memory between calls as bytes,
and a new instance started from them (`wasmcffi.instantiate(module, snapshot=)`).

The format (little-endian), version 1:

    magic     b"wasmcffi-snapshot"
    version   u16
    module    32 bytes: SHA-256 of the module's .wasm file
    size      u64: bytes of linear memory
    pages     u32: how many non-zero 64 KiB pages follow
    packing   u8: 0 raw, 1 zlib
    checksum  u32: CRC-32 of the unpacked payload
    payload   the page indexes (u32 each), then the pages' bytes; packed with
              zlib when that makes it at least 10% smaller

A snapshot is data from outside: every field is checked before use, and the
decompressed size is bounded by what the header announces. A hostile snapshot
can at worst start a guest in a state of its choosing, which the sandbox
contains as it contains any guest.
"""

import os
import struct
import zlib

from ._wasmcffi import WASM_PAGE_SIZE as PAGE_SIZE

MAGIC = b"wasmcffi-snapshot"
VERSION = 1
_HEADER = struct.Struct("<H32sQIBI")
_RAW, _ZLIB = 0, 1

#: SHA-256 of each module file read so far: {path: ((mtime_ns, size), digest)}.
_DIGESTS = {}


class SnapshotError(ValueError):
    """A snapshot that cannot be restored: corrupted, of another module, or of
    another format version."""


def module_digest(path):
    """The SHA-256 of the module file at `path` (read once while it is unchanged)."""
    stat = os.stat(path)
    key = (stat.st_mtime_ns, stat.st_size)
    known = _DIGESTS.get(path)
    if known is None or known[0] != key:
        import hashlib  # loads OpenSSL: only when a snapshot is taken or restored

        with open(path, "rb") as f:
            known = _DIGESTS[path] = (key, hashlib.sha256(f.read()).digest())
    return known[1]


def take(sandbox):
    """The snapshot of `sandbox` (a `wasmcffi.Sandbox`), as bytes."""
    size, pages, payload = sandbox._memory_pages()
    packing, packed = _RAW, payload
    if _pays_to_compress(payload):
        compressed = zlib.compress(payload, 1)
        if len(compressed) < 0.9 * len(payload):
            packing, packed = _ZLIB, compressed
    header = _HEADER.pack(VERSION, module_digest(sandbox._module_path), size,
                          pages, packing, zlib.crc32(payload))
    return b"".join((MAGIC, header, packed))


def _pays_to_compress(payload, samples=8, size=PAGE_SIZE):
    """Whether `payload` looks compressible, judged on pages taken from the
    middle of each eighth of it (compressing noise costs ~20 ms a MiB for
    nothing): they must shrink by a fifth."""
    if len(payload) <= samples * size:
        return bool(payload)
    step, view = len(payload) // samples, memoryview(payload)
    sample = b"".join(view[i * step + step // 2:][:size] for i in range(samples))
    return len(zlib.compress(sample, 1)) < 0.8 * len(sample)


def restore(sandbox, snapshot):
    """Brings the fresh instance `sandbox` to the state `snapshot` describes."""
    sandbox._restore_memory_pages(*_read(snapshot, module_digest(sandbox._module_path)))


def _read(snapshot, digest):
    """`(size, pages, payload)` of a snapshot of the module whose digest is `digest`."""
    if not isinstance(snapshot, (bytes, bytearray, memoryview)):
        raise TypeError(f"snapshot= must be bytes from Sandbox.snapshot(), not {type(snapshot).__name__}")
    snapshot = memoryview(snapshot).cast("B")
    start = len(MAGIC) + _HEADER.size
    if len(snapshot) < start or snapshot[:len(MAGIC)] != MAGIC:
        raise SnapshotError("not a wasmcffi snapshot (no snapshot header)")
    version, module, size, pages, packing, checksum = _HEADER.unpack_from(snapshot, len(MAGIC))
    if version != VERSION:
        raise SnapshotError(f"a snapshot of format version {version}; this wasmcffi reads version {VERSION}")
    if module != digest:
        raise SnapshotError(
            f"a snapshot of another module (sha256 {module.hex()[:16]}…), not of this one "
            f"(sha256 {digest.hex()[:16]}…): a snapshot restores only into the module it was taken of"
        )
    if size % PAGE_SIZE or size > 1 << 32 or pages > size // PAGE_SIZE:
        raise SnapshotError(f"corrupted snapshot: {pages} pages of a {size}-byte memory")
    expected = pages * (4 + PAGE_SIZE)
    body = snapshot[start:]
    if packing == _RAW:
        payload = bytes(body)
    elif packing == _ZLIB:
        payload = _inflate(body, expected)
    else:
        raise SnapshotError(f"corrupted snapshot: unknown packing {packing}")
    if len(payload) != expected or zlib.crc32(payload) != checksum:
        raise SnapshotError("corrupted snapshot: its contents do not match its checksum")
    return size, pages, payload


def _inflate(body, expected):
    """Decompresses at most `expected` bytes (a bomb stops there)."""
    inflater = zlib.decompressobj()
    try:
        payload = inflater.decompress(body, max(expected, 1))  # 0 would mean no bound
    except zlib.error as e:
        raise SnapshotError(f"corrupted snapshot: {e}") from None
    if not inflater.eof or inflater.unconsumed_tail:
        raise SnapshotError("corrupted snapshot: its contents are not the size its header says")
    return payload
