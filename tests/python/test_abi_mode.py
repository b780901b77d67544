"""ABI mode (`ffi.dlopen`) against the real cffi: calls, globals, errno, callbacks.

Most cases are differential: the same cdef is declared on a `wasmcffi.FFI()` and
on a `cffi.FFI()`, the same library is dlopen'ed by both, the same code runs on
both and the outcomes must agree (value, or exception type and message). Each
case also states what cffi gives, so that the reference half checks itself.

The library is tests/c/abi_testlib.c, compiled by the `testlib_path` fixture;
libc and libm come from the system. Cases whose behaviour cannot be expressed
as one value (threads, stderr, object lifetimes) run on each implementation
separately (`impl` fixture) and assert the behaviour directly.

Not tested: what cffi leaves undefined (floats in the variadic part, using a
callback after its cdata died, reading through dangling pointers).
"""

import gc
import math
import sys
import threading
import weakref

import pytest

import cffi
import wasmcffi
from conftest import Pair, normalize

CDEF = """
int add(int, int);
double hyp(double, double);
char id_char(char); signed char id_schar(signed char); unsigned char id_uchar(unsigned char);
short id_short(short); unsigned short id_ushort(unsigned short);
int id_int(int); unsigned int id_uint(unsigned int);
long id_long(long); unsigned long id_ulong(unsigned long);
long long id_llong(long long); unsigned long long id_ullong(unsigned long long);
float id_float(float); double id_double(double); long double id_ldouble(long double);
_Bool id_bool(_Bool); wchar_t id_wchar(wchar_t);
int8_t id_int8(int8_t); uint8_t id_uint8(uint8_t); int16_t id_int16(int16_t); uint16_t id_uint16(uint16_t);
int32_t id_int32(int32_t); uint32_t id_uint32(uint32_t); int64_t id_int64(int64_t); uint64_t id_uint64(uint64_t);
size_t id_size(size_t); intptr_t id_intptr(intptr_t); uintptr_t id_uintptr(uintptr_t);
void *id_ptr(void *);
double mixed_args(char c, short s, int i, long l, long long ll, float f, double d,
                  unsigned char uc, unsigned short us, unsigned int ui, unsigned long ul,
                  unsigned long long ull, long double ld);
float half_f(float x);
double interleaved(signed char, double, short, float, unsigned char, double, long, float);
double all_registers(int, int, int, int, int, int, double, double, double, double, double, double,
                     double, double);
long seven_ints(long, long, long, long, long, long, long);
short narrow_short(int);
unsigned char narrow_uchar(int);
float float_of(double);
long double ld_mul(long double a, long double b);
void nothing(void);
void bump(void);
int bumped(void);

int sum_array(const int *a, int n);
double sum_doubles(const double *a, int n);
void fill(int *out, int n);
void swap_ints(int *a, int *b);
const char *greet(void);
size_t my_strlen(const char *s);
size_t wide_len(const wchar_t *s);
void *get_null(void);
const char *null_string(void);
int is_null(const void *p);
int count_strings(const char **v);
int *get_ints(void);
char first_char(const char *s);
void upper_inplace(char *s);

struct pair { int a, b; };
struct mixed { double d; char c; };
struct big { long a, b, c, d, e; };
struct witharr { int n; short v[3]; };
struct fpair { float x, y; };
union num { int i; float f; };
struct bits { unsigned a : 3; unsigned b : 5; int c; };
struct pair make_pair(int a, int b);
int pair_sum(struct pair p);
struct pair pair_swap(struct pair p);
int pair_ptr_sum(const struct pair *p);
void pair_ptr_double(struct pair *p);
struct mixed make_mixed(double d, char c);
double mixed_total(struct mixed m);
struct big make_big(long base);
long big_sum(struct big b);
struct witharr make_witharr(int n);
int witharr_sum(struct witharr w);
struct fpair make_fpair(float x, float y);
float fpair_dot(struct fpair p, struct fpair q);
union num make_num_i(int i);
int num_as_int(union num n);
struct bits make_bits(unsigned a, unsigned b, int c);
int bits_sum(struct bits x);

int sum_ints(int n, ...);
double avg(int n, ...);
long long sum_llongs(int n, ...);
size_t total_len(int n, ...);

extern int g_int;
extern double g_double;
extern int g_array[5];
extern struct pair g_pair;
extern const char *g_str;
extern int *g_ptr;
extern char g_name[16];
int read_g_int(void);
double read_g_double(void);
int read_g_array(int i);
int read_g_pair_sum(void);
int read_g_ptr(void);

int set_errno(int v);
int get_errno(void);

int apply(int (*f)(int, int), int a, int b);
void call_n(void (*cb)(int), int n);
double apply_d(double (*f)(double), double x);
int apply_pair(int (*f)(struct pair *), int a, int b);
struct pair apply_pair_val(struct pair (*f)(struct pair), int a, int b);
int with_userdata(int (*f)(void *, int), void *userdata, int x);
long long apply_ll(long long (*f)(long long), long long x);
char apply_c(char (*f)(char), char x);
float apply_f(float (*f)(float), float x);
int apply_s(int (*f)(const char *), const char *s);
void store_cb(int (*f)(int, int));
int call_stored(int a, int b);
int (*get_adder(void))(int, int);
int (*get_sub(void))(int, int);
double (*get_hyp(void))(double, double);
void *get_null_fn(void);

void spin_ms(int ms);
int not_in_the_library(int);
"""

#: libc and libm functions used by the tests.
LIBC_CDEF = """
size_t strlen(const char *s);
int snprintf(char *buf, size_t size, const char *fmt, ...);
int printf(const char *fmt, ...);
int fflush(void *stream);
void qsort(void *base, size_t nmemb, size_t size, int (*compar)(const void *, const void *));
int abs(int);
"""
LIBM_CDEF = """
double sqrt(double);
double pow(double, double);
double frexp(double, int *);
float sqrtf(float);
"""


class AbiPair(Pair):
    """A `Pair` with the same library dlopen'ed by both FFIs: cases are `fn(ffi, lib)`."""

    def __init__(self, cdef, path, *flags):
        super().__init__(cdef)
        self.libs = {}
        for ffi in (self.w, self.c):
            try:
                self.libs[id(ffi)] = ffi.dlopen(path, *flags)
            except Exception as exc:  # noqa: BLE001 - reported when a case uses it
                self.libs[id(ffi)] = exc

    def lib(self, ffi):
        lib = self.libs[id(ffi)]
        if isinstance(lib, Exception):
            raise lib
        return lib

    def check(self, fn, *, ok=None, raises=None, messages=True):
        """Runs `fn(ffi, lib)` on both; asserts cffi gives `ok` (a value) or
        raises `raises` (a type), and that wasmcffi does the same."""
        mine, ref = self.run(lambda ffi: fn(ffi, self.lib(ffi)))
        if raises is not None:
            assert ref[:2] == ("raise", raises.__name__), f"cffi gave {ref}"
        else:
            assert ref == ("ok", normalize(ok)), f"cffi gave {ref}"
        if messages:
            assert mine == ref, f"wasmcffi {mine} vs cffi {ref}"
        else:
            assert mine[:2] == ref[:2], f"wasmcffi {mine} vs cffi {ref}"
        return mine


@pytest.fixture
def abi(testlib_path):
    """An `AbiPair` on the test library."""
    return AbiPair(CDEF, testlib_path)


@pytest.fixture
def libc(libc_path):
    return AbiPair(LIBC_CDEF, libc_path)


@pytest.fixture
def libm(libm_path):
    return AbiPair(LIBM_CDEF, libm_path)


