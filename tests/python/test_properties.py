"""Property tests: random values through wasmcffi and cffi give the same outcome."""

from hypothesis import given, settings, strategies as st

from conftest import Pair

INT_TYPES = [
    "char", "signed char", "unsigned char", "short", "unsigned short", "int", "unsigned int",
    "long", "unsigned long", "long long", "unsigned long long", "int8_t", "uint8_t", "int16_t",
    "uint16_t", "int32_t", "uint32_t", "int64_t", "uint64_t", "size_t", "ssize_t", "intptr_t",
    "_Bool", "wchar_t", "char16_t", "char32_t",
]
FLOAT_TYPES = ["float", "double", "long double"]
PAIR = Pair("struct s { short a; unsigned char b : 3; int c : 5; double d; };")

values = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-300, max_value=300),
    st.floats(allow_nan=False),
    st.booleans(),
    st.binary(max_size=2),
    st.text(max_size=2),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(ctype=st.sampled_from(INT_TYPES + FLOAT_TYPES), value=values)
def test_new_scalar_same_as_cffi(ctype, value):
    PAIR.same(lambda ffi: ffi.new(ctype + " *", value)[0])


@settings(max_examples=300, deadline=None)
@given(ctype=st.sampled_from(INT_TYPES + FLOAT_TYPES), value=values)
def test_cast_same_as_cffi(ctype, value):
    PAIR.same(lambda ffi: ffi.cast(ctype, value))


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from("abcd"), value=values)
def test_struct_field_assignment_same_as_cffi(field, value):
    def assign(ffi):
        p = ffi.new("struct s *")
        setattr(p, field, value)
        return (p.a, p.b, p.c, p.d)

    PAIR.same(assign)


@settings(max_examples=200, deadline=None)
@given(items=st.lists(st.integers(min_value=-(2**40), max_value=2**40), max_size=6), length=st.integers(0, 5))
def test_array_initializers_same_as_cffi(items, length):
    PAIR.same(lambda ffi: list(ffi.new(f"int[{length}]", items)))
    PAIR.same(lambda ffi: list(ffi.new("long long[]", items)))


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=12), size=st.integers(0, 8))
def test_char_arrays_same_as_cffi(data, size):
    PAIR.same(lambda ffi: ffi.string(ffi.new(f"char[{size}]", data)))
    PAIR.same(lambda ffi: ffi.unpack(ffi.new("char[]", data), len(data)))
