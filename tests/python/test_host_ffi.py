"""wasmcffi-specific behaviour of the host FFI: what CFFI leaves undefined
(and wasmcffi makes safe), identities, and features still to come."""

import gc
import weakref

import pytest

import wasmcffi
from wasmcffi import FFI


@pytest.fixture
def ffi():
    ffi = FFI()
    ffi.cdef("""
        struct point { int x, y; };
        struct vls { int n; double items[]; };
        typedef struct partial_s { int a; ...; } partial_t;
        typedef int... unknown_int_t;
        int add(int, int);
        extern int counter;
        #define ANSWER 42
    """)
    return ffi


def test_ctype_objects_are_unique(ffi):
    assert ffi.typeof("struct point *") is ffi.typeof("struct point*")
    assert ffi.typeof("struct point *").item is ffi.typeof("struct point")
    assert ffi.typeof(ffi.new("int[3]")) is ffi.typeof("int[3]")


def test_sizes_come_from_the_host_data_model(ffi):
    # The host is LP64 here: `long` and pointers have the same size.
    assert ffi.sizeof("long") == ffi.sizeof("void *")
    assert ffi.sizeof("struct vls") == ffi.alignof("double")


def test_released_memory_raises_instead_of_crashing(ffi):
    p = ffi.new("int[4]", [1, 2, 3, 4])
    view = p + 1
    ffi.release(p)
    with pytest.raises(RuntimeError, match="released"):
        p[0]
    with pytest.raises(RuntimeError, match="released"):
        view[0]
    ffi.release(p)  # a second release is harmless


def test_null_struct_pointer_field_raises(ffi):
    # CFFI segfaults here; wasmcffi raises.
    with pytest.raises(RuntimeError, match="null pointer"):
        ffi.cast("struct point *", 0).x


def test_views_keep_their_owner_alive(ffi):
    p = ffi.new("struct point *", [1, 2])
    s = p[0]
    ref = weakref.ref(p)
    del p
    gc.collect()
    assert ref() is None
    assert (s.x, s.y) == (1, 2)


def test_handles_are_small_and_released_with_their_cdata(ffi):
    obj = object()
    h = ffi.new_handle(obj)
    value = int(ffi.cast("uintptr_t", h))
    assert 0 < value < 2**32
    assert ffi.from_handle(h) is obj
    del h
    gc.collect()
    with pytest.raises(RuntimeError, match="not a live handle"):
        ffi.from_handle(ffi.cast("void *", value))


def test_partial_and_unknown_types_need_a_compiled_module(ffi):
    assert ffi.typeof("partial_t *").kind == "pointer"
    with pytest.raises(wasmcffi.VerificationMissing):
        ffi.sizeof("partial_t")
    with pytest.raises(NotImplementedError, match="unknown_int_t"):
        ffi.typeof("unknown_int_t")


def test_dlopen_missing_symbols_raise_at_use(ffi):
    lib = ffi.dlopen(None)
    assert lib.ANSWER == 42
    assert "ANSWER" in dir(lib) and "add" in dir(lib)
    # `add` and `counter` are declared but not in the C library: found missing when used.
    with pytest.raises(AttributeError, match="add"):
        lib.add
    with pytest.raises(AttributeError, match="counter"):
        lib.counter
    with pytest.raises(AttributeError):
        lib.nope
    with pytest.raises(OSError, match="cannot load library"):
        ffi.dlopen("/nonexistent/libnope.so")


def test_features_not_built_yet_say_so(ffi):
    with pytest.raises(ValueError, match="set_source"):
        ffi.compile()


def test_function_pointer_null_call_raises(ffi):
    with pytest.raises(RuntimeError, match="null pointer"):
        ffi.cast("int(*)(int)", 0)(1)


def test_dlclose_keeps_taken_functions_callable():
    ffi = FFI()
    ffi.cdef("int abs(int);")
    lib = ffi.dlopen("libc.so.6")
    abs_ = lib.abs
    ffi.dlclose(lib)
    with pytest.raises(ValueError, match="closed"):
        lib.abs
    # The library stays mapped while a function pointer taken from it lives.
    assert abs_(-3) == 3


def test_cdef_errors_name_the_line(ffi):
    with pytest.raises(wasmcffi.CDefError) as info:
        ffi.cdef("int a;\nstruct s { foo_t x; };\n")
    assert ":2:" in str(info.value)


def test_cdef_error_leaves_declarations_unchanged(ffi):
    with pytest.raises(wasmcffi.CDefError):
        ffi.cdef("struct fresh { int a; };\nstruct broken { nope_t b; };")
    # Neither struct was declared: naming one only makes an incomplete struct, as in CFFI.
    with pytest.raises(ValueError, match="unknown size"):
        ffi.sizeof("struct fresh")


def test_include_copies_declarations(ffi):
    other = FFI()
    other.include(ffi)
    assert other.sizeof("struct point") == ffi.sizeof("struct point")
    assert other.dlopen(None).ANSWER == 42


def test_init_once_runs_once(ffi):
    calls = []
    assert ffi.init_once(lambda: calls.append(1) or "v", "tag") == "v"
    assert ffi.init_once(lambda: calls.append(1) or "w", "tag") == "v"
    assert calls == [1]


def test_new_allocator_default(ffi):
    alloc = ffi.new_allocator()
    p = alloc("int[3]", [1, 2, 3])
    assert list(p) == [1, 2, 3]


def test_buffer_protocol_on_host_memory(ffi):
    a = ffi.new("char[4]", b"abc")
    view = memoryview(ffi.buffer(a))
    view[0] = ord("x")
    assert ffi.string(a) == b"xbc"


def test_unpack_is_bounded_by_the_array_length(ffi):
    # CFFI reads past the end of the array here; wasmcffi refuses.
    with pytest.raises(IndexError):
        ffi.unpack(ffi.new("int[3]"), 4)