@pytest.fixture(params=["wasmcffi", "cffi"])
def impl(request):
    """Each implementation in turn, for cases checked directly rather than by comparison."""
    return {"wasmcffi": wasmcffi, "cffi": cffi}[request.param]


@pytest.fixture
def unraisable(monkeypatch):
    """Collects what callbacks report through `sys.unraisablehook` (as cffi does)
    instead of letting pytest turn it into a warning."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen


def signed(ffi, ctype):
    return int(ffi.cast(ctype, -1)) < 0


def int_range(ffi, ctype):
    """(min, max) of an integer type, from its size and signedness on `ffi`'s target."""
    bits = 8 * ffi.sizeof(ctype)
    if signed(ffi, ctype):
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


# ---------------------------------------------------------------- loading

def test_dlopen_path_calls_add(abi):
    abi.check(lambda ffi, lib: lib.add(40, 2), ok=42)


def test_dlopen_flags_constants(pair):
    names = ["RTLD_LAZY", "RTLD_NOW", "RTLD_GLOBAL", "RTLD_LOCAL", "RTLD_NODELETE", "RTLD_NOLOAD", "RTLD_DEEPBIND"]
    pair().same(lambda ffi: [getattr(ffi, n) for n in names])


@pytest.mark.parametrize("flags", ["RTLD_NOW", "RTLD_LAZY", "RTLD_NOW | RTLD_GLOBAL", "RTLD_LAZY | RTLD_LOCAL"])
def test_dlopen_flags_accepted(testlib_path, flags):
    p = Pair(CDEF)

    def run(ffi):
        value = eval(flags, {n: getattr(ffi, n) for n in dir(ffi) if n.startswith("RTLD_")})
        return ffi.dlopen(testlib_path, value).add(1, 2)

    p.same(run)


def test_dlopen_noload_of_a_loaded_library(abi, testlib_path):
    # abi holds the library open, so RTLD_NOLOAD finds it.
    abi.check(lambda ffi, lib: ffi.dlopen(testlib_path, ffi.RTLD_NOW | ffi.RTLD_NOLOAD).add(2, 3), ok=5)


def test_dlopen_none_reaches_libc(pair):
    pair("size_t strlen(const char *);").same(lambda ffi: ffi.dlopen(None).strlen(b"hello"))


def test_dlopen_libc_by_name(libc):
    libc.check(lambda ffi, lib: (lib.strlen(b"abcd"), lib.abs(-7)), ok=(4, 7))


def test_dlopen_libm_by_name(libm):
    libm.check(lambda ffi, lib: (lib.sqrt(16.0), lib.pow(2.0, 10.0), lib.sqrtf(2.25)), ok=(4.0, 1024.0, 1.5))


def test_dlopen_libm_out_parameter(libm):
    def run(ffi, lib):
        exp = ffi.new("int *")
        return lib.frexp(48.0, exp), exp[0]

    libm.check(run, ok=(0.75, 6))


@pytest.mark.parametrize("name", ["/nonexistent/dir/libnothing.so", "libwasmcffi_nothing_here.so"])
def test_dlopen_bad_path_oserror(pair, name):
    p = pair(CDEF)
    got = p.same(lambda ffi: ffi.dlopen(name), messages=False)
    assert got[1] == "OSError" and name in got[2]


def test_dlopen_not_a_library_oserror(pair, tmp_path):
    bogus = tmp_path / "libbogus.so"
    bogus.write_bytes(b"not an ELF file")
    got = pair(CDEF).same(lambda ffi: ffi.dlopen(str(bogus)), messages=False)
    assert got[1] == "OSError"


def test_dlopen_bad_argument_type(pair):
    pair(CDEF).same(lambda ffi: ffi.dlopen(42), messages=False)


def test_missing_symbol_attributeerror_at_use(abi, testlib_path):
    # dlopen succeeds although a declared function is missing; using it raises.
    abi.check(lambda ffi, lib: lib.add(1, 1), ok=2)
    got = abi.check(lambda ffi, lib: lib.not_in_the_library, raises=AttributeError, messages=False)
    assert "not_in_the_library" in got[2]
    got = abi.check(lambda ffi, lib: lib.not_in_the_library(1), raises=AttributeError, messages=False)
    assert "not_in_the_library" in got[2]


def test_undeclared_name_attributeerror(abi):
    abi.check(lambda ffi, lib: lib.hyp_not_declared, raises=AttributeError)
    abi.check(lambda ffi, lib: ffi.addressof(lib, "hyp_not_declared"), raises=AttributeError)


def test_dir_lists_declarations(abi):
    abi.check(lambda ffi, lib: {"add", "hyp", "g_int", "sum_ints"} <= set(dir(lib)), ok=True)


def test_dlclose_then_call_valueerror(abi, testlib_path):
    def run(ffi, lib):
        other = ffi.dlopen(testlib_path)
        assert other.add(1, 2) == 3
        ffi.dlclose(other)
        return other.add(1, 2)

    got = abi.check(run, raises=ValueError, messages=False)
    assert "closed" in got[2]


def test_dlclose_twice_is_harmless(abi, testlib_path):
    def run(ffi, lib):
        other = ffi.dlopen(testlib_path)
        return ffi.dlclose(other), ffi.dlclose(other), lib.add(2, 2)

    abi.check(run, ok=(None, None, 4))


# ---------------------------------------------------------------- primitives in and out

INT_FUNCS = {
    "schar": "signed char", "uchar": "unsigned char", "short": "short", "ushort": "unsigned short",
    "int": "int", "uint": "unsigned int", "long": "long", "ulong": "unsigned long",
    "llong": "long long", "ullong": "unsigned long long",
    "int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "uint16": "uint16_t",
    "int32": "int32_t", "uint32": "uint32_t", "int64": "int64_t", "uint64": "uint64_t",
    "size": "size_t", "intptr": "intptr_t", "uintptr": "uintptr_t",
}


@pytest.mark.parametrize("suffix", sorted(INT_FUNCS))
def test_primitive_int_roundtrip(abi, suffix):
    ctype = INT_FUNCS[suffix]

    def run(ffi, lib):
        lo, hi = int_range(ffi, ctype)
        values = [lo, lo + 1, 0, 1, 100, hi - 1, hi]
        fn = getattr(lib, "id_" + suffix)
        return [fn(v) == v and type(fn(v)) is int for v in values]

    abi.check(run, ok=[True] * 7)


@pytest.mark.parametrize("suffix", sorted(INT_FUNCS))
@pytest.mark.parametrize("side", ["below", "above"])
def test_primitive_int_overflow(abi, suffix, side):
    ctype = INT_FUNCS[suffix]

    def run(ffi, lib):
        lo, hi = int_range(ffi, ctype)
        return getattr(lib, "id_" + suffix)(lo - 1 if side == "below" else hi + 1)

    abi.check(run, raises=OverflowError)


@pytest.mark.parametrize("suffix", sorted(INT_FUNCS))
@pytest.mark.parametrize("bad", ["1.5", "'1'", "b'1'", "None", "[1]", "ffi.cast('double', 1.0)"])
def test_primitive_int_bad_type(abi, suffix, bad):
    abi.check(lambda ffi, lib: getattr(lib, "id_" + suffix)(eval(bad)), raises=TypeError)


@pytest.mark.parametrize("suffix", ["int", "long", "uint8", "llong"])
def test_primitive_int_accepts_int_cdata_and_bool(abi, suffix):
    abi.check(lambda ffi, lib: (getattr(lib, "id_" + suffix)(ffi.cast("int", 7)), getattr(lib, "id_" + suffix)(True)),
              ok=(7, 1))


