"""Compute: six C kernels (benches/c/kernels/) built with `set_source()` for
`target="native"` (with the flags a cffi extension gets) and for the wasm
sandbox (-O2), both without FMA contraction (the sandboxed build with -msimd128, and once more without it), run
on the same inputs; every build must return the same checksum. Prints each kernel's sandboxed/native time ratio and
the median and worst ratios (targets: median <= 1.2x, worst <= 1.5x).

Times are per run of one kernel (one call, ~50-300 ms natively), the minimum
of the samples; call overhead does not matter at that length.
"""

import statistics
import time

import _common

#: (kernel, input size n for NAME_setup, size in a --quick run, what it does)
KERNELS = [
    ("hash", 16 << 20, 2 << 20, "multiply-rotate hash of 8-64 byte keys into an open-addressing table"),
    ("checksum", 64 << 20, 8 << 20, "CRC-32 (slicing by 4) and Adler-32 of a buffer"),
    ("sort", 2 << 20, 256 << 10, "introsort of 32-bit keys"),
    ("matmul", 576, 256, "double matrix multiply, n x n, i-k-j order"),
    ("parse", 24 << 20, 3 << 20, "CSV parsing: integers, quoted strings, decimals (4 passes)"),
    ("particles", 20000, 2500, "array-of-structs particle simulation binned into a grid, 200 steps"),
]
SEED = 20261122
SOURCE = '#include "kernels/kernels.c"'
CDEF = "".join(f"int {k}_setup(unsigned, unsigned); unsigned long long {k}_run(void);\n" for k, *_ in KERNELS)

#: No fused multiply-add: a compiler that targets the host CPU (clang, zig cc)
#: would otherwise contract a * b + c, and the answers would differ by rounding.
NO_FMA = ["-ffp-contract=off"]
#: The builds compared: (name, target, extra set_source arguments).
BUILDS = [
    ("native", "native", {"libraries": ["m"], "extra_compile_args": NO_FMA}),
    ("wasm", "wasm", {"extra_compile_args": NO_FMA + ["-msimd128"]}),
    ("wasm_no_simd", "wasm", {"extra_compile_args": NO_FMA}),
]


def build():
    """{build name: lib} for every build."""
    out = _common.fresh_dir("compute")
    return {name: _common.load_module(_common.build_wasmcffi(f"_bench_kernels_{name}", CDEF, SOURCE, target,
                                                             out, **kwargs)).lib
            for name, target, kwargs in BUILDS}


def time_once(function):
    start = time.perf_counter()
    answer = function()
    return time.perf_counter() - start, answer


def run(repeat, quick):
    """Runs the suite; prints its table and returns its results."""
    libs = build()
    results = {}
    for kernel, size, quick_size, _ in KERNELS:
        n = quick_size if quick else size
        timings = {name: _common.Timing() for name in libs}
        answers = {}
        for name, lib in libs.items():
            if getattr(lib, f"{kernel}_setup")(n, SEED) != 0:
                raise SystemExit(f"{kernel}: setup failed in the {name} build (out of memory)")
            answers[name] = getattr(lib, f"{kernel}_run")()   # also a warm-up run
        if len(set(answers.values())) != 1:
            raise SystemExit(f"{kernel}: the builds disagree: {answers}")
        for _ in range(repeat):
            for name, lib in libs.items():
                elapsed, answer = time_once(getattr(lib, f"{kernel}_run"))
                if answer != answers[name]:
                    raise SystemExit(f"{kernel}: the {name} build changed its answer between runs")
                timings[name].samples.append(elapsed)
        results[kernel] = {
            "n": n,
            "checksum": f"{answers['native']:016x}",
            "ms": {name: t.as_dict(scale=1e3) for name, t in timings.items()},
            "ratio": timings["wasm"].best / timings["native"].best,
            "ratio_no_simd": timings["wasm_no_simd"].best / timings["native"].best,
        }
    ratios = [r["ratio"] for r in results.values()]
    summary = {"median": statistics.median(ratios), "worst": max(ratios),
               "median_no_simd": statistics.median(r["ratio_no_simd"] for r in results.values())}

    print(f"ms per kernel run (min of {repeat}); wasm = sandboxed with -msimd128; all builds agree on every checksum")
    rows = [[k, r["n"], f"{r['ms']['native']['min']:.1f}", f"{r['ms']['wasm']['min']:.1f}",
             f"{r['ms']['wasm_no_simd']['min']:.1f}", f"{r['ratio']:.2f}", f"{r['ratio_no_simd']:.2f}"]
            for k, r in results.items()]
    print(_common.table(["kernel", "n", "native", "wasm", "wasm no-simd", "wasm/native", "no-simd/native"], rows))
    print(f"median wasm/native {summary['median']:.2f}x (target <= 1.2x: "
          f"{_common.verdict(summary['median'], 1.2)}), worst {summary['worst']:.2f}x "
          f"(target <= 1.5x: {_common.verdict(summary['worst'], 1.5)}); "
          f"median without SIMD {summary['median_no_simd']:.2f}x")
    print("native compiler: " + " ".join(_common.native_cc()) + " with Python's CFLAGS, as for cffi "
          "(set CC, CFLAGS to change them); sandboxed: wasmcffi's wasm compiler -O2; both -ffp-contract=off")
    return {
        "unit": "ms per run",
        "statistic": "min of samples (median kept too)",
        "repeat": repeat,
        "seed": SEED,
        "descriptions": {k: d for k, *_, d in KERNELS},
        "kernels": results,
        "summary": summary,
    }
