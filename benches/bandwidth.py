"""Bandwidth: GB/s copying bytes into and out of a sandboxed module's memory,
64 KiB to 64 MiB, against a plain host memcpy (`ctypes.memmove` between two
host buffers). The same operations on a `target="native"` module and on real
cffi (host memory both) show what is the sandbox's own cost.

Each figure is size / (min over the samples of the time per copy).
Target (DESIGN.md §4): sandbox copies >= 50% of memcpy bandwidth for >= 64 KiB.
The target is checked on the copies into memory that exists already. The
operations that make a new bytes object (`ffi.buffer(p)[:]`) also pay for
fresh memory (past glibc's mmap threshold, every page of it faults in): they
are checked against the same cost on the host, `bytes(bytearray)`.
"""

import ctypes
import os


import _common

CDEF = "size_t touch(const char *, size_t);"
SOURCE = '#include "bandwidth.c"'
SIZES = [64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20]
QUICK_SIZES = [64 << 10, 1 << 20, 16 << 20]

#: (key, description, statement): the operations timed on each FFI; in the
#: statements `p` is an n-byte `char[]` of that FFI, `src` an n-byte `bytes`,
#: `dst` an n-byte `bytearray`, `m` the FFI's memmove, `f` touch().
OPERATIONS = [
    ("in_memmove", "in: ffi.memmove(p, bytes, n)", "m(p, src, n)"),
    ("in_slice", "in: ffi.buffer(p)[:] = bytes", "b[:] = src"),
    ("out_slice", "out: ffi.buffer(p)[:] -> new bytes", "b[:]"),
    ("out_memmove", "out: ffi.memmove(bytearray, p, n)", "m(dst, p, n)"),
    ("arg_bytes", "in: bytes argument, touch(bytes, n)", "f(src, n)"),
]
#: (key, description, statement) of the host baselines; `a`, `c` are ctypes buffers.
BASELINES = [
    ("memcpy", "memcpy: ctypes.memmove(host, host, n)", "m(c, a, n)"),
    ("bytes_copy", "host copy to new bytes: bytes(bytearray)", "bytes(dst)"),
]
REFERENCE = "memcpy"
#: The operations that allocate their result, and the host baseline that does too.
ALLOCATING = {"out_slice"}
ALLOCATING_REFERENCE = "bytes_copy"
#: cffi passes a `bytes` argument as a pointer to the object's own storage: no
#: copy is made, so there is no bandwidth to measure.
SKIPPED = {("cffi API", "arg_bytes")}


def build():
    """{name: (ffi, lib)} of the FFIs measured: the sandboxed module, the native one, real cffi."""
    out = _common.fresh_dir("bandwidth")
    wasm = _common.load_module(_common.build_wasmcffi("_bench_bandwidth_wasm", CDEF, SOURCE, "wasm", out))
    native = _common.load_module(_common.build_wasmcffi("_bench_bandwidth_native", CDEF, SOURCE, "native", out))
    api = _common.load_module(_common.build_cffi("_bench_bandwidth_cffi", CDEF, SOURCE, out))
    return {"wasmcffi wasm": (wasm.ffi, wasm.lib), "wasmcffi native": (native.ffi, native.lib),
            "cffi API": (api.ffi, api.lib)}


def timers_for_size(ffis, n, sample_time):
    """{(who, operation): Timer} for copies of n bytes; checks each copy's result once."""
    src = os.urandom(n)
    dst = bytearray(n)
    timers = {}
    a, c = ctypes.create_string_buffer(src, n), ctypes.create_string_buffer(n)
    host = {"m": ctypes.memmove, "a": a, "c": c, "n": n, "dst": dst}
    for key, _, stmt in BASELINES:
        timers["host", key] = _common.Timer(stmt, host, sample_time)
    for who, (ffi, lib) in ffis.items():
        p = ffi.new("char[]", n)
        namespace = {"m": ffi.memmove, "p": p, "b": ffi.buffer(p, n), "src": src, "dst": dst, "n": n,
                     "f": lib.touch}
        operations = [(key, stmt) for key, _, stmt in OPERATIONS if (who, key) not in SKIPPED]
        for _, stmt in operations:
            exec(stmt, dict(namespace))
        if ffi.buffer(p, n)[:] != src or dst != src or lib.touch(src, n) != src[0] + src[-1]:
            raise SystemExit(f"bandwidth: {who} copied {n} bytes wrongly")
        dst[:] = bytes(n)
        for key, stmt in operations:
            timers[who, key] = _common.Timer(stmt, namespace, sample_time)
    return timers