@pytest.mark.parametrize(("value", "expected"), [
    ("b'\\x00'", b"\x00"), ("b'a'", b"a"), ("b'\\x7f'", b"\x7f"), ("b'\\xff'", b"\xff"), ("ffi.cast('char', 66)", b"B"),
])
def test_primitive_char_roundtrip(abi, value, expected):
    abi.check(lambda ffi, lib: lib.id_char(eval(value)), ok=expected)


@pytest.mark.parametrize("value", ["97", "b'ab'", "b''", "'a'", "None"])
def test_primitive_char_bad(abi, value):
    abi.check(lambda ffi, lib: lib.id_char(eval(value)), raises=TypeError)


@pytest.mark.parametrize("value", [True, False, 0, 1])
def test_primitive_bool_roundtrip(abi, value):
    abi.check(lambda ffi, lib: lib.id_bool(value), ok=bool(value))


@pytest.mark.parametrize("value", [2, -1])
def test_primitive_bool_overflow(abi, value):
    abi.check(lambda ffi, lib: lib.id_bool(value), raises=OverflowError)


@pytest.mark.parametrize("value", ["a", "\xe9", "\u20ac", "\U0001f600"])
def test_primitive_wchar_roundtrip(abi, value):
    def run(ffi, lib):
        if ord(value) > 0xFFFF and ffi.sizeof("wchar_t") < 4:
            return value  # a 16-bit wchar_t cannot hold it
        return lib.id_wchar(value)

    abi.check(run, ok=value)


@pytest.mark.parametrize("value", ["'ab'", "65", "b'a'"])
def test_primitive_wchar_bad(abi, value):
    # cffi's message names 'char32_t' for a 4-byte wchar_t: only the type is compared.
    abi.check(lambda ffi, lib: lib.id_wchar(eval(value)), raises=TypeError, messages=False)


DOUBLES = [0.0, -0.0, 1.5, -2.25, 0.1, 1e308, -1e-308, 5e-324, math.inf, -math.inf, math.nan, 2**53 + 1, 7]


@pytest.mark.parametrize("value", DOUBLES, ids=repr)
def test_primitive_double_roundtrip(abi, value):
    abi.check(lambda ffi, lib: repr(lib.id_double(value)), ok=repr(float(value)))


@pytest.mark.parametrize("value", DOUBLES + [1e300, 3.4e38], ids=repr)
def test_primitive_float_roundtrip(abi, value):
    # the value rounded to single precision, as C does it
    import struct

    with_c = struct.unpack("f", struct.pack("f", value))[0] if abs(value) < 3.5e38 or math.isinf(value) or math.isnan(value) else math.copysign(math.inf, value)
    abi.check(lambda ffi, lib: repr(lib.id_float(value)), ok=repr(with_c))


@pytest.mark.parametrize("value", [0.0, 1.5, -2.25, 1e300, 2**70])
def test_primitive_long_double_roundtrip(abi, value):
    def run(ffi, lib):
        r = lib.id_ldouble(value)
        return ffi.typeof(r).cname, float(r), r

    # the third item is the cdata repr, e.g. "<cdata 'long double' 1.500000E+00>"
    mine, ref = abi.run(lambda ffi: run(ffi, abi.lib(ffi)))
    assert ref[0] == "ok" and ref[1][:2] == ("long double", float(value))
    assert mine == ref


def test_primitive_long_double_arithmetic(abi):
    abi.check(lambda ffi, lib: float(lib.ld_mul(1.5, lib.id_ldouble(4.0))), ok=6.0)


@pytest.mark.parametrize("suffix", ["double", "float", "ldouble"])
@pytest.mark.parametrize("bad", ["'x'", "None", "b'1'", "ffi.cast('int', 3)"])
def test_primitive_float_bad_type(abi, suffix, bad):
    abi.check(lambda ffi, lib: getattr(lib, "id_" + suffix)(eval(bad)), raises=TypeError)


def test_primitive_float_accepts_int_and_cdata(abi):
    abi.check(lambda ffi, lib: (lib.id_double(3), lib.half_f(3), lib.id_double(ffi.cast("double", 0.5))), ok=(3.0, 1.5, 0.5))


def test_primitive_many_mixed_arguments(abi):
    # 13 arguments of every kind: registers and stack on every ABI.
    abi.check(lambda ffi, lib: lib.mixed_args(b"\x01", 2, 3, 4, 5, 6.0, 7.0, 8, 9, 10, 11, 12, 13.0), ok=91.0)


def test_register_placement_of_mixed_arguments(abi):
    # Calls whose values all fit registers skip libffi (see register_call.rs):
    # integer and floating arguments interleaved, narrow negative integers,
    # every argument register in use, and one integer past them.
    abi.check(lambda ffi, lib: (lib.interleaved(-3, 0.5, -2, 0.25, 200, 1.5, -7, 0.125),
                                lib.all_registers(1, 2, 3, 4, 5, 6, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5),
                                lib.seven_ints(1, 2, 3, 4, 5, 6, -7)),
              ok=(-3 + 1.0 - 6 + 1.0 + 1000 + 9.0 - 49 + 1.0, -3 - 12.5, 42))


def test_register_results_are_narrowed(abi):
    abi.check(lambda ffi, lib: (lib.narrow_short(40000), lib.narrow_uchar(-1), lib.float_of(0.1)),
              ok=(-25536, 255, 0.10000000149011612))


def test_void_function_returns_none(abi):
    abi.check(lambda ffi, lib: (lib.nothing(), ffi.typeof(lib.nothing)), ok=(None, "<ctype 'void(*)()'>"))


def test_hyp(abi):
    abi.check(lambda ffi, lib: lib.hyp(3.0, 4.0), ok=5.0)


@pytest.mark.parametrize("name", ["add", "hyp", "greet", "get_adder", "sum_ints", "make_pair", "apply"])
def test_function_attribute_type(abi, name):
    got = abi.run(lambda ffi: (ffi.typeof(getattr(abi.lib(ffi), name)), getattr(abi.lib(ffi), name)))
    assert got[1][0] == "ok"
    assert got[0] == got[1]


# ---------------------------------------------------------------- argument count and types

@pytest.mark.parametrize("args", ["()", "(1,)", "(1, 2, 3)"])
def test_call_wrong_arg_count(abi, args):
    abi.check(lambda ffi, lib: lib.add(*eval(args)), raises=TypeError)


def test_call_void_function_with_arguments(abi):
    abi.check(lambda ffi, lib: lib.nothing(1), raises=TypeError)


def test_call_keyword_arguments_refused(abi):
    abi.check(lambda ffi, lib: lib.add(a=1, b=2), raises=TypeError, messages=False)


@pytest.mark.parametrize("call", [
    "lib.add(1.5, 1)", "lib.add('x', 1)", "lib.add(None, 1)", "lib.add(1, b'1')", "lib.add(1, ffi.NULL)",
    "lib.id_double('x')", "lib.id_int(ffi.cast('double', 3.7))",
])
def test_call_bad_argument_type(abi, call):
    abi.check(lambda ffi, lib: eval(call), raises=TypeError)


def test_call_overflow_second_argument(abi):
    abi.check(lambda ffi, lib: lib.add(1, 2**31), raises=OverflowError)


def test_call_bad_arguments_call_nothing(abi):
    # Conversion errors are raised before the C function runs.
    def run(ffi, lib):
        buf = ffi.new("int[3]", [7, 7, 7])
        before = lib.bumped()
        errors = []
        for bad in [lambda: lib.bump(1), lambda: lib.fill(buf, 2**40), lambda: lib.fill(buf, "3")]:
            try:
                bad()
            except (TypeError, OverflowError) as exc:
                errors.append(type(exc).__name__)
        return errors, lib.bumped() - before, list(buf)

    abi.check(run, ok=(["TypeError", "OverflowError", "TypeError"], 0, [7, 7, 7]))


