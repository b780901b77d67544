"""ns per call of a sandboxed `int add(int, int)` against the same C built as a
cffi API-mode extension and as a wasmcffi native module, side by side.

Run me with `.venv/bin/python benches/bench_api_calls.py` after `make build-dev`
(a release build, `maturin develop --release`, gives the meaningful numbers).
Not a test: it prints a table and writes benches/results/api_calls.json.
"""

import argparse
import importlib.util
import json
import os
import tempfile
import timeit

import wasmcffi

SOURCE = "int add(int a, int b) { return a + b; }"
CDEF = "int add(int, int);"


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_wasmcffi(target, out):
    ffibuilder = wasmcffi.FFI()
    ffibuilder.cdef(CDEF)
    ffibuilder.set_source(f"_bench_{target}", SOURCE, target=target)
    return load(ffibuilder.compile(tmpdir=out), f"_bench_{target}")


def build_cffi(out):
    import cffi

    ffibuilder = cffi.FFI()
    ffibuilder.cdef(CDEF)
    ffibuilder.set_source("_bench_cffi", SOURCE)
    return load(ffibuilder.compile(tmpdir=out), "_bench_cffi")


def ns_per_call(fn, number, repeat):
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "results", "api_calls.json"))
    args = parser.parse_args()
    out = tempfile.mkdtemp(prefix="wasmcffi-bench-")
    callers = {
        "wasmcffi sandboxed": build_wasmcffi("wasm", out).lib.add,
        "wasmcffi native": build_wasmcffi("native", out).lib.add,
        "cffi API mode": build_cffi(out).lib.add,
    }
    results = {name: ns_per_call(lambda f=f: f(1, 2), args.number, args.repeat) for name, f in callers.items()}
    results["python function"] = ns_per_call(lambda: (lambda a, b: a + b)(1, 2), args.number, args.repeat)
    base = results["cffi API mode"]
    print(f"ns per add(1, 2) (min of {args.repeat} x {args.number:,} calls)")
    for name, ns in results.items():
        print(f"  {name:<20} {ns:10.1f} ns   {ns / base:6.2f}x cffi API mode")
    print("target (DESIGN §4): sandboxed <= 0.5x cffi API mode")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"ns_per_call": results, "ratio_to_cffi_api": {k: v / base for k, v in results.items()}}, f, indent=2)
    print("written to", args.json)


if __name__ == "__main__":
    main()
