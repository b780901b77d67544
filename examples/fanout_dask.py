"""Fanning a sandboxed C helper out over a Dask cluster.

The helper (a word-statistics routine, standing in for any C code you would
rather not trust) is built once, here, into a portable `.wasm` module. The
workers receive the module's two files and import it by name: nothing is
compiled on a worker. An input that makes the helper trap fails its own task
with `wasmcffi.Trap`; the other tasks, and the workers, carry on.

    .venv/bin/python examples/fanout_dask.py
"""

import os
import sys
import tempfile

import wasmcffi

CDEF = """
    struct stats { int words, longest; };
    int word_stats(const char *text, struct stats *out);
    int longest_word(const char *text);
"""
SOURCE = r"""
    #include <string.h>
    struct stats { int words, longest; };
    int word_stats(const char *text, struct stats *out) {
        int words = 0, longest = 0, run = 0;
        for (const char *p = text; ; p++) {
            if (*p && *p != ' ') { run++; continue; }
            if (run) { words++; if (run > longest) longest = run; }
            run = 0;
            if (!*p) break;
        }
        /* A helper with a bug: a "word" longer than 12 letters overflows a
           buffer, which the sandbox turns into a trap. */
        if (longest > 12) __builtin_trap();
        out->words = words;
        out->longest = longest;
        return words;
    }
    /* What the cluster calls: a function of values (a pointer into one
       instance's memory would not travel). */
    int longest_word(const char *text) {
        struct stats s;
        word_stats(text, &s);
        return s.longest;
    }
"""

TEXTS = [
    b"the quick brown fox",
    b"sandboxes contain faults",
    b"an extraordinarily incomprehensible sentence",
    b"dask ships the module",
]


def build(folder):
    """Builds the module `_wordstats` in `folder` and imports it by name."""
    ffibuilder = wasmcffi.FFI()
    ffibuilder.cdef(CDEF)
    ffibuilder.set_source("_wordstats", SOURCE)
    ffibuilder.compile(tmpdir=folder)
    sys.path.insert(0, folder)
    import _wordstats

    return _wordstats


def main():
    from distributed import Client, LocalCluster, wait

    with tempfile.TemporaryDirectory() as folder:
        module = build(folder)
        # An instance that resets itself after a fault, with a time limit per
        # call: its functions pickle with these options.
        _, lib = wasmcffi.instantiate(module, auto_reset=True, timeout=2.0)
        with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                          dashboard_address=None) as cluster, Client(cluster) as client:
            client.upload_file(os.path.join(folder, "_wordstats.wasm"))
            client.upload_file(os.path.join(folder, "_wordstats.py"))
            futures = client.map(lib.longest_word, TEXTS, pure=False)
            wait(futures)
            for text, future in zip(TEXTS, futures):
                if future.status == "error":
                    print(f"{text.decode()!r}: failed with {type(future.exception()).__name__}")
                else:
                    print(f"{text.decode()!r}: longest word has {future.result()} letters")


if __name__ == "__main__":
    main()