def _size_label(n):
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def run(repeat, quick):
    """Runs the suite; prints its tables and returns its results."""
    ffis = build()
    sizes = QUICK_SIZES if quick else SIZES
    seconds = {}
    for n in sizes:
        timers = timers_for_size(ffis, n, 0.01 if quick else 0.02)
        _common.interleaved(list(timers.values()), repeat)
        for (who, key), timer in timers.items():
            seconds.setdefault(f"{who}: {key}", {})[n] = timer.timing
        del timers

    gbps = {row: {n: n / t.best / 1e9 for n, t in per_size.items()} for row, per_size in seconds.items()}
    memcpy = gbps[f"host: {REFERENCE}"]
    ratios = {row: {n: v / memcpy[n] for n, v in per_size.items()} for row, per_size in gbps.items()}
    sandbox = [ratios[f"wasmcffi wasm: {key}"] for key, _, _ in OPERATIONS if key not in ALLOCATING]
    worst = min(min(r.values()) for r in sandbox)
    fresh = gbps[f"host: {ALLOCATING_REFERENCE}"]
    worst_allocating = min(gbps[f"wasmcffi wasm: {key}"][n] / fresh[n] for key in ALLOCATING for n in sizes)

    labels = {f"host: {k}": d for k, d, _ in BASELINES}
    labels.update({f"{who}: {k}": f"{who}: {d}" for who in ffis for k, d, _ in OPERATIONS
                   if (who, k) not in SKIPPED})
    headers = ["GB/s (min of %d)" % repeat] + [_size_label(n) for n in sizes]
    print(_common.table(headers, [[labels[row]] + [f"{v[n]:.2f}" for n in sizes] for row, v in gbps.items()]))
    print(f"\nratio to {labels['host: ' + REFERENCE]}")
    print(_common.table(["ratio"] + headers[1:],
                        [[labels[row]] + [f"{v[n]:.2f}" for n in sizes] for row, v in ratios.items()]))
    print("not listed: " + ", ".join(f"{who} {key}" for who, key in sorted(SKIPPED))
          + " (a bytes argument is passed by pointer, no copy)")
    print(f"worst sandbox copy into existing memory: {worst:.2f}x memcpy (target >= 0.5x for every size: "
          f"{_common.verdict(worst, 0.5, smaller_is_better=False)})")
    print(f"worst sandbox copy into a new bytes object: {worst_allocating:.2f}x "
          f"{labels['host: ' + ALLOCATING_REFERENCE]} (target >= 0.5x: "
          f"{_common.verdict(worst_allocating, 0.5, smaller_is_better=False)})")
    return {
        "unit": "GB/s",
        "statistic": "size / min of samples",
        "repeat": repeat,
        "sizes": sizes,
        "labels": labels,
        "gbps": {row: {str(n): v for n, v in per_size.items()} for row, per_size in gbps.items()},
        "ratio_to": REFERENCE,
        "ratios": {row: {str(n): v for n, v in per_size.items()} for row, per_size in ratios.items()},
        "worst_sandbox_ratio": worst,
        "worst_allocating_ratio_to": ALLOCATING_REFERENCE,
        "worst_allocating_ratio": worst_allocating,
        "seconds": {row: {str(n): t.as_dict(scale=1.0) for n, t in per_size.items()}
                    for row, per_size in seconds.items()},
    }
