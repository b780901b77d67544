"""The wasmcffi demo: CFFI's API over C data, on the host target.

Run me with `make demo` (sets up .venv and builds the extension first).

The sandbox (C compiled to wasm32 and run in wasmtime) does not exist yet, so
this demo only uses what needs no compiler: cdef, new, structs, arrays,
strings, casts and buffers, with host (x86-64) layouts. It says so when it
tries to build a sandboxed module.
"""

import wasmcffi
from wasmcffi import FFI

ffi = FFI()
ffi.cdef("""
    typedef struct { int x, y; } point_t;
    struct polygon { int n; point_t corners[]; };
    enum shape { TRIANGLE = 3, SQUARE = 4 };
    struct flags { unsigned visible : 1; unsigned layer : 4; };
    #define MAX_CORNERS 16
""")


def show(label, value):
    print(f"  {label:<38} {value!r}")


print("wasmcffi", wasmcffi.__version__, "- host target (no sandbox yet)")
print("types:")
show("sizeof(point_t)", ffi.sizeof("point_t"))
show("sizeof(long) on this target", ffi.sizeof("long"))
show("offsetof(struct polygon, corners)", ffi.offsetof("struct polygon", "corners"))
show("typeof('point_t *')", ffi.typeof("point_t *"))

print("a struct with a flexible array member:")
square = ffi.new("struct polygon *", [4, [(0, 0), (2, 0), (2, 2), (0, 2)]])
show("square", square)
show("len(square.corners)", len(square.corners))
show("corners", [(c.x, c.y) for c in square.corners])
show("sizeof(square[0])", ffi.sizeof(square[0]))

print("arrays, slices and pointer arithmetic:")
numbers = ffi.new("int[]", list(range(10)))
show("numbers[2:5]", list(numbers[2:5]))
third = numbers + 3
show("(numbers + 3)[0]", third[0])
show("sum via unpack", sum(ffi.unpack(numbers, 10)))

print("strings and buffers:")
name = ffi.new("char[]", b"wasmcffi")
show("ffi.string(name)", ffi.string(name))
show("ffi.buffer(name)[0:4]", ffi.buffer(name)[0:4])
wide = ffi.new("wchar_t[]", "h\u00e9llo")
show("ffi.string(wide)", ffi.string(wide))

print("bitfields, enums, constants:")
flags = ffi.new("struct flags *", {"visible": 1, "layer": 9})
show("flags.layer", flags.layer)
show("ffi.string(cast('enum shape', 4))", ffi.string(ffi.cast("enum shape", 4)))
lib = ffi.dlopen(None)
show("lib.MAX_CORNERS", lib.MAX_CORNERS)

print("errors are Python exceptions:")
for code in ["ffi.new('short *', 40000)", "numbers[10]", "ffi.cdef('struct bad { foo_t x; };')"]:
    try:
        eval(code)
    except Exception as exc:  # noqa: BLE001 - the demo shows each error
        show(code, f"{type(exc).__name__}: {exc}".splitlines()[0])

print("sandboxed modules:")
try:
    ffi.set_source("_demo", "int add(int a, int b) { return a + b; }")
except NotImplementedError as exc:
    show("set_source(...)", f"NotImplementedError: {exc}")