# ---------------------------------------------------------------- pointers and arrays

def test_pointer_list_to_temporary_array(abi):
    abi.check(lambda ffi, lib: (lib.sum_array([1, 2, 3, 4], 4), lib.sum_array((5, 6), 2), lib.sum_array([], 0)),
              ok=(10, 11, 0))


def test_pointer_list_of_doubles(abi):
    abi.check(lambda ffi, lib: lib.sum_doubles([0.5, 1.5, 2], 3), ok=4.0)


def test_pointer_list_bad_item(abi):
    abi.check(lambda ffi, lib: lib.sum_array([1, "x"], 2), raises=TypeError)


def test_pointer_list_item_overflow(abi):
    abi.check(lambda ffi, lib: lib.sum_array([1, 2**40], 2), raises=OverflowError)


def test_pointer_cdata_array(abi):
    abi.check(lambda ffi, lib: lib.sum_array(ffi.new("int[]", [1, 2, 3]), 3), ok=6)


def test_pointer_out_parameter(abi):
    def run(ffi, lib):
        out = ffi.new("int[5]")
        lib.fill(out, 5)
        return list(out)

    abi.check(run, ok=[0, 1, 4, 9, 16])


def test_pointer_swap(abi):
    def run(ffi, lib):
        a, b = ffi.new("int *", 1), ffi.new("int *", 2)
        lib.swap_ints(a, b)
        return a[0], b[0]

    abi.check(run, ok=(2, 1))


def test_pointer_pointer_arithmetic_argument(abi):
    abi.check(lambda ffi, lib: lib.sum_array(ffi.new("int[]", [1, 2, 3, 4]) + 2, 2), ok=7)


@pytest.mark.parametrize("arg", ["ffi.new('double[2]')", "ffi.new('long[2]')", "ffi.new('unsigned int[2]')",
                                 "ffi.new('struct pair *')", "b'abcd'"])
def test_pointer_wrong_pointer_type(abi, arg):
    abi.check(lambda ffi, lib: lib.sum_array(eval(arg), 0), raises=TypeError)


def test_pointer_void_accepts_any_pointer(abi):
    abi.check(lambda ffi, lib: (lib.is_null(ffi.new("int *")), lib.is_null(ffi.new("struct pair *")),
                                lib.is_null(ffi.NULL), lib.is_null(ffi.cast("void *", 0))), ok=(0, 0, 1, 1))


def test_pointer_null_from_ffi_null(abi):
    abi.check(lambda ffi, lib: (lib.sum_array(ffi.NULL, 0), lib.id_ptr(ffi.NULL) == ffi.NULL), ok=(0, True))


def test_pointer_none_for_pointer_argument(abi):
    # The issue asks for "None for NULL"; cffi 1.17+/2.x refuses None for a pointer argument.
    abi.check(lambda ffi, lib: lib.is_null(None), raises=TypeError)


@pytest.mark.parametrize("arg", ["0", "1.0", "'x'"])
def test_pointer_non_pointer_argument(abi, arg):
    abi.check(lambda ffi, lib: lib.is_null(eval(arg)), raises=TypeError)


def test_pointer_identity_keeps_address(abi):
    def run(ffi, lib):
        p = ffi.new("int[2]")
        q = lib.id_ptr(p)
        return q == p, ffi.typeof(q), ffi.cast("int *", q) == p

    abi.check(run, ok=(True, "<ctype 'void *'>", True))


def test_pointer_returned_array(abi):
    abi.check(lambda ffi, lib: (ffi.typeof(lib.get_ints()), lib.get_ints()[3], list(ffi.unpack(lib.get_ints(), 4))),
              ok=("<ctype 'int *'>", 40, [10, 20, 30, 40]))


def test_pointer_returning_null(abi):
    abi.check(lambda ffi, lib: (lib.get_null(), lib.get_null() == ffi.NULL, lib.null_string(), bool(lib.null_string())),
              ok=("<cdata 'void *' NULL>", True, "<cdata 'char *' NULL>", False))


def test_char_pointer_from_bytes(abi):
    abi.check(lambda ffi, lib: (lib.my_strlen(b"hello"), lib.my_strlen(b""), lib.first_char(b"xyz")), ok=(5, 0, b"x"))


def test_char_pointer_from_char_array(abi):
    def run(ffi, lib):
        buf = ffi.new("char[]", b"abc")
        lib.upper_inplace(buf)
        return lib.my_strlen(buf), ffi.string(buf)

    abi.check(run, ok=(3, b"ABC"))


def test_char_pointer_from_unsigned_char_array(abi):
    abi.check(lambda ffi, lib: lib.my_strlen(ffi.new("unsigned char[]", b"ab")), ok=2)


# (None is left out: an implementation that took it as NULL would crash strlen; see is_null.)
@pytest.mark.parametrize("arg", ["'hello'", "bytearray(b'abc')", "42", "[104, 105, 0]"])
def test_char_pointer_bad(abi, arg):
    abi.check(lambda ffi, lib: lib.my_strlen(eval(arg)), raises=TypeError)


def test_char_pointer_returned(abi):
    abi.check(lambda ffi, lib: (ffi.typeof(lib.greet()), ffi.string(lib.greet()), ffi.string(lib.greet(), 5)),
              ok=("<ctype 'char *'>", b"hello, world", b"hello"))


@pytest.mark.parametrize("text", ["", "abc", "h\xe9llo", "\u20ac\u20ac", "\U0001f600x"])
def test_wchar_pointer_from_str(abi, text):
    def run(ffi, lib):
        per_char = 1 if ffi.sizeof("wchar_t") >= 4 else 2
        return lib.wide_len(text), sum(per_char if ord(c) > 0xFFFF else 1 for c in text)

    got = abi.run(lambda ffi: run(ffi, abi.lib(ffi)))
    assert got[1][0] == "ok" and got[1][1][0] == got[1][1][1]
    assert got[0] == got[1]


@pytest.mark.parametrize("arg", ["b'abc'", "42"])
def test_wchar_pointer_bad(abi, arg):
    abi.check(lambda ffi, lib: lib.wide_len(eval(arg)), raises=TypeError)


def test_char_pointer_array_of_cdata(abi):
    def run(ffi, lib):
        a, b = ffi.new("char[]", b"a"), ffi.new("char[]", b"b")
        return lib.count_strings([a, b, ffi.NULL])

    abi.check(run, ok=2)


def test_char_pointer_array_of_bytes_refused(abi):
    # Only a direct `char *` argument gets bytes; items of a list do not.
    abi.check(lambda ffi, lib: lib.count_strings([b"a", ffi.NULL]), raises=TypeError)


# ---------------------------------------------------------------- structs and unions by value

def test_struct_small_returned(abi):
    abi.check(lambda ffi, lib: (lib.make_pair(3, 4).a, lib.make_pair(3, 4).b, ffi.typeof(lib.make_pair(3, 4))),
              ok=(3, 4, "<ctype 'struct pair'>"))


def test_struct_small_repr(abi):
    got = abi.run(lambda ffi: abi.lib(ffi).make_pair(1, 2))
    assert got[1][0] == "ok" and "struct pair" in got[1][1]
    assert got[0] == got[1]


@pytest.mark.parametrize("arg", ["[3, 4]", "(3, 4)", "{'a': 3, 'b': 4}", "ffi.new('struct pair *', [3, 4])[0]", "lib.make_pair(3, 4)"])
def test_struct_small_passed(abi, arg):
    abi.check(lambda ffi, lib: lib.pair_sum(eval(arg)), ok=7)


