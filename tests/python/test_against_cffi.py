"""Differential tests: each case runs on wasmcffi and on the real cffi and must agree.

A case is (cdef text, code). The code is run with `ffi` bound to each library's
FFI; its result is the value of `r` (statements) or of the expression.
"""

import pytest

DECLS = """
struct point { int x, y; };
typedef struct { double re, im; } cplx_t;
struct node { int value; struct node *next; };
union number { int i; float f; unsigned char bytes[4]; };
struct flags { unsigned a : 3; signed b : 4; unsigned : 0; unsigned c : 1; int d; };
struct withanon { int a; union { int b; float c; }; struct { short d, e; }; };
struct vls { int n; int items[]; };
struct nested { struct point p; cplx_t c[2]; char name[8]; };
enum color { RED, GREEN = 5, BLUE, NEG = -2 };
enum big { HUGE = 0x80000000 };
typedef enum { SMALL = 1, LARGE = 2 } size_e;
typedef int (*binop_t)(int, int);
typedef struct opaque_s opaque_t;
#define ANSWER 42
#define MASK 0xff
static const int LIMIT = 7;
"""

CASES = {
    # sizes and alignments of every primitive
    **{f"sizeof_{t}": ("", f"ffi.sizeof('{t}')") for t in [
        "char", "signed char", "unsigned char", "short", "unsigned short", "int", "unsigned int",
        "long", "unsigned long", "long long", "unsigned long long", "float", "double", "long double",
        "_Bool", "bool", "wchar_t", "char16_t", "char32_t", "int8_t", "uint8_t", "int16_t", "uint16_t",
        "int32_t", "uint32_t", "int64_t", "uint64_t", "intptr_t", "uintptr_t", "size_t", "ssize_t",
        "ptrdiff_t", "intmax_t", "uintmax_t", "int_least8_t", "uint_fast16_t", "int_fast32_t",
        "void *", "char *", "int(*)(int)", "float _Complex", "double _Complex",
    ]},
    **{f"alignof_{t}": ("", f"ffi.alignof('{t}')") for t in [
        "char", "short", "int", "long", "long long", "double", "long double", "void *", "double _Complex",
    ]},
    # type names and kinds
    **{f"typeof_{i}": (DECLS, f"(ffi.typeof({t!r}), ffi.typeof({t!r}).kind, ffi.typeof({t!r}).cname)") for i, t in enumerate([
        "int", "unsigned", "long int", "unsigned long long int", "short int", "signed char", "int *", "int **",
        "const char *", "char * const", "int[3]", "int[3][4]", "int *[3]", "int (*)[3]", "int[]", "int(*)(int, ...)",
        "int(**)(int)", "void(*)(void)", "int(*)()", "struct point", "struct point *", "cplx_t", "cplx_t *",
        "union number", "enum color", "size_e", "binop_t", "binop_t *", "opaque_t *", "struct node",
        "float _Complex", "double _Complex", "_Bool", "bool", "void", "void *",
    ])},
    "typeof_item": (DECLS, "(ffi.typeof('int *').item, ffi.typeof('int[5]').item, ffi.typeof('int[5]').length, ffi.typeof('int[]').length)"),
    "typeof_function_parts": (DECLS, "t = ffi.typeof('binop_t'); r = (t.args, t.result, t.ellipsis)"),
    "typeof_enum_elements": (DECLS, "t = ffi.typeof('enum color'); r = (sorted(t.elements.items()), sorted(t.relements.items()))"),
    "typeof_fields": (DECLS, "r = [(n, f.type, f.offset, f.bitshift, f.bitsize, f.flags) for n, f in ffi.typeof('struct withanon').fields]"),
    "typeof_bitfields": (DECLS, "r = [(n, f.type, f.offset, f.bitshift, f.bitsize) for n, f in ffi.typeof('struct flags').fields]"),
    "typeof_unknown_name": (DECLS, "ffi.typeof('foo_t')"),
    "typeof_garbage": (DECLS, "ffi.typeof('int int')"),
    "typeof_bare_function": (DECLS, "ffi.typeof('int(int)')"),
    "typeof_incomplete_fields": (DECLS, "ffi.typeof('opaque_t').fields"),
    "typeof_not_a_type": (DECLS, "ffi.typeof(42)"),
    # records
    **{f"record_{i}": (DECLS, e) for i, e in enumerate([
        "ffi.sizeof('struct point')", "ffi.sizeof('cplx_t')", "ffi.sizeof('union number')",
        "ffi.sizeof('struct flags')", "ffi.alignof('struct flags')", "ffi.sizeof('struct withanon')",
        "ffi.sizeof('struct vls')", "ffi.sizeof('struct nested')", "ffi.alignof('struct nested')",
        "ffi.offsetof('struct nested', 'c')", "ffi.offsetof('struct nested', 'p.y')",
        "ffi.offsetof('struct nested', 'c', 1)", "ffi.offsetof('struct nested', 'name')",
        "ffi.offsetof('struct withanon', 'e')", "ffi.offsetof('struct vls', 'items')",
        "ffi.offsetof('int[5]', 2)", "ffi.offsetof('struct point', 'z')",
        "ffi.offsetof('struct point *', 'x')", "ffi.sizeof('opaque_t')", "ffi.sizeof('struct node')",
        "ffi.sizeof('enum color')", "ffi.sizeof('enum big')", "ffi.sizeof('size_e')",
    ])},
    # new and initializers
    **{f"new_{i}": (DECLS, e) for i, e in enumerate([
        "ffi.new('int *')", "ffi.new('int *', 5)[0]", "ffi.new('int[3]', [1, 2])", "list(ffi.new('int[3]', [1, 2]))",
        "list(ffi.new('int[]', [1, 2, 3]))", "len(ffi.new('int[]', 10))", "ffi.new('int[]', 10)",
        "ffi.new('char[]', b'hello')", "len(ffi.new('char[]', b'hello'))", "ffi.new('char[5]', b'hello')[4]",
        "ffi.new('char[2]', b'abc')", "ffi.new('int[2]', [1, 2, 3])", "ffi.new('short *', 40000)",
        "ffi.new('unsigned char *', -1)", "ffi.new('int *', 1.5)", "ffi.new('int *', '1')", "ffi.new('int *', None)[0]",
        "ffi.new('double *', 2)[0]", "ffi.new('float *', 1.1)[0]", "ffi.new('char *', b'A')[0]",
        "ffi.new('char *', 65)", "ffi.new('_Bool *', True)[0]", "ffi.new('_Bool *', 2)", "ffi.new('wchar_t *', 'x')[0]",
        "ffi.new('char16_t *', '\\u1234')[0]", "ffi.new('char32_t *', '\\U0001f600')[0]",
        "ffi.new('wchar_t[]', 'abc')", "list(ffi.new('wchar_t[]', 'abc'))", "list(ffi.new('char16_t[]', '\\U0001f600'))",
        "ffi.new('long long *', 2**63 - 1)[0]", "ffi.new('long long *', 2**63)", "ffi.new('unsigned long long *', 2**64 - 1)[0]",
        "ffi.new('int8_t *', -128)[0]", "ffi.new('uint16_t *', 65536)", "ffi.new('int *', 2**200)",
        "ffi.new('struct point *', [1, 2]).y", "ffi.new('struct point *', {'y': 5}).y", "ffi.new('struct point *', {'z': 5})",
        "ffi.new('struct point *', [1, 2, 3])", "ffi.new('struct point *', (7,)).x", "ffi.new('cplx_t *', [1.5, 2.5]).im",
        "p = ffi.new('struct nested *', {'p': [1, 2], 'c': [[1, 2], [3, 4]], 'name': b'bob'}); r = (p.p.y, p.c[1].re, ffi.string(p.name))",
        "ffi.new('union number *', [7]).i", "ffi.new('union number *', {'f': 1.0}).i", "ffi.new('union number *', [1, 2])",
        "p = ffi.new('struct withanon *', [1, 2, [3, 4]]); r = (p.a, p.b, p.d, p.e)",
        "p = ffi.new('struct withanon *', {'c': 1.5, 'e': 9}); r = (p.c, p.e)",
        "p = ffi.new('struct vls *', [3, [6, 7, 8]]); r = (p.n, len(p.items), list(p.items), ffi.sizeof(p), ffi.sizeof(p[0]))",
        "p = ffi.new('struct vls *', [3, 5]); r = (len(p.items), list(p.items))",
        "p = ffi.new('struct vls *', {'items': 4}); r = (len(p.items), p[0])",
        "ffi.new('int')", "ffi.new('void *')", "ffi.new('opaque_t *')", "ffi.new('int[]')", "ffi.new('struct point')",
        "ffi.new('enum color *', 5)[0]", "ffi.new('enum color *', 'BLUE')[0]", "ffi.new('size_e *', -1)[0]",
        "ffi.new('int *[2]', [ffi.NULL, ffi.NULL])", "ffi.new('int **', ffi.NULL)[0]",
        "a = ffi.new('int[2]'); p = ffi.new('int **', a); r = p[0] == a",
        "a = ffi.new('char[2]'); r = ffi.new('int **', a)", "a = ffi.new('int *'); r = ffi.new('void **', a)[0] == a",
        "ffi.new('int[2][3]', [[1, 2], [3]])[1][0]", "ffi.new('int[2][3]')[1]", "list(ffi.new('int[2][3]', [[1, 2, 3], [4, 5, 6]])[1])",
        "ffi.new('double _Complex *', 1+2j)[0]", "ffi.new('float _Complex *', 3)[0]",
        "ffi.new('long double *', 1.5)[0]", "float(ffi.new('long double *', 1.5)[0])",
        "ffi.new('int[3]', ffi.new('int[3]', [4, 5, 6]))[2]",
        "ffi.new('struct point *', ffi.new('struct point *', [8, 9])[0]).y",
        "ffi.new('int *', ffi.cast('int', 12))[0]", "ffi.new('char *', ffi.cast('char', 66))[0]",
        "ffi.new('int *', ffi.cast('long', 12))[0]",
    ])},
    # cast
    **{f"cast_{i}": (DECLS, e) for i, e in enumerate([
        "ffi.cast('int', 5)", "ffi.cast('int', 2**32 + 5)", "ffi.cast('unsigned char', -1)", "ffi.cast('int', 3.9)",
        "ffi.cast('int', -3.9)", "ffi.cast('double', 7)", "ffi.cast('float', 1.1)", "ffi.cast('char', 65)",
        "ffi.cast('char', b'z')", "ffi.cast('int', b'z')", "ffi.cast('_Bool', 3)", "ffi.cast('_Bool', 0.0)",
        "ffi.cast('wchar_t', 66)", "ffi.cast('char16_t', 0x1234)", "ffi.cast('enum color', 6)",
        "ffi.cast('enum color', 1)", "ffi.cast('size_e', 2)", "ffi.cast('int *', 0)", "ffi.cast('int *', 0x1000)",
        "ffi.cast('void *', ffi.cast('int *', 16))", "int(ffi.cast('intptr_t', ffi.cast('int *', 48)))",
        "int(ffi.cast('uintptr_t', ffi.cast('void *', -1)))", "ffi.cast('long double', 2.5)",
        "ffi.cast('double _Complex', 1j)", "ffi.cast('int', 'x')", "ffi.cast('struct point', 0)",
        "ffi.cast('int[3]', 0)", "ffi.cast('binop_t', 0)", "ffi.cast('int', ffi.cast('char', 200))",
        "ffi.cast('unsigned int', ffi.cast('signed char', -1))", "ffi.cast('int', None)",
        "ffi.cast('int *', ffi.new('int[3]')) == 0", "ffi.cast('float', ffi.cast('double', 0.1))",
        "ffi.cast('int', ffi.cast('int *', 0x40))", "ffi.cast('long long', 2**70)",
    ])},
    # primitive cdata behaviour
    **{f"prim_{i}": ("", e) for i, e in enumerate([
        "int(ffi.cast('int', -7))", "int(ffi.cast('char', 65))", "int(ffi.cast('wchar_t', 66))", "int(ffi.cast('double', 2.7))",
        "int(ffi.cast('_Bool', 1))", "float(ffi.cast('int', 3))", "float(ffi.cast('char', 65))", "float(ffi.cast('double', 2.5))",
        "float(ffi.cast('long double', 2.5))", "complex(ffi.cast('int', 2))", "complex(ffi.cast('double', 2))",
        "bool(ffi.cast('int', 0))", "bool(ffi.cast('double', -0.0))", "bool(ffi.cast('char', 0))",
        "ffi.cast('int', 3) == 3", "ffi.cast('int', 3) != 3", "ffi.cast('int', 3) < 4", "ffi.cast('char', 65) == b'A'",
        "ffi.cast('int', -1) < ffi.cast('unsigned int', -1)", "ffi.cast('double', 0.5) == 0.5",
        "hash(ffi.cast('int', 3)) == hash(ffi.cast('int', 3))", "str(ffi.cast('int', 1))",
        "ffi.cast('int', 3) + 1", "len(ffi.cast('int', 3))", "ffi.cast('int', 3)[0]", "ffi.cast('int', 3).x",
        "list(ffi.cast('int', 3))",
    ])},
    # pointers, arrays, indexing, slicing
    **{f"ptr_{i}": (DECLS, e) for i, e in enumerate([
        "p = ffi.new('int *', 5); r = p[1]", "p = ffi.new('int[3]', [1, 2, 3]); r = p[3]", "ffi.new('int[3]')[-1]",
        "p = ffi.new('int[3]', [1, 2, 3]); r = (p[0], p[2])", "p = ffi.new('int[5]', [1, 2, 3, 4, 5]); r = list(p[1:4])",
        "ffi.new('int[5]')[1:4]", "len(ffi.new('int[5]')[1:4])", "ffi.new('int[5]')[1:6]", "ffi.new('int[5]')[:2]",
        "ffi.new('int[5]')[1:]", "ffi.new('int[5]')[::2]", "ffi.new('int[5]')[3:1]",
        "p = ffi.new('int[5]'); p[1:3] = [7, 8]; r = list(p)", "p = ffi.new('int[5]'); p[1:3] = [7]; r = list(p)",
        "p = ffi.new('char[5]'); p[0:3] = b'abc'; r = ffi.string(p)", "p = ffi.new('int[4]'); p[0:2] = ffi.new('int[2]', [3, 4]); r = list(p)",
        "p = ffi.new('int[3]'); p[1] = 9; r = list(p)", "p = ffi.new('int[3]'); p[1] = 'x'",
        "p = ffi.new('int[3]', [1, 2, 3]); q = p + 1; r = (q[0], q[1], q - p, p - q)",
        "p = ffi.new('int[3]', [1, 2, 3]); r = (1 + p)[1]", "p = ffi.new('int[3]', [1, 2, 3]); q = p + 2; r = (q - 1)[0]",
        "ffi.cast('int *', 8) - ffi.cast('int *', 0)", "ffi.cast('int *', 8) - ffi.cast('char *', 0)",
        "ffi.cast('int *', 8) < ffi.cast('int *', 9)", "ffi.cast('int *', 8) == ffi.cast('char *', 8)",
        "ffi.cast('int *', 8) == 8", "ffi.NULL == ffi.cast('int *', 0)", "bool(ffi.NULL)", "bool(ffi.cast('int *', 1))",
        "ffi.cast('int *', 0)[0]", "ffi.cast('void *', 0)[0]", "ffi.cast('void *', 8)[0]", "ffi.NULL.x",
        "int(ffi.cast('int *', 5))", "len(ffi.new('int *'))", "iter(ffi.new('int *'))",
        "p = ffi.new('int *[2]'); p[0] = ffi.NULL; r = p[0]", "p = ffi.new('char *[2]'); r = p[0] == ffi.NULL",
        "m = ffi.new('int[2][3]'); m[1][2] = 7; r = (m[1][2], list(m[1]), len(m), len(m[0]))",
        "n = ffi.new('struct node[2]'); n[0].next = n + 1; n[1].value = 4; r = n[0].next.value",
        "n = ffi.new('struct node *'); n.next = n; r = n.next.next == n",
        "bool(ffi.new('int[3]'))", "hash(ffi.cast('int *', 8)) == hash(ffi.cast('int *', 8))",
    ])},
    # struct fields
    **{f"field_{i}": (DECLS, e) for i, e in enumerate([
        "p = ffi.new('struct point *'); p.x = 3; r = (p.x, p[0].x, p.y)", "p = ffi.new('struct point *'); r = p.z",
        "p = ffi.new('struct point *'); p.z = 1", "p = ffi.new('struct point *'); p.x = 2**40",
        "p = ffi.new('struct point *'); r = p[0]", "p = ffi.new('struct point *'); r = sorted(dir(p))",
        "p = ffi.new('struct point *'); r = sorted(dir(p[0]))", "p = ffi.new('struct nested *'); r = p.p",
        "p = ffi.new('struct nested *'); p.p = [5, 6]; r = (p.p.x, p.p.y)", "p = ffi.new('struct nested *'); p.p.y = 3; r = p.p.y",
        "p = ffi.new('struct nested *'); p.name = b'abc'; r = (ffi.string(p.name), p.name[3])",
        "p = ffi.new('struct nested *'); p.name = b'123456789'", "p = ffi.new('struct nested *'); r = p.c",
        "p = ffi.new('struct flags *'); p.a = 7; p.b = -8; p.c = 1; p.d = -1; r = (p.a, p.b, p.c, p.d)",
        "p = ffi.new('struct flags *'); p.a = 8", "p = ffi.new('struct flags *'); p.b = 8", "p = ffi.new('struct flags *'); p.a = -1",
        "p = ffi.new('struct flags *', [5, -3, 1, 9]); r = (p.a, p.b, p.c, p.d, bytes(ffi.buffer(p)))",
        "p = ffi.new('union number *'); p.f = 1.0; r = (p.i, list(p.bytes))",
        "p = ffi.new('struct withanon *'); p.b = 5; r = (p.b, p.c != 0)",
        "p = ffi.new('struct point *'); q = ffi.new('struct point *', [1, 2]); p[0] = q[0]; r = (p.x, p.y)",
        "p = ffi.new('struct point *'); p[0] = [3, 4]; r = p.y",
        "p = ffi.new('enum color *'); p[0] = 6; r = p[0]", "ffi.string(ffi.cast('enum color', 6))",
        "ffi.string(ffi.cast('enum color', 7))", "ffi.string(ffi.cast('enum color', -2))",
    ])},
    # string, unpack, buffer, memmove
    **{f"str_{i}": (DECLS, e) for i, e in enumerate([
        "ffi.string(ffi.new('char[]', b'hi'))", "ffi.string(ffi.new('char[10]', b'hi'), 1)",
        "ffi.string(ffi.new('char[3]', b'abc'))", "ffi.string(ffi.cast('char *', ffi.new('char[]', b'xyz')))",
        "ffi.string(ffi.new('wchar_t[]', 'h\\xe9llo'))", "ffi.string(ffi.new('char16_t[]', '\\U0001f600!'))",
        "ffi.string(ffi.new('char32_t[]', 'ok'))", "ffi.string(ffi.NULL)", "ffi.string(ffi.cast('char *', 0))",
        "ffi.string(ffi.cast('int', 5))", "ffi.string(ffi.new('int[3]'))", "ffi.string(ffi.cast('char', 65))",
        "ffi.string(ffi.cast('wchar_t', 66))", "ffi.string(ffi.new('unsigned char[]', b'ab'))",
        "ffi.unpack(ffi.new('int[3]', [1, 2, 3]), 3)", "ffi.unpack(ffi.new('char[]', b'abc'), 2)",
        "ffi.unpack(ffi.new('wchar_t[]', 'abc'), 3)", "ffi.unpack(ffi.new('struct point[2]'), 2)",
"ffi.unpack(ffi.cast('int', 1), 1)", "ffi.unpack(ffi.new('double[2]', [0.5, 1.5]), 2)",
        "ffi.unpack(ffi.new('int *[1]'), 1)",
        "ffi.buffer(ffi.new('int *', 5))[:]", "ffi.buffer(ffi.new('int *', 5))[0]", "len(ffi.buffer(ffi.new('int[3]')))",
        "ffi.buffer(ffi.new('struct point *'))", "ffi.buffer(ffi.cast('int', 1))", "ffi.buffer(ffi.new('char[]', b'abc'), 2)[:]",
        "a = ffi.new('int[2]'); b = ffi.buffer(a); b[0:4] = b'\\x01\\x00\\x00\\x00'; b[4] = b'\\x02'; r = list(a)",
        "a = ffi.new('int[2]'); r = bytes(ffi.buffer(a))", "a = ffi.new('char[4]', b'abc'); r = bytes(memoryview(ffi.buffer(a)))",
        "a = ffi.new('int[3]'); ffi.memmove(a, b'\\x01\\x00\\x00\\x00', 4); r = list(a)",
        "a = ffi.new('int[3]', [1, 2, 3]); ffi.memmove(a + 1, a, 8); r = list(a)",
        "a = ffi.new('int[2]', [1, 2]); b = bytearray(8); ffi.memmove(b, a, 8); r = bytes(b)",
        "a = ffi.new('int[2]', [1, 2]); b = bytearray(8); ffi.memmove(b, a, 4); r = bytes(b)",
    ])},
    # from_buffer, handles, gc, release
    **{f"res_{i}": (DECLS, e) for i, e in enumerate([
        "ffi.from_buffer(b'abc')", "len(ffi.from_buffer(b'abc'))", "ffi.from_buffer(b'abc')[1]",
        "ffi.from_buffer(b'abc', require_writable=True)", "b = bytearray(8); r = ffi.from_buffer('int[]', b)",
        "b = bytearray(8); p = ffi.from_buffer('int[]', b); p[1] = 5; r = bytes(b)",
        "b = bytearray(8); r = ffi.from_buffer('struct point *', b)", "b = bytearray(8); p = ffi.from_buffer('struct point *', b); p.y = 3; r = bytes(b)",
        "ffi.from_buffer('int', bytearray(8))",
        "h = ffi.new_handle([1]); r = ffi.from_handle(h)", "ffi.new_handle(3)", "ffi.from_handle(ffi.NULL)",
        "ffi.new_handle(1) == ffi.new_handle(1)", "h = ffi.new_handle(1); r = ffi.from_handle(ffi.cast('void *', h))",
        "ffi.release(ffi.cast('int *', 0))", "p = ffi.new('int *'); ffi.release(p); r = 'ok'",
        "p = ffi.new('int *');\nwith p as q: q[0] = 1\nr = 'ok'",
        "seen = []; p = ffi.gc(ffi.new('int *', 3), seen.append); ffi.release(p); r = (len(seen), seen[0][0])",
        "seen = []; p = ffi.gc(ffi.new('int *', 3), seen.append); del p; import gc; gc.collect(); r = len(seen)",
        "p = ffi.gc(ffi.new('int *', 3), lambda x: None); r = p",
    ])},
    # misc FFI methods
    **{f"misc_{i}": (DECLS, e) for i, e in enumerate([
        "ffi.getctype('int *', 'x')", "ffi.getctype('int[3]', '*x')", "ffi.getctype('int(*)(int)', 'f')",
        "ffi.getctype('int *[3]', 'x')", "ffi.getctype('struct point')", "ffi.getctype('binop_t', 'cb')",
        "ffi.list_types()", "p = ffi.new('struct nested *'); r = ffi.addressof(p[0], 'p', 'y')",
        "p = ffi.new('struct point *'); r = ffi.addressof(p)", "p = ffi.new('struct point *'); r = ffi.addressof(p[0]) == p",
        "a = ffi.new('int[4]'); r = ffi.addressof(a, 2) - ffi.addressof(a, 0)", "ffi.addressof(ffi.cast('int', 1))",
        "ffi.sizeof(ffi.new('int[]', 3))", "ffi.sizeof(ffi.new('int *'))", "ffi.sizeof(ffi.cast('short', 1))",
        "ffi.alignof('opaque_t')", "ffi.typeof(ffi.new('int[2]'))", "ffi.typeof(ffi.new('int[2]')) is ffi.typeof('int[2]')",
        "ffi.typeof('int *') is ffi.typeof('int*')", "ffi.typeof('int *').item is ffi.typeof('int')",
        "lib = ffi.dlopen(None); r = (lib.ANSWER, lib.MASK, lib.RED, lib.BLUE, lib.NEG, lib.HUGE, lib.SMALL)",
        "lib = ffi.dlopen(None); r = lib.nonexistent",
        "isinstance(ffi.new('int *'), ffi.CData)", "isinstance(ffi.typeof('int'), ffi.CType)",
        "ffi.NULL", "ffi.cast('int', 1) == ffi.cast('long', 1)",
    ])},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_as_cffi(pair, name):
    cdef, code = CASES[name]

    def run(ffi):
        namespace = {"ffi": ffi}
        try:
            compiled = compile(code, "<case>", "eval")
        except SyntaxError:
            exec(code, namespace)
            return namespace["r"]
        return eval(compiled, namespace)

    pair(cdef).same(run)
