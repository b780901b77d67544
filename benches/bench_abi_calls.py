"""ABI-mode call overhead: ns per call through wasmcffi's dlopen, cffi's ABI mode and ctypes.

Measures `int add(int, int)` and `double hyp(double, double)` from the test
library (tests/c/abi_testlib.c, built here with the host compiler unless
--lib is given), plus a plain Python function for scale, all in one run.
Prints a table of ns/call and the ratios wasmcffi/cffi and wasmcffi/ctypes
(targets from the issue: <= 0.6x cffi ABI mode, <= 0.4x ctypes) and writes the
numbers as JSON. It is a measurement, not a test: nothing is asserted.

    make build-dev && .venv/bin/python benches/bench_abi_calls.py [--lib PATH] [--json PATH]
"""

import argparse
import ctypes
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import timeit

import cffi
import wasmcffi

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "tests", "c", "abi_testlib.c")
CDEF = "int add(int, int); double hyp(double, double);"
TARGETS = {"cffi": 0.6, "ctypes": 0.4}


def build_library(out_dir):
    """Compiles the test library with `$CC` (default `cc`); returns its path."""
    out = os.path.join(out_dir, "libabi_testlib.so")
    cc = shlex.split(os.environ.get("CC") or "cc")
    subprocess.run([*cc, "-shared", "-fPIC", "-O2", SOURCE, "-o", out, "-lm"], check=True)
    return out


def callables(path):
    """{implementation: {"add": f, "hyp": g}} for every implementation measured."""
    result = {}
    for name, module in (("wasmcffi", wasmcffi), ("cffi", cffi)):
        ffi = module.FFI()
        ffi.cdef(CDEF)
        lib = ffi.dlopen(path)
        result[name] = {"add": lib.add, "hyp": lib.hyp, "_keep": (ffi, lib)}
    cdll = ctypes.CDLL(path)
    add, hyp = cdll.add, cdll.hyp
    add.argtypes, add.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    hyp.argtypes, hyp.restype = [ctypes.c_double, ctypes.c_double], ctypes.c_double
    result["ctypes"] = {"add": add, "hyp": hyp, "_keep": cdll}

    def py_add(a, b):
        return a + b

    def py_hyp(a, b):
        return (a * a + b * b) ** 0.5

    result["python"] = {"add": py_add, "hyp": py_hyp}
    return result


CALLS = {"add": ("f(1, 2)", 3), "hyp": ("f(3.0, 4.0)", 5.0)}


def measure(fn, stmt, number, repeat):
    """Best of `repeat` runs of `number` calls, in ns per call (the loop's own cost included)."""
    timer = timeit.Timer(stmt, globals={"f": fn})
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", help="path of an already built abi_testlib shared library")
    parser.add_argument("--json", default=os.path.join(ROOT, "benches", "results", "abi_calls.json"),
                        help="where to write the results (default: %(default)s)")
    parser.add_argument("--number", type=int, default=200_000, help="calls per timing run")
    parser.add_argument("--repeat", type=int, default=7, help="timing runs; the minimum is kept")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        path = args.lib or build_library(tmp)
        impls = callables(path)
        for name, fns in impls.items():  # sanity: every implementation computes the same thing
            for call, (stmt, expected) in CALLS.items():
                got = eval(stmt, {"f": fns[call]})
                if got != expected:
                    sys.exit(f"{name}.{call} gave {got!r}, expected {expected!r}")
        results = {name: {call: measure(fns[call], stmt, args.number, args.repeat)
                          for call, (stmt, _) in CALLS.items()}
                   for name, fns in impls.items()}

    ratios = {call: {ref: results["wasmcffi"][call] / results[ref][call] for ref in TARGETS} for call in CALLS}
    names = list(results)
    print(f"ns per call (min of {args.repeat} x {args.number:,} calls)")
    print(f"{'call':<16}" + "".join(f"{n:>12}" for n in names) + "".join(f"{'w/' + r:>12}" for r in TARGETS))
    for call, (stmt, _) in CALLS.items():
        row = f"{stmt.replace('f', call, 1):<16}" + "".join(f"{results[n][call]:>12.1f}" for n in names)
        row += "".join(f"{ratios[call][r]:>11.2f}x" for r in TARGETS)
        print(row)
    print("targets: " + ", ".join(f"wasmcffi/{r} <= {t}x" for r, t in TARGETS.items()))

    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({
            "unit": "ns/call",
            "number": args.number,
            "repeat": args.repeat,
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "cffi": cffi.__version__,
            "results": results,
            "ratios": ratios,
            "targets": TARGETS,
        }, f, indent=2)
    print(f"written to {args.json}")


if __name__ == "__main__":
    main()
