"""Fan-out: what carrying an instance's state costs (`sandbox(lib).snapshot()`
and `instantiate(module, snapshot=)`, for 1 MiB and 64 MiB of touched memory,
compressible and not), and the throughput of a `wasmcffi.Pool` of two
instances called from one thread and from two.

No targets in DESIGN.md: the numbers go in the notes of the work that changes them.
"""

import threading
import time

import wasmcffi

import _common

CDEF = """
int fill(int n, int random);
int lookup(int i);
long spin(long n);
int add(int a, int b);
"""
SOURCE = r"""
#include <stdlib.h>
static unsigned char *table; static int table_len;
/* Touches n bytes of heap: a repeating pattern (compressible) or xorshift noise. */
int fill(int n, int random) {
    free(table);
    table = malloc(n);
    unsigned x = 2463534242u;
    for (int i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        table[i] = random ? (unsigned char)x : (unsigned char)(i * 7 + 3);
    }
    table_len = n;
    return n;
}
int lookup(int i) { return table[i % table_len]; }
long spin(long n) { volatile long s = 0; for (long i = 0; i < n; i++) s += i; return s; }
int add(int a, int b) { return a + b; }
"""

MIB = 1 << 20


def best_of(repeat, function):
    """(min seconds, result of the last run) of `repeat` runs of `function`."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def snapshots(module, repeat, quick):
    rows, results = [], []
    for mib in (1,) if quick else (1, 64):
        for random in (0, 1):
            _, lib = wasmcffi.instantiate(module)
            lib.fill(mib * MIB, random)
            sandbox = wasmcffi.sandbox(lib)
            take, data = best_of(repeat, sandbox.snapshot)
            restore, (_, restored) = best_of(repeat, lambda: wasmcffi.instantiate(module, snapshot=data))
            assert restored.lookup(12345) == lib.lookup(12345)
            memory = sandbox.usage["memory"]
            kind = "noise" if random else "pattern"
            results.append({"touched_mib": mib, "data": kind, "memory_bytes": memory, "snapshot_bytes": len(data),
                            "snapshot_ms": take * 1e3, "restore_ms": restore * 1e3})
            rows.append([f"{mib} MiB {kind}", f"{memory / MIB:.1f}", f"{len(data) / MIB:.2f}",
                         f"{take * 1e3:.2f}", f"{restore * 1e3:.2f}"])
    print("snapshot of an instance that touched N MiB of heap, and a new instance restored from it (best of "
          f"{repeat})")
    print(_common.table(["touched", "memory MiB", "snapshot MiB", "snapshot ms", "restore ms"], rows))
    return results


def pool_throughput(module, quick):
    """Calls per second through a Pool of 2 instances, from 1 and from 2 threads."""
    # A call hands the GIL back once it has run for two 1 ms ticks: shorter
    # calls keep it (handing it back costs more than they do).
    cases = {"spin, ~10 ms a call": (lambda lib: lib.spin(20_000_000), 4 if quick else 40),
             "spin, ~1 ms a call": (lambda lib: lib.spin(2_000_000), 40 if quick else 400),
             "add, a short call": (lambda lib: lib.add(1, 2), 20_000 if quick else 200_000)}
    results, rows = {}, []
    pool = wasmcffi.Pool(module, size=2)
    for name, (call, total) in cases.items():
        rates = {}
        for threads in (1, 2):
            def work(count=total // threads):
                for _ in range(count):
                    call(pool.lib)

            workers = [threading.Thread(target=work) for _ in range(threads)]
            start = time.perf_counter()
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            rates[threads] = total / (time.perf_counter() - start)
        results[name] = rates
        rows.append([name, f"{rates[1]:,.0f}", f"{rates[2]:,.0f}", f"{rates[2] / rates[1]:.2f}x"])
    print("\nwasmcffi.Pool(module, size=2): calls per second through pool.lib")
    print(_common.table(["call", "1 thread", "2 threads", "speed-up"], rows))
    return results


def run(repeat, quick):
    out = _common.fresh_dir("fanout")
    module = _common.load_module(_common.build_wasmcffi("_bench_fanout", CDEF, SOURCE, "wasm", out))
    return {"snapshots": snapshots(module, min(repeat, 5), quick), "pool": pool_throughput(module, quick)}