def test_struct_passed_and_returned(abi):
    abi.check(lambda ffi, lib: (lambda q: (q.a, q.b))(lib.pair_swap([1, 2])), ok=(2, 1))


def test_struct_by_value_is_a_copy(abi):
    def run(ffi, lib):
        p = ffi.new("struct pair *", [5, 6])
        q = lib.pair_swap(p[0])
        q.a = 100
        return p.a, p.b, q.a, q.b

    abi.check(run, ok=(5, 6, 100, 5))


def test_struct_pointer_argument(abi):
    def run(ffi, lib):
        p = ffi.new("struct pair *", [5, 6])
        lib.pair_ptr_double(p)
        return lib.pair_ptr_sum(p), p.a, p.b

    abi.check(run, ok=(22, 10, 12))


@pytest.mark.parametrize(("call", "error"), [
    ("lib.pair_sum(ffi.new('struct pair *', [1, 2]))", TypeError),
    ("lib.pair_ptr_sum(ffi.new('struct pair *')[0])", TypeError),
    ("lib.pair_ptr_sum([1, 2])", TypeError),
    ("lib.pair_sum(1)", TypeError),
    ("lib.pair_sum([1, 2, 3])", ValueError),
    ("lib.pair_sum({'z': 1})", KeyError),
])
def test_struct_bad_argument(abi, call, error):
    abi.check(lambda ffi, lib: eval(call), raises=error)


def test_struct_overflowing_field(abi):
    abi.check(lambda ffi, lib: lib.pair_sum([2**40, 1]), raises=OverflowError)


def test_struct_mixed_double_char(abi):
    abi.check(lambda ffi, lib: (lambda m: (m.d, m.c))(lib.make_mixed(1.5, b"x")), ok=(1.5, b"x"))
    abi.check(lambda ffi, lib: lib.mixed_total([1.5, b"\x01"]), ok=2.5)


def test_struct_large_five_longs(abi):
    abi.check(lambda ffi, lib: (lambda b: [b.a, b.b, b.c, b.d, b.e])(lib.make_big(10)), ok=[10, 11, 12, 13, 14])
    abi.check(lambda ffi, lib: lib.big_sum(lib.make_big(10)), ok=60)
    abi.check(lambda ffi, lib: lib.big_sum([1, 2, 3, 4, 5]), ok=15)


def test_struct_large_edge_values(abi):
    def run(ffi, lib):
        lo, hi = int_range(ffi, "long")
        return lib.big_sum([hi, lo, 0, 1, -1])

    abi.check(run, ok=-1)


def test_struct_with_array_field(abi):
    abi.check(lambda ffi, lib: (lambda w: (w.n, list(w.v)))(lib.make_witharr(2)), ok=(2, [2, 4, 6]))
    abi.check(lambda ffi, lib: lib.witharr_sum([1, [2, 3, 4]]), ok=10)


def test_struct_of_floats(abi):
    abi.check(lambda ffi, lib: (lambda p: (p.x, p.y))(lib.make_fpair(1.5, -2.0)), ok=(1.5, -2.0))
    abi.check(lambda ffi, lib: lib.fpair_dot([1, 2], lib.make_fpair(3, 4)), ok=11.0)


@pytest.mark.parametrize("call", ["lib.make_num_i(5)", "lib.num_as_int([5])"])
def test_union_by_value_notimplemented(abi, call):
    # cffi refuses unions by value in ABI mode (libffi has no union type).
    got = abi.check(lambda ffi, lib: eval(call), raises=NotImplementedError, messages=False)
    assert "union num" in got[2]


@pytest.mark.parametrize("call", ["lib.make_bits(1, 2, 3)", "lib.bits_sum([1, 2, 3])"])
def test_struct_bitfields_by_value_notimplemented(abi, call):
    got = abi.check(lambda ffi, lib: eval(call), raises=NotImplementedError, messages=False)
    assert "struct bits" in got[2]


def test_struct_bitfields_function_reachable(abi):
    # The error comes when calling, not when the function is looked up.
    abi.check(lambda ffi, lib: ffi.typeof(lib.bits_sum), ok="<ctype 'int(*)(struct bits)'>")


# ---------------------------------------------------------------- variadic functions

def test_variadic_ints(abi):
    abi.check(lambda ffi, lib: lib.sum_ints(3, ffi.cast("int", 1), ffi.cast("int", 2), ffi.cast("int", 3)), ok=6)


def test_variadic_no_extra_arguments(abi):
    abi.check(lambda ffi, lib: lib.sum_ints(0), ok=0)


def test_variadic_missing_fixed_argument(abi):
    abi.check(lambda ffi, lib: lib.sum_ints(), raises=TypeError)


def test_variadic_doubles(abi):
    abi.check(lambda ffi, lib: lib.avg(4, *[ffi.cast("double", x) for x in (1, 2, 3, 4.5)]), ok=2.625)


def test_variadic_long_long(abi):
    abi.check(lambda ffi, lib: lib.sum_llongs(2, ffi.cast("long long", 2**40), ffi.cast("long long", -1)), ok=2**40 - 1)


def test_variadic_pointers(abi):
    abi.check(lambda ffi, lib: lib.total_len(2, ffi.new("char[]", b"ab"), ffi.new("char[]", b"cde")), ok=5)


def test_variadic_many_arguments(abi):
    abi.check(lambda ffi, lib: lib.sum_ints(20, *[ffi.cast("int", i) for i in range(20)]), ok=190)


@pytest.mark.parametrize("extra", ["1", "1.5", "b'ab'", "None", "'x'", "[1]"])
def test_variadic_non_cdata_typeerror(abi, extra):
    abi.check(lambda ffi, lib: lib.sum_ints(1, eval(extra)), raises=TypeError)


def test_variadic_non_cdata_typeerror_position(abi):
    got = abi.check(lambda ffi, lib: lib.sum_ints(2, ffi.cast("int", 1), 2), raises=TypeError)
    assert "argument 3" in got[2]


def test_variadic_function_type(abi):
    abi.check(lambda ffi, lib: ffi.typeof(lib.sum_ints), ok="<ctype 'int(*)(int, ...)'>")


def test_variadic_snprintf(libc):
    def run(ffi, lib):
        buf = ffi.new("char[64]")
        n = lib.snprintf(buf, len(buf), b"%d|%s|%.2f|%ld", ffi.cast("int", 42), ffi.new("char[]", b"xy"),
                         ffi.cast("double", 1.5), ffi.cast("long", -7))
        return n, ffi.string(buf)

    libc.check(run, ok=(13, b"42|xy|1.50|-7"))


def test_variadic_printf_output(impl, libc_path, capfd):
    ffi = impl.FFI()
    ffi.cdef(LIBC_CDEF)
    lib = ffi.dlopen(libc_path)
    n = lib.printf(b"%s=%d\n", ffi.new("char[]", b"answer"), ffi.cast("int", 42))
    lib.fflush(ffi.NULL)
    assert n == len("answer=42\n")
    assert capfd.readouterr().out == "answer=42\n"


# ---------------------------------------------------------------- globals

def test_global_int_read_write(abi):
    def run(ffi, lib):
        before = lib.g_int
        lib.g_int = -5
        seen = (lib.g_int, lib.read_g_int())
        lib.g_int = before
        return before, seen

    abi.check(run, ok=(42, (-5, -5)))


def test_global_int_overflow(abi):
    abi.check(lambda ffi, lib: setattr(lib, "g_int", 2**40), raises=OverflowError)
    abi.check(lambda ffi, lib: setattr(lib, "g_int", "x"), raises=TypeError)
    abi.check(lambda ffi, lib: lib.g_int, ok=42)


