"""The wasmcffi demo: one C helper built into a sandboxed (wasm32) module and a
native one, called through the same CFFI API, with the cost of the sandbox.

Run me with `make demo` (sets up .venv and builds the extension first).
"""

import importlib.util
import os
import tempfile
import timeit

import wasmcffi
from wasmcffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
CDEF = """
    typedef struct { double x, y; } vec2;
    int add(int a, int b);
    uint32_t fnv1a(const unsigned char *data, size_t n);
    double dot(vec2 *a, vec2 *b);
    void hello(const char *who);
    int read_past_the_end(int *p);
    void spin_forever(void);
    int work(int steps);
    extern "Python" int progress(int percent);
"""


def build(target, out_dir):
    """Compiles examples/demo.c for `target` and imports the module."""
    ffibuilder = FFI()
    ffibuilder.cdef(CDEF)
    name = f"_demo_{target}"
    ffibuilder.set_source(name, '#include "demo.c"', target=target, include_dirs=[HERE])
    path = ffibuilder.compile(tmpdir=out_dir)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def show(label, value):
    print(f"  {label:<34} {value!r}")


def main():
    print("wasmcffi", wasmcffi.__version__)
    out_dir = tempfile.mkdtemp(prefix="wasmcffi-demo-")
    modules = {target: build(target, out_dir) for target in ("wasm", "native")}
    data = bytes(range(256)) * 16
    for target, mod in modules.items():
        ffi, lib = mod.ffi, mod.lib

        @ffi.def_extern()
        def progress(percent):
            return 1 if percent % 50 == 0 else 0

        print(f"{target} module ({'sandboxed in wasmtime' if target == 'wasm' else 'host machine code'}):")
        show("sizeof(long), sizeof(void *)", (ffi.sizeof("long"), ffi.sizeof("void *")))
        show("lib.add(40, 2)", lib.add(40, 2))
        show("lib.fnv1a(4 KiB)", hex(lib.fnv1a(data, len(data))))
        a, b = ffi.new("vec2 *", [3, 4]), ffi.new("vec2 *", {"x": 0.5, "y": 2})
        show("lib.dot(a, b)", lib.dot(a, b))
        show("lib.work(4) (C calling Python)", lib.work(4))
        lib.hello(f"{target} caller".encode())
    print("cost of the sandbox (best of 5 x 20,000 calls; `make demo` uses a debug build,")
    print("`make bench` measures a release build against cffi, ctypes and wasmtime-py):")
    times = {}
    for target, mod in modules.items():
        add = mod.lib.add
        times[target] = min(timeit.repeat(lambda: add(1, 2), number=20_000, repeat=5)) / 20_000 * 1e9
        show(f"{target}: ns per add(1, 2)", round(times[target], 1))
    show("sandboxed / native", round(times["wasm"] / times["native"], 2))
    print("a wild read in the sandbox is an exception, not a crash:")
    wasm = modules["wasm"]
    try:
        wasm.lib.read_past_the_end(wasm.ffi.new("int *"))
    except wasmcffi.SandboxError as exc:
        show("read_past_the_end()", f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
    try:
        wasm.lib.add(1, 2)
    except wasmcffi.SandboxError as exc:
        show("the instance after the fault", f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
    sandbox = wasmcffi.sandbox(wasm.lib)
    sandbox.reset()
    show("after sandbox.reset(): add(1, 2)", wasm.lib.add(1, 2))
    sandbox.set_limits(timeout=0.2)
    try:
        wasm.lib.spin_forever()
    except wasmcffi.Timeout as exc:
        show("an endless loop, timeout=0.2 s", f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
    sandbox.reset()
    show("usage", sandbox.usage)


if __name__ == "__main__":
    main()
