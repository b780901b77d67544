"""Property test (hypothesis) of value conversions at the call boundary.

Random Python values go into C through arguments, `ffi.new` initializers, stores
through pointers and structs returned by value, on a sandboxed (wasm) and a
native build of the same C; each outcome (value, or exception type) must equal
that of a real cffi extension built from the same C. Types are the fixed-size
ones, whose ranges are the same on both data models.
"""

import math
import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import wasmcffi
from conftest import build_cffi_reference, load_module, normalize

C_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "c", "boundary.c")
TYPES = {
    "char": "char", "schar": "signed char", "uchar": "unsigned char", "bool": "_Bool",
    "i8": "int8_t", "u8": "uint8_t", "i16": "int16_t", "u16": "uint16_t", "i32": "int32_t",
    "u32": "uint32_t", "i64": "int64_t", "u64": "uint64_t", "f32": "float", "f64": "double",
}
CDEF = "".join(
    f"{t} echo_{n}({t}); {t} load_{n}(const {t} *); void store_{n}({t} *, {t});"
    f"struct box_{n} {{ char pad; {t} value; }}; struct box_{n} box_{n}({t});\n"
    for n, t in TYPES.items()
)
SOURCE = '#include "boundary.c"'

values = st.one_of(
    st.integers(min_value=-(2**65), max_value=2**65),
    st.integers(min_value=-300, max_value=300),
    st.floats(width=64),
    st.booleans(),
    st.binary(min_size=0, max_size=2),
    st.text(max_size=1),
    st.none(),
)


@pytest.fixture(scope="module", params=["wasm", "native"])
def built(request, tmp_path_factory):
    ffibuilder = wasmcffi.FFI()
    ffibuilder.cdef(CDEF)
    name = f"_boundary_{request.param}"
    ffibuilder.set_source(name, SOURCE, target=request.param, include_dirs=[os.path.dirname(C_FILE)])
    return load_module(ffibuilder.compile(tmpdir=str(tmp_path_factory.mktemp(request.param))))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return build_cffi_reference(
        tmp_path_factory.mktemp("cffi"), "_boundary_cffi", CDEF, SOURCE, [os.path.dirname(C_FILE)]
    )


def outcome(fn):
    """('ok', value) or ('raise', exception type name); NaN made comparable."""
    try:
        value = normalize(fn())
    except Exception as exc:  # noqa: BLE001 - the exception type is the outcome
        return ("raise", type(exc).__name__)
    return ("ok", nan_as_text(value))


def nan_as_text(value):
    """`value` with every NaN, also inside lists and tuples, as the text "nan"."""
    if isinstance(value, (list, tuple)):
        return type(value)(nan_as_text(v) for v in value)
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


OPERATIONS = {
    "argument": lambda ffi, lib, n, t, v: getattr(lib, f"echo_{n}")(v),
    "new_then_load": lambda ffi, lib, n, t, v: getattr(lib, f"load_{n}")(ffi.new(f"{t} *", v)),
    "store_through_pointer": lambda ffi, lib, n, t, v: (
        lambda p: (getattr(lib, f"store_{n}")(p, v), p[0])[1])(ffi.new(f"{t} *")),
    "struct_by_value": lambda ffi, lib, n, t, v: (lambda b: (b.pad, b.value))(getattr(lib, f"box_{n}")(v)),
    "array_roundtrip": lambda ffi, lib, n, t, v: list(ffi.new(f"{t}[3]", [v, v, v])),
}


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(TYPES)), op=st.sampled_from(sorted(OPERATIONS)), value=values)
def test_boundary_conversions_same_as_cffi(built, reference, name, op, value):
    fn = OPERATIONS[op]
    mine = outcome(lambda: fn(built.ffi, built.lib, name, TYPES[name], value))
    ref = outcome(lambda: fn(reference.ffi, reference.lib, name, TYPES[name], value))
    assert mine == ref, f"{op} {TYPES[name]} {value!r}: wasmcffi {mine} vs cffi {ref}"