def test_global_double(abi):
    def run(ffi, lib):
        before = lib.g_double
        lib.g_double = 0.125
        seen = lib.read_g_double()
        lib.g_double = before
        return before, seen

    abi.check(run, ok=(2.5, 0.125))


def test_global_array(abi):
    def run(ffi, lib):
        arr = lib.g_array
        info = (ffi.typeof(arr), len(arr), list(arr), ffi.sizeof(arr) == 5 * ffi.sizeof("int"))
        arr[1] = 20
        seen = lib.read_g_array(1)
        arr[1] = 2
        return info, seen

    abi.check(run, ok=(("<ctype 'int[5]'>", 5, [1, 2, 3, 4, 5], True), 20))


def test_global_array_assigned_whole(abi):
    def run(ffi, lib):
        lib.g_array = [9, 8, 7, 6, 5]
        seen = [lib.read_g_array(i) for i in range(5)]
        lib.g_array = [1, 2, 3, 4, 5]
        return seen

    abi.check(run, ok=[9, 8, 7, 6, 5])


def test_global_struct(abi):
    def run(ffi, lib):
        info = (ffi.typeof(lib.g_pair), lib.g_pair.a, lib.g_pair.b)
        lib.g_pair.a = 100
        after_field = lib.read_g_pair_sum()
        lib.g_pair = [1, 2]
        after_whole = lib.read_g_pair_sum()
        lib.g_pair = {"a": 7, "b": 8}
        return info, after_field, after_whole, lib.read_g_pair_sum()

    abi.check(run, ok=(("<ctype 'struct pair'>", 7, 8), 108, 3, 15))


def test_global_pointers(abi):
    abi.check(lambda ffi, lib: (ffi.string(lib.g_str), lib.g_ptr[0], ffi.typeof(lib.g_ptr)),
              ok=(b"global string", 3, "<ctype 'int *'>"))


def test_global_pointer_reassigned(abi):
    def run(ffi, lib):
        old = lib.g_ptr
        lib.g_ptr = lib.g_array + 4
        seen = lib.read_g_ptr()
        lib.g_ptr = old
        return seen, lib.read_g_ptr()

    abi.check(run, ok=(5, 3))


def test_global_char_array(abi):
    def run(ffi, lib):
        lib.g_name = b"xyz"
        seen = ffi.string(lib.g_name)
        lib.g_name = b"abi"
        return seen, ffi.string(lib.g_name)

    abi.check(run, ok=(b"xyz", b"abi"))


def test_global_addressof(abi):
    def run(ffi, lib):
        p = ffi.addressof(lib, "g_int")
        p[0] = 77
        seen = lib.read_g_int()
        p[0] = 42
        return ffi.typeof(p), seen, ffi.typeof(ffi.addressof(lib, "g_pair")), ffi.addressof(lib, "g_pair").b

    abi.check(run, ok=("<ctype 'int *'>", 77, "<ctype 'struct pair *'>", 8))


def test_global_addressof_array_type(abi):
    # Surprise: cffi gives the array itself ('int[5]'), not a pointer to it ('int(*)[5]').
    # Only the type is compared: indexing the other reading would go out of bounds.
    abi.check(lambda ffi, lib: ffi.typeof(ffi.addressof(lib, "g_array")), ok="<ctype 'int[5]'>")


def test_global_addressof_same_address(abi):
    abi.check(lambda ffi, lib: (ffi.addressof(lib, "g_array") == lib.g_array,
                                ffi.addressof(lib, "g_int") == ffi.addressof(lib, "g_int")), ok=(True, True))


def test_global_addressof_function(abi):
    abi.check(lambda ffi, lib: (ffi.typeof(ffi.addressof(lib, "add")), ffi.addressof(lib, "add")(2, 5)),
              ok=("<ctype 'int(*)(int, int)'>", 7))


def test_global_const_refused(testlib_path):
    # cffi handles `const` globals as constants, which dlopen() cannot provide.
    p = AbiPair("extern const int g_const;", testlib_path)
    p.check(lambda ffi, lib: lib.g_const, raises=NotImplementedError, messages=False)


def test_global_unknown_set_attributeerror(abi):
    abi.check(lambda ffi, lib: setattr(lib, "nothere", 1), raises=AttributeError)


# ---------------------------------------------------------------- errno

def test_errno_saved_after_call(abi):
    abi.check(lambda ffi, lib: (lib.set_errno(5), ffi.errno), ok=(-1, 5))


def test_errno_restored_before_call(abi):
    def run(ffi, lib):
        ffi.errno = 7
        seen = lib.get_errno()
        ffi.errno = 0
        return seen

    abi.check(run, ok=7)


def test_errno_survives_python_work(abi):
    # Python code between the call and the read (here a failing os.stat) does not clobber it.
    import os

    def run(ffi, lib):
        lib.set_errno(9)
        try:
            os.stat("/nonexistent/wasmcffi/path")
        except OSError:
            pass
        return ffi.errno

    abi.check(run, ok=9)


def test_errno_unchanged_by_call_that_does_not_set_it(abi):
    def run(ffi, lib):
        ffi.errno = 3
        lib.add(1, 2)
        return ffi.errno

    abi.check(run, ok=3)


def test_errno_too_large(pair):
    pair().same(lambda ffi: setattr(ffi, "errno", 2**40))


