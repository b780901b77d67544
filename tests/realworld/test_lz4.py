"""LZ4 (from the lz4 sdist): a compression codec, its block, high-compression
and frame formats, and its decoder fed corrupted input.

LZ4 chooses its match finder by pointer size, so on wasm32, as on any 32-bit
machine, its compressed bytes may differ from a 64-bit build's (both are valid
LZ4). Compressed data is therefore checked by decoding it with the other
build: what the sandbox compresses, real cffi's build decodes, and back."""

import corpus
import pytest
from conftest import library_fixtures, same

LIBRARY = corpus.Library(
    "lz4", corpus.LZ4, "lz4libs", sources=["*.c"],
    cdef="""
        int LZ4_versionNumber(void);
        int LZ4_compressBound(int size);
        int LZ4_compress_default(const char *src, char *dst, int size, int capacity);
        int LZ4_compress_HC(const char *src, char *dst, int size, int capacity, int level);
        int LZ4_decompress_safe(const char *src, char *dst, int compressed, int capacity);
        size_t LZ4F_compressFrameBound(size_t size, const void *preferences);
        size_t LZ4F_compressFrame(void *dst, size_t capacity, const void *src, size_t size,
                                  const void *preferences);
        unsigned LZ4F_isError(size_t code);
        const char *LZ4F_getErrorName(size_t code);
        typedef struct LZ4F_dctx_s LZ4F_dctx;
        size_t LZ4F_createDecompressionContext(LZ4F_dctx **dctx, unsigned version);
        size_t LZ4F_freeDecompressionContext(LZ4F_dctx *dctx);
        size_t LZ4F_decompress(LZ4F_dctx *dctx, void *dst, size_t *dst_size, const void *src,
                               size_t *src_size, const void *options);
        #define LZ4F_VERSION ...
    """,
    source='#include "lz4.h"\n#include "lz4hc.h"\n#include "lz4frame.h"\n',
)

reference, module = library_fixtures(LIBRARY)

#: Inputs: empty, tiny, text that compresses well, bytes that do not.
INPUTS = {
    "empty": b"",
    "tiny": b"abc",
    "text": b"".join(b"line %d of a log that repeats itself, more or less\n" % (i % 97) for i in range(20000)),
    "noise": bytes((i * 2654435761 >> 13) & 0xFF for i in range(100000)),
}


def block_decode(ffi, lib, compressed, size):
    back = ffi.new("char[]", size + 1)
    n = lib.LZ4_decompress_safe(compressed, back, len(compressed), size)
    return ffi.buffer(back, max(n, 0))[:]


def block_roundtrip(ffi, lib, data, level=None):
    bound = lib.LZ4_compressBound(len(data))
    out = ffi.new("char[]", bound or 1)
    if level is None:
        size = lib.LZ4_compress_default(data, out, len(data), bound)
    else:
        size = lib.LZ4_compress_HC(data, out, len(data), bound, level)
    compressed = ffi.buffer(out, size)[:]
    back = ffi.new("char[]", len(data) + 1)
    n = lib.LZ4_decompress_safe(compressed, back, size, len(data))
    return compressed, ffi.buffer(back, max(n, 0))[:] == data, n


def test_version(reference, module):
    same(lambda ffi, lib: lib.LZ4_versionNumber(), reference, module)


@pytest.mark.parametrize("name", INPUTS)
@pytest.mark.parametrize("level", [None, 4, 12])
def test_block_format(reference, module, name, level):
    data = INPUTS[name]
    ok, n = same(lambda ffi, lib: block_roundtrip(ffi, lib, data, level)[1:], reference, module)
    assert ok and n == len(data)
    mine = block_roundtrip(module.ffi, module.lib, data, level)[0]
    theirs = block_roundtrip(reference.ffi, reference.lib, data, level)[0]
    assert block_decode(reference.ffi, reference.lib, mine, len(data)) == data
    assert block_decode(module.ffi, module.lib, theirs, len(data)) == data


@pytest.mark.parametrize("name", INPUTS)
def test_frame_format(reference, module, name):
    def case(ffi, lib):
        data = INPUTS[name]
        bound = lib.LZ4F_compressFrameBound(len(data), ffi.NULL)
        out = ffi.new("char[]", bound)
        size = lib.LZ4F_compressFrame(out, bound, data, len(data), ffi.NULL)
        assert not lib.LZ4F_isError(size)
        frame = ffi.buffer(out, size)[:]
        dctx = ffi.new("LZ4F_dctx **")
        assert not lib.LZ4F_isError(lib.LZ4F_createDecompressionContext(dctx, lib.LZ4F_VERSION))
        back = ffi.new("char[]", len(data) + 16)
        dst_size = ffi.new("size_t *", len(data) + 16)
        src_size = ffi.new("size_t *", len(frame))
        rest = lib.LZ4F_decompress(dctx[0], back, dst_size, frame, src_size, ffi.NULL)
        lib.LZ4F_freeDecompressionContext(dctx[0])
        return rest, ffi.buffer(back, dst_size[0])[:] == data

    assert same(case, reference, module) == (0, True)


def test_corrupted_input_is_refused(reference, module):
    """The decoder of untrusted input: flipped bytes, truncations and garbage
    give a negative result (never a read or write out of bounds)."""

    # The same compressed block for both: the reference's.
    compressed, _, _ = block_roundtrip(reference.ffi, reference.lib, INPUTS["text"])

    def case(ffi, lib):
        results = []
        back = ffi.new("char[]", 4096)
        for i in range(0, len(compressed), max(1, len(compressed) // 200)):
            broken = compressed[:i] + bytes([compressed[i] ^ 0x5A]) + compressed[i + 1:]
            results.append(lib.LZ4_decompress_safe(broken, back, len(broken), 4096))
        for cut in (1, 7, 100, len(compressed) // 2):
            results.append(lib.LZ4_decompress_safe(compressed[:cut], back, cut, 4096))
        garbage = bytes(range(256)) * 4
        results.append(lib.LZ4_decompress_safe(garbage, back, len(garbage), 4096))
        return results

    results = same(case, reference, module)
    assert min(results) < 0
