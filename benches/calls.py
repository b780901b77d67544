"""Call overhead: ns per call of six small C functions (benches/c/calls.c)
through every way Python has to call them, side by side in one run.

Ratios are to cffi API mode (a real cffi extension of the same C). The numbers
are the minimum over the samples of per-call means (each sample times
thousands of calls in a `timeit` loop, whose own cost per iteration, measured
and printed, is included for every implementation alike).
"""

import ctypes
import math
import os
import struct

import cffi
import wasmcffi

import _common
from wasmtime_guest import WasmtimeGuest

CDEF = """
    typedef struct { int x, y; } point_t;
    void nop(void);
    int add(int, int);
    double hyp(double, double);
    int norm1(const point_t *);
    int byte_ends(const char *, size_t);
    const char *greeting(void);
"""
SOURCE = '#include "calls.c"'
C_FILE = os.path.join(_common.C_DIR, "calls.c")

#: The 4 KiB bytes argument: byte_ends() returns its first byte plus its last.
DATA = b"\x01" + bytes(4094) + b"\x02"

#: (key, what is called, expected result)
CASES = [
    ("nop", "void nop(void)", None),
    ("add", "int add(int, int)", 3),
    ("hyp", "double hyp(double, double)", 5.0),
    ("struct_ptr", "int norm1(point_t *)", 7),
    ("bytes_4k", "int byte_ends(const char *, size_t): 4 KiB bytes", 3),
    ("string", "ffi.string(greeting()): returned char *", b"hello, sandbox"),
]

#: The implementations, in the order of the table's columns.
IMPLS = ["wasmcffi wasm", "wasmcffi native", "wasmcffi dlopen", "cffi API", "cffi ABI", "ctypes",
         "wasmtime-py", "python"]
REFERENCE = "cffi API"

#: DESIGN.md §4: (label, numerator impl, denominator impl, case, target, smaller is better).
TARGETS = [
    ("sandboxed add <= 0.5x cffi API mode", "wasmcffi wasm", "cffi API", "add", 0.5, True),
    ("wasmtime-py / sandboxed add >= 500x", "wasmtime-py", "wasmcffi wasm", "add", 500, False),
    ("dlopen add <= 0.6x cffi ABI mode", "wasmcffi dlopen", "cffi ABI", "add", 0.6, True),
    ("dlopen hyp <= 0.6x cffi ABI mode", "wasmcffi dlopen", "cffi ABI", "hyp", 0.6, True),
    ("dlopen add <= 0.4x ctypes", "wasmcffi dlopen", "ctypes", "add", 0.4, True),
    ("dlopen hyp <= 0.4x ctypes", "wasmcffi dlopen", "ctypes", "hyp", 0.4, True),
]


def ffi_cases(ffi, lib):
    """The statements for an FFI-style implementation (wasmcffi or cffi)."""
    point = ffi.new("point_t *", [3, 4])
    return {
        "nop": ("f()", {"f": lib.nop}),
        "add": ("f(1, 2)", {"f": lib.add}),
        "hyp": ("f(3.0, 4.0)", {"f": lib.hyp}),
        "struct_ptr": ("f(p)", {"f": lib.norm1, "p": point, "_keep": ffi}),
        "bytes_4k": ("f(b, 4096)", {"f": lib.byte_ends, "b": DATA}),
        "string": ("s(f())", {"f": lib.greeting, "s": ffi.string}),
    }


def ctypes_cases(path):
    class Point(ctypes.Structure):
        _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int)]

    dll = ctypes.CDLL(path)

    def fn(name, argtypes, restype):
        f = getattr(dll, name)
        f.argtypes, f.restype = argtypes, restype
        return f

    point = ctypes.pointer(Point(3, 4))
    return {
        "nop": ("f()", {"f": fn("nop", [], None)}),
        "add": ("f(1, 2)", {"f": fn("add", [ctypes.c_int, ctypes.c_int], ctypes.c_int)}),
        "hyp": ("f(3.0, 4.0)", {"f": fn("hyp", [ctypes.c_double, ctypes.c_double], ctypes.c_double)}),
        "struct_ptr": ("f(p)", {"f": fn("norm1", [ctypes.POINTER(Point)], ctypes.c_int), "p": point}),
        "bytes_4k": ("f(b, 4096)", {"f": fn("byte_ends", [ctypes.c_char_p, ctypes.c_size_t], ctypes.c_int),
                                    "b": DATA}),
        # c_char_p as restype converts to bytes: ctypes' own ffi.string().
        "string": ("f()", {"f": fn("greeting", [], ctypes.c_char_p)}),
    }


def wasmtime_cases(wasm_path, conventions):
    """wasmtime-py on the sandboxed module's .wasm; records each function's convention."""
    guest = WasmtimeGuest(wasm_path)

    def fn(key, name, params, result):
        f, conventions[key] = guest.function(name, params, result)
        return f

    point = guest.alloc(8)
    guest.write(point, struct.pack("<ii", 3, 4))
    buffer = guest.alloc(len(DATA))
    byte_ends = fn("bytes_4k", "byte_ends", "II", "i")
    greeting = fn("string", "greeting", "", "I")

    def call_with_bytes(data, n):
        guest.write(buffer, data)
        return byte_ends(buffer, n)

    def call_string():
        return guest.read_string(greeting())

    return {
        "nop": ("f()", {"f": fn("nop", "nop", "", None)}),
        "add": ("f(1, 2)", {"f": fn("add", "add", "ii", "i")}),
        "hyp": ("f(3.0, 4.0)", {"f": fn("hyp", "hyp", "dd", "d")}),
        "struct_ptr": ("f(p)", {"f": fn("struct_ptr", "norm1", "I", "i"), "p": point}),
        "bytes_4k": ("f(b, 4096)", {"f": call_with_bytes, "b": DATA}),
        "string": ("f()", {"f": call_string, "_keep": guest}),
    }