def test_errno_per_thread(impl, testlib_path):
    ffi = impl.FFI()
    ffi.cdef(CDEF)
    lib = ffi.dlopen(testlib_path)
    ffi.errno = 0
    barrier = threading.Barrier(2, timeout=10)
    seen = {}

    def worker(value):
        lib.set_errno(value)
        barrier.wait()  # both threads have set errno before either reads it
        seen[value] = ffi.errno
        ffi.errno = value + 1
        barrier.wait()
        seen[value, "restored"] = lib.get_errno()

    threads = [threading.Thread(target=worker, args=(v,)) for v in (11, 22)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {11: 11, 22: 22, (11, "restored"): 12, (22, "restored"): 23}
    assert ffi.errno == 0


# ---------------------------------------------------------------- the GIL

def test_gil_released_during_call(impl, testlib_path):
    ffi = impl.FFI()
    ffi.cdef(CDEF)
    lib = ffi.dlopen(testlib_path)
    count = [0]
    running = threading.Event()
    stop = threading.Event()

    def spin():
        running.set()
        while not stop.is_set():
            count[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    running.wait()
    before = count[0]
    lib.spin_ms(200)
    progress = count[0] - before
    stop.set()
    t.join()
    # With the GIL held for the whole call the counter could not move at all.
    assert progress > 1000, progress


# ---------------------------------------------------------------- callbacks

def test_callback_direct(abi):
    def run(ffi, lib):
        cb = ffi.callback("int(int, int)", lambda a, b: a * b)
        return lib.apply(cb, 6, 7), ffi.typeof(cb)

    abi.check(run, ok=(42, "<ctype 'int(*)(int, int)'>"))


def test_callback_decorator(abi):
    def run(ffi, lib):
        @ffi.callback("int(int, int)")
        def sub(a, b):
            return a - b

        return lib.apply(sub, 10, 3), sub

    got = abi.run(lambda ffi: run(ffi, abi.lib(ffi)))
    assert got[1][0] == "ok" and got[1][1][0] == 7 and "calling <function" in got[1][1][1]
    assert got[0] == got[1]


def test_callback_decorator_with_error(abi, unraisable):
    def run(ffi, lib):
        @ffi.callback("int(int, int)", error=-9)
        def boom(a, b):
            raise ValueError("no")

        return lib.apply(boom, 1, 2)

    abi.check(run, ok=-9)


def test_callback_pointer_type_spelling(abi):
    abi.check(lambda ffi, lib: ffi.typeof(ffi.callback("int(*)(int, int)", lambda a, b: 0)),
              ok="<ctype 'int(*)(int, int)'>")


def test_callback_called_from_python(abi):
    abi.check(lambda ffi, lib: (ffi.callback("int(int, int)", lambda a, b: a + b)(2, 3),
                                ffi.callback("double(double)", lambda x: x * 2)(1.25),
                                ffi.callback("void(int)", lambda x: None)(1)), ok=(5, 2.5, None))


def test_callback_called_n_times(abi):
    def run(ffi, lib):
        seen = []
        cb = ffi.callback("void(int)", seen.append)
        lib.call_n(cb, 5)
        return seen

    abi.check(run, ok=[0, 1, 2, 3, 4])


def test_callback_double(abi):
    abi.check(lambda ffi, lib: lib.apply_d(ffi.callback("double(double)", math.sqrt), 2.25), ok=1.5)


def test_callback_float(abi):
    abi.check(lambda ffi, lib: lib.apply_f(ffi.callback("float(float)", lambda x: x / 4), 3.0), ok=0.75)


def test_callback_char(abi):
    abi.check(lambda ffi, lib: lib.apply_c(ffi.callback("char(char)", lambda c: c.upper()), b"q"), ok=b"Q")


def test_callback_long_long_edges(abi):
    def run(ffi, lib):
        lo, hi = int_range(ffi, "long long")
        cb = ffi.callback("long long(long long)", lambda x: x)
        return [lib.apply_ll(cb, v) == v for v in (lo, -1, 0, hi)]

    abi.check(run, ok=[True] * 4)


def test_callback_char_pointer_argument(abi):
    abi.check(lambda ffi, lib: lib.apply_s(ffi.callback("int(const char *)", lambda s: len(ffi.string(s))), b"hello"),
              ok=5)


def test_callback_struct_pointer(abi):
    def run(ffi, lib):
        def cb(p):
            p.a += 100
            return p.a * p.b

        return lib.apply_pair(ffi.callback("int(struct pair *)", cb), 1, 2)

    abi.check(run, ok=305)


def test_callback_struct_by_value(abi):
    def run(ffi, lib):
        cb = ffi.callback("struct pair(struct pair)", lambda p: (p.b * 10, p.a * 10))
        r = lib.apply_pair_val(cb, 1, 2)
        return r.a, r.b

    abi.check(run, ok=(20, 10))


def test_callback_userdata_handle(abi):
    def run(ffi, lib):
        box = {"hits": 0}
        handle = ffi.new_handle(box)

        def cb(userdata, x):
            ffi.from_handle(userdata)["hits"] += 1
            return x * 2

        r = lib.with_userdata(ffi.callback("int(void *, int)", cb), handle, 21)
        return r, box

    abi.check(run, ok=(42, {"hits": 1}))


def test_callback_libc_qsort(libc):
    def run(ffi, lib):
        values = ffi.new("int[]", [5, -3, 9, 0, 7, 7, -10, 2])

        @ffi.callback("int(const void *, const void *)")
        def compare(a, b):
            x, y = ffi.cast("int *", a)[0], ffi.cast("int *", b)[0]
            return (x > y) - (x < y)

        lib.qsort(values, len(values), ffi.sizeof("int"), compare)
        return list(values)

    libc.check(run, ok=[-10, -3, 0, 2, 5, 7, 7, 9])


def test_callback_libc_qsort_structs(libc):
    def run(ffi, lib):
        ffi.cdef("struct kv { int key; double value; };")
        items = ffi.new("struct kv[]", [(3, 0.3), (1, 0.1), (2, 0.2)])

        def compare(a, b):
            x, y = ffi.cast("struct kv *", a).key, ffi.cast("struct kv *", b).key
            return y - x  # descending

        cb = ffi.callback("int(const void *, const void *)", compare)
        lib.qsort(items, len(items), ffi.sizeof("struct kv"), cb)
        return [(i.key, i.value) for i in items]

    libc.check(run, ok=[(3, 0.3), (2, 0.2), (1, 0.1)])


def test_callback_plain_function_refused(abi):
    abi.check(lambda ffi, lib: lib.apply(lambda a, b: a, 1, 2), raises=TypeError)


def test_callback_wrong_function_type_refused(abi):
    def run(ffi, lib):
        cb = ffi.callback("int(int)", lambda a: a)
        return lib.apply(cb, 1, 2)

    abi.check(run, raises=TypeError)


@pytest.mark.parametrize(("args", "error"), [
    ("('int', lambda a, b: 0)", TypeError),
    ("('int(int, int)', 42)", TypeError),
    ("('int(int, int)', lambda a, b: 0, 'x')", TypeError),
    ("('int(int, int)', lambda a, b: 0, 0, 3)", TypeError),
    ("('int(int, ...)', lambda a: 0)", NotImplementedError),
])
def test_callback_bad_arguments(abi, args, error):
    abi.check(lambda ffi, lib: ffi.callback(*eval(args)), raises=error)


@pytest.mark.parametrize("sig", ["union num(int)", "int(union num)", "int(struct bits)"])
def test_callback_unsupported_types(abi, sig):
    abi.check(lambda ffi, lib: ffi.callback(sig, lambda *a: 0), raises=NotImplementedError, messages=False)


def test_callback_exception_returns_error_value(abi, unraisable):
    def run(ffi, lib):
        return (lib.apply(ffi.callback("int(int, int)", lambda a, b: 1 // 0, error=-5), 1, 2),
                lib.apply(ffi.callback("int(int, int)", lambda a, b: 1 // 0), 1, 2),
                lib.apply_d(ffi.callback("double(double)", lambda x: 1 // 0, error=-1.5), 1.0))

    abi.check(run, ok=(-5, 0, -1.5))


@pytest.mark.parametrize("result", ["2**40", "'x'", "None", "1.5"])
def test_callback_bad_result_returns_error_value(abi, unraisable, result):
    abi.check(lambda ffi, lib: lib.apply(ffi.callback("int(int, int)", lambda a, b: eval(result), error=-1), 1, 2),
              ok=-1)


def test_callback_wrong_arg_count_in_python(abi, unraisable):
    abi.check(lambda ffi, lib: lib.apply(ffi.callback("int(int, int)", lambda a: a, error=-2), 1, 2), ok=-2)


def test_callback_void_returning_value(abi, unraisable):
    abi.check(lambda ffi, lib: lib.call_n(ffi.callback("void(int)", lambda i: 5), 2), ok=None)


def test_callback_exception_reported_to_unraisablehook(impl, testlib_path, unraisable):
    ffi = impl.FFI()
    ffi.cdef(CDEF)
    lib = ffi.dlopen(testlib_path)

    def boom(a, b):
        raise ZeroDivisionError("in the callback")

    assert lib.apply(ffi.callback("int(int, int)", boom, error=-3), 1, 2) == -3
    assert len(unraisable) == 1
    report = unraisable[0]
    assert report.exc_type is ZeroDivisionError and str(report.exc_value) == "in the callback"
    assert report.exc_traceback is not None
    assert report.err_msg == f"Exception ignored from cffi callback {boom!r}"


def test_callback_bad_result_reported_to_unraisablehook(impl, testlib_path, unraisable):
    ffi = impl.FFI()
    ffi.cdef(CDEF)
    lib = ffi.dlopen(testlib_path)

    def big(a, b):
        return 2**40

    assert lib.apply(ffi.callback("int(int, int)", big, error=-1), 1, 2) == -1
    assert [u.exc_type for u in unraisable] == [OverflowError]
    assert unraisable[0].err_msg == f"Exception ignored from cffi callback {big!r}, trying to convert the result back to C"


def test_callback_exception_traceback_printed(impl, testlib_path, monkeypatch, capfd):
    # With Python's default hook the report goes to stderr, traceback included.
    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)
    ffi = impl.FFI()
    ffi.cdef(CDEF)
    lib = ffi.dlopen(testlib_path)

    def failing_callback(a, b):
        raise KeyError("missing-key")

    assert lib.apply(ffi.callback("int(int, int)", failing_callback), 1, 2) == 0
    err = capfd.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "failing_callback" in err
    assert "KeyError: 'missing-key'" in err


def test_callback_onerror_value_used(impl, testlib_path, unraisable):
    ffi = impl.FFI()
    ffi.cdef(CDEF)
    lib = ffi.dlopen(testlib_path)
    calls = []

    def onerror(exc_type, exc_value, tb):
        calls.append((exc_type, str(exc_value), tb is not None))
        return 42

    cb = ffi.callback("int(int, int)", lambda a, b: 1 // 0, error=-1, onerror=onerror)
    assert lib.apply(cb, 1, 2) == 42
    assert calls == [(ZeroDivisionError, "integer division or modulo by zero", True)]
    assert unraisable == []  # handled by onerror: nothing reported


def test_callback_onerror_traceback_object(impl, testlib_path, unraisable):
    ffi = impl.FFI()
    ffi.cdef(CDEF)
    lib = ffi.dlopen(testlib_path)
    tbs = []

    def fails(a, b):
        raise RuntimeError("x")

    cb = ffi.callback("int(int, int)", fails, onerror=lambda t, v, tb: tbs.append(tb))
    lib.apply(cb, 1, 2)
    assert tbs[0].tb_frame.f_code.co_name == "fails" or any(
        f.f_code.co_name == "fails" for f in _frames(tbs[0]))


def _frames(tb):
    while tb is not None:
        yield tb.tb_frame
        tb = tb.tb_next


def test_callback_onerror_none_uses_error(abi, unraisable):
    def run(ffi, lib):
        calls = []
        cb = ffi.callback("int(int, int)", lambda a, b: 1 // 0, error=-7, onerror=lambda *a: calls.append(a[0]))
        return lib.apply(cb, 1, 2), calls

    abi.check(run, ok=(-7, [ZeroDivisionError]))
    assert unraisable == []


def test_callback_onerror_for_result_conversion(abi, unraisable):
    # onerror also sees errors converting the result; cffi passes no traceback then.
    def run(ffi, lib):
        calls = []

        def onerror(t, v, tb):
            calls.append((t, tb))
            return 5

        cb = ffi.callback("int(int, int)", lambda a, b: "not an int", error=-7, onerror=onerror)
        return lib.apply(cb, 1, 2), calls

    abi.check(run, ok=(5, [(TypeError, None)]))


def test_callback_onerror_raising(impl, testlib_path, unraisable):
    ffi = impl.FFI()
    ffi.cdef(CDEF)
    lib = ffi.dlopen(testlib_path)

    def onerror(*args):
        raise ValueError("in onerror")

    cb = ffi.callback("int(int, int)", lambda a, b: 1 // 0, error=-4, onerror=onerror)
    assert lib.apply(cb, 1, 2) == -4
    assert [u.exc_type for u in unraisable] == [ZeroDivisionError, ValueError]
    assert unraisable[1].err_msg == "Exception ignored during handling of the above exception by 'onerror'"


def test_callback_onerror_bad_return(abi, unraisable):
    abi.check(lambda ffi, lib: lib.apply(ffi.callback("int(int, int)", lambda a, b: 1 // 0, error=-4,
                                                      onerror=lambda *a: "bad"), 1, 2), ok=-4)
    assert len(unraisable) == 4  # the exception and the bad onerror result, on each side


def test_callback_kept_alive_while_cdata_lives(impl, testlib_path):
    ffi = impl.FFI()
    ffi.cdef(CDEF)
    lib = ffi.dlopen(testlib_path)

    class Adder:
        def __call__(self, a, b):
            return a + b + 1000

    target = Adder()
    ref = weakref.ref(target)
    cb = ffi.callback("int(int, int)", target)
    del target
    gc.collect()
    assert ref() is not None
    lib.store_cb(cb)
    gc.collect()
    assert lib.call_stored(1, 2) == 1003
    assert ref() is not None
    lib.store_cb(ffi.NULL)
    del cb
    gc.collect()
    assert ref() is None  # the callable goes with the callback cdata


def test_callback_stored_and_called_later(abi):
    def run(ffi, lib):
        cb = ffi.callback("int(int, int)", lambda a, b: a * 100 + b)
        lib.store_cb(cb)
        gc.collect()
        r = [lib.call_stored(1, 2), lib.call_stored(3, 4)]
        lib.store_cb(ffi.NULL)
        return r, lib.call_stored(1, 2)

    abi.check(run, ok=([102, 304], -1))


def test_callback_recursion_through_c(abi):
    def run(ffi, lib):
        def fact(n, acc):
            return acc if n <= 1 else lib.apply(cb, n - 1, acc * n)

        cb = ffi.callback("int(int, int)", fact)
        return lib.apply(cb, 6, 1)

    abi.check(run, ok=720)


def test_callback_from_another_thread(impl, testlib_path):
    ffi = impl.FFI()
    ffi.cdef(CDEF)
    lib = ffi.dlopen(testlib_path)
    seen = []
    cb = ffi.callback("void(int)", lambda i: seen.append((i, threading.get_ident())))
    t = threading.Thread(target=lib.call_n, args=(cb, 3))
    t.start()
    t.join()
    assert [i for i, _ in seen] == [0, 1, 2] and {tid for _, tid in seen} == {t.ident}


# ---------------------------------------------------------------- function pointers

def test_function_pointer_returned_by_c(abi):
    abi.check(lambda ffi, lib: (ffi.typeof(lib.get_adder()), lib.get_adder()(3, 4), lib.get_sub()(9, 4),
                                lib.get_hyp()(3.0, 4.0)), ok=("<ctype 'int(*)(int, int)'>", 7, 5, 5.0))


def test_function_pointer_same_as_lib_function(abi):
    abi.check(lambda ffi, lib: lib.get_adder() == lib.add, ok=True)


def test_function_pointer_passed_back_to_c(abi):
    abi.check(lambda ffi, lib: (lib.apply(lib.add, 2, 3), lib.apply(lib.get_sub(), 9, 4)), ok=(5, 5))


def test_function_pointer_cast_from_void_pointer(abi):
    def run(ffi, lib):
        raw = ffi.cast("void *", lib.get_sub())
        return ffi.cast("int(*)(int, int)", raw)(10, 1)

    abi.check(run, ok=9)


@pytest.mark.parametrize("call", ["lib.get_adder()(1)", "lib.get_adder()(1, 'x')", "lib.get_adder()(1, 2**40)"])
def test_function_pointer_bad_call(abi, call):
    got = abi.run(lambda ffi: eval(call, {"ffi": ffi, "lib": abi.lib(ffi)}))
    assert got[1][0] == "raise" and got[1][1] in ("TypeError", "OverflowError")
    assert got[0] == got[1]


def test_function_pointer_null_call(abi):
    got = abi.check(lambda ffi, lib: ffi.cast("int(*)(int, int)", lib.get_null_fn())(1, 2), raises=RuntimeError,
                    messages=False)
    assert "null" in got[2].lower()


def test_function_pointer_of_callback(abi):
    def run(ffi, lib):
        cb = ffi.callback("int(int, int)", lambda a, b: a - b)
        fp = ffi.cast("int(*)(int, int)", cb)
        return fp(9, 4), fp == cb

    abi.check(run, ok=(5, True))
