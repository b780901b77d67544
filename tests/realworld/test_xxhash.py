"""xxHash 0.8 (from the xxhash sdist): 32-, 64- and 128-bit hashes, one-shot and
streaming, with 64-bit arithmetic that a 32-bit target must get right."""

import concurrent.futures
import multiprocessing
import threading

import corpus
import pytest
from conftest import library_fixtures, same

import wasmcffi

LIBRARY = corpus.Library(
    "xxhash", corpus.XXHASH, "deps/xxhash", sources=["xxhash.c"],
    cdef="""
        typedef struct { unsigned long long low64; unsigned long long high64; } XXH128_hash_t;
        typedef struct XXH3_state_s XXH3_state_t;
        unsigned XXH_versionNumber(void);
        unsigned XXH32(const void *input, size_t length, unsigned seed);
        unsigned long long XXH64(const void *input, size_t length, unsigned long long seed);
        unsigned long long XXH3_64bits_withSeed(const void *input, size_t length, unsigned long long seed);
        XXH128_hash_t XXH3_128bits_withSeed(const void *input, size_t length, unsigned long long seed);
        XXH3_state_t *XXH3_createState(void);
        int XXH3_freeState(XXH3_state_t *state);
        int XXH3_64bits_reset_withSeed(XXH3_state_t *state, unsigned long long seed);
        int XXH3_64bits_update(XXH3_state_t *state, const void *input, size_t length);
        unsigned long long XXH3_64bits_digest(const XXH3_state_t *state);
    """,
    source='#include "xxhash.h"\n',
)

reference, module = library_fixtures(LIBRARY)

DATA = bytes((i * 31 + (i >> 3)) & 0xFF for i in range(1 << 16))


def test_version(reference, module):
    same(lambda ffi, lib: lib.XXH_versionNumber(), reference, module)


@pytest.mark.parametrize("length", [0, 1, 3, 4, 8, 16, 17, 128, 129, 240, 241, 1024, 65536])
@pytest.mark.parametrize("seed", [0, 1, 2**32 - 1, 2**64 - 1])
def test_one_shot(reference, module, length, seed):
    def case(ffi, lib):
        data = DATA[:length]
        h128 = lib.XXH3_128bits_withSeed(data, length, seed)
        return (lib.XXH32(data, length, seed & 0xFFFFFFFF), lib.XXH64(data, length, seed),
                lib.XXH3_64bits_withSeed(data, length, seed), h128.low64, h128.high64)

    same(case, reference, module)


def test_streaming_equals_one_shot(reference, module):
    def case(ffi, lib):
        state = lib.XXH3_createState()
        lib.XXH3_64bits_reset_withSeed(state, 42)
        for start in range(0, len(DATA), 1000):
            lib.XXH3_64bits_update(state, DATA[start:start + 1000], len(DATA[start:start + 1000]))
        digest = lib.XXH3_64bits_digest(state)
        lib.XXH3_freeState(state)
        return digest, lib.XXH3_64bits_withSeed(DATA, len(DATA), 42)

    streamed, whole = same(case, reference, module)
    assert streamed == whole


CHUNKS = [DATA[i:i + 4096] for i in range(0, len(DATA), 4096)]


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_hashing_fans_out_to_processes(module, method):
    """lib.XXH64 pickled by reference: the workers import the module by name and
    hash their share; the digests equal the ones made here."""
    here = [module.lib.XXH64(chunk, len(chunk), 7) for chunk in CHUNKS]
    context = multiprocessing.get_context(method)
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        there = list(pool.map(module.lib.XXH64, CHUNKS, [len(c) for c in CHUNKS], [7] * len(CHUNKS)))
    assert there == here


def test_a_pool_of_instances_hashes_from_threads(module):
    if module.target != "wasm":
        pytest.skip("a Pool is of sandboxed instances")
    here = [module.lib.XXH3_64bits_withSeed(chunk, len(chunk), 9) for chunk in CHUNKS]
    pool = wasmcffi.Pool(module, size=2)
    results = {}

    def work(part):
        for i in range(part, len(CHUNKS), 4):
            results[i] = pool.lib.XXH3_64bits_withSeed(CHUNKS[i], len(CHUNKS[i]), 9)

    threads = [threading.Thread(target=work, args=(part,)) for part in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(CHUNKS))] == here