def python_cases():
    """Plain Python functions doing the same work, for scale."""

    class Point:
        __slots__ = ("x", "y")

        def __init__(self, x, y):
            self.x, self.y = x, y

    def nop():
        pass

    def add(a, b):
        return a + b

    def hyp(a, b):
        return math.sqrt(a * a + b * b)

    def norm1(p):
        return abs(p.x) + abs(p.y)

    def byte_ends(data, n):
        return data[0] + data[n - 1]

    def greeting():
        return b"hello, sandbox"

    return {
        "nop": ("f()", {"f": nop}),
        "add": ("f(1, 2)", {"f": add}),
        "hyp": ("f(3.0, 4.0)", {"f": hyp}),
        "struct_ptr": ("f(p)", {"f": norm1, "p": Point(3, 4)}),
        "bytes_4k": ("f(b, 4096)", {"f": byte_ends, "b": DATA}),
        "string": ("f()", {"f": greeting}),
    }


def build_all(conventions):
    """Builds every implementation; {impl: {case: (stmt, namespace)}}."""
    out = _common.fresh_dir("calls")
    wasm_loader = _common.build_wasmcffi("_bench_calls_wasm", CDEF, SOURCE, "wasm", out)
    wasm = _common.load_module(wasm_loader)
    native = _common.load_module(
        _common.build_wasmcffi("_bench_calls_native", CDEF, SOURCE, "native", out, libraries=["m"]))
    api = _common.load_module(_common.build_cffi("_bench_calls_cffi", CDEF, SOURCE, out, libraries=["m"]))
    shared = _common.build_shared_library(C_FILE, out, "bench_calls")
    dlopen_ffi = wasmcffi.FFI()
    dlopen_ffi.cdef(CDEF)
    abi_ffi = cffi.FFI()
    abi_ffi.cdef(CDEF)
    return {
        "wasmcffi wasm": ffi_cases(wasm.ffi, wasm.lib),
        "wasmcffi native": ffi_cases(native.ffi, native.lib),
        "wasmcffi dlopen": ffi_cases(dlopen_ffi, dlopen_ffi.dlopen(shared)),
        "cffi API": ffi_cases(api.ffi, api.lib),
        "cffi ABI": ffi_cases(abi_ffi, abi_ffi.dlopen(shared)),
        "ctypes": ctypes_cases(shared),
        "wasmtime-py": wasmtime_cases(os.path.splitext(wasm_loader)[0] + ".wasm", conventions),
        "python": python_cases(),
    }


def check(impls):
    """Every implementation must compute the expected result before it is timed."""
    for impl, cases in impls.items():
        for key, _, expected in CASES:
            stmt, namespace = cases[key]
            got = eval(stmt, dict(namespace))
            if got != expected:
                raise SystemExit(f"{impl}: {key} gave {got!r}, expected {expected!r}")


def run(repeat, quick):
    """Runs the suite; prints its tables and returns its results."""
    sample_time = 0.01 if quick else 0.03
    conventions = {}
    impls = build_all(conventions)
    check(impls)
    timers = {(impl, key): _common.Timer(*impls[impl][key], sample_time=sample_time)
              for impl in IMPLS for key, _, _ in CASES}
    loop = _common.Timer("pass", {}, sample_time=sample_time)   # the timeit loop's own cost
    _common.interleaved(list(timers.values()) + [loop], repeat)
    ns = {impl: {key: timers[impl, key].timing.as_dict() for key, _, _ in CASES} for impl in IMPLS}
    best = {impl: {key: ns[impl][key]["min"] for key in ns[impl]} for impl in IMPLS}
    ratios = {impl: {key: best[impl][key] / best[REFERENCE][key] for key in best[impl]} for impl in IMPLS}
    targets = [{"target": label, "value": best[a][case] / best[b][case], "limit": limit,
                "verdict": _common.verdict(best[a][case] / best[b][case], limit, smaller)}
               for label, a, b, case, limit, smaller in TARGETS]

    print(f"ns per call (min of {repeat} samples, each a timeit loop of ~{sample_time * 1e3:.0f} ms)")
    print(_common.table(["call"] + IMPLS, [[key] + [f"{best[i][key]:.0f}" for i in IMPLS] for key, _, _ in CASES]))
    print(f"\nratio to {REFERENCE} mode (lower is faster)")
    print(_common.table(["call"] + IMPLS, [[key] + [f"{ratios[i][key]:.2f}" for i in IMPLS] for key, _, _ in CASES]))
    print(f"\nthe timeit loop's own cost, included in every figure above: {loop.timing.best * 1e9:.1f} ns")
    print("calls: " + "; ".join(f"{key} = {label}" for key, label, _ in CASES))
    print("wasmtime-py reaches each function through: "
          + ", ".join(f"{key} {conventions[key]}" for key, _, _ in CASES))
    print("targets (DESIGN.md §4):")
    for t in targets:
        print(f"  {t['target']:<40} {t['value']:10.2f}x  {t['verdict']}")
    return {
        "unit": "ns/call",
        "statistic": "min of samples (median kept too)",
        "repeat": repeat,
        "cases": {key: label for key, label, _ in CASES},
        "ns": ns,
        "loop_overhead_ns": loop.timing.best * 1e9,
        "ratio_to": REFERENCE,
        "ratios": ratios,
        "wasmtime_py_convention": conventions,
        "targets": targets,
    }
