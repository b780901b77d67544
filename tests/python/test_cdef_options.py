"""cdef() options and repeated calls, compared with cffi."""

import pytest

from conftest import Pair

PACKED = "struct p { char a; int b; short c; }; struct q { char a; double d; };"


@pytest.mark.parametrize("kwargs", [{}, {"packed": True}, {"pack": 1}, {"pack": 2}, {"pack": 4}])
@pytest.mark.parametrize("expr", [
    "ffi.sizeof('struct p')", "ffi.alignof('struct p')", "ffi.offsetof('struct p', 'b')",
    "ffi.offsetof('struct p', 'c')", "ffi.sizeof('struct q')", "ffi.offsetof('struct q', 'd')",
    "(lambda p: (p.a, p.b, p.c))(ffi.new('struct p *', [b'x', -5, 7]))",
])
def test_packing_same_as_cffi(kwargs, expr):
    Pair(PACKED, **kwargs).same(lambda ffi: eval(expr, {"ffi": ffi}))


def test_bad_pack_values_same_as_cffi():
    for kwargs in [{"pack": 3}, {"packed": True, "pack": 2}]:
        pair = Pair()
        pair.same(lambda ffi: ffi.cdef(PACKED, **kwargs), messages=False)


def test_repeated_cdefs_build_on_each_other():
    pair = Pair("struct later; typedef struct later later_t; typedef int myint;")
    pair.same(lambda ffi: ffi.sizeof("later_t"))
    for ffi in (pair.w, pair.c):
        ffi.cdef("struct later { myint x; later_t *next; };")
    pair.same(lambda ffi: (ffi.sizeof("later_t"), ffi.typeof("later_t"), ffi.new("later_t *", [3]).x))


def test_redeclaration_and_override_same_as_cffi():
    pair = Pair("typedef int t1; int f(int);\n#define N 1\n")
    pair.same(lambda ffi: ffi.cdef("typedef int t1;"))
    pair.same(lambda ffi: ffi.cdef("typedef long t1;"), messages=False)
    pair.same(lambda ffi: ffi.cdef("typedef long t1;", override=True) or ffi.sizeof("t1"))
    pair.same(lambda ffi: ffi.cdef("#define N 2"), messages=False)


@pytest.mark.parametrize("text", [
    "int x",                          # missing semicolon
    "struct s { foo_t a; };",         # unknown type
    "int f(int, ...;",                # syntax
    "#include <stdio.h>",             # directives
    "#define X 1 + 2",                # non-literal define
    "typedef int... t; t *p;",        # fine in cdef: only using it fails
    "enum e { A = B };",              # unknown enumerator
    "struct s { int a; }; struct s { int b; };",
    "__attribute__((packed)) struct s { int a; };",
])
def test_bad_cdef_same_exception_type_as_cffi(text):
    Pair().same(lambda ffi: ffi.cdef(text), messages=False)


@pytest.mark.parametrize("text", ["extern int a[-1];", 'extern "Python" int cb(int, ...);'])
def test_cdef_refuses_early_what_cffi_refuses_only_on_use(text):
    # cffi accepts these in cdef() and fails when they are used; wasmcffi says so at once.
    import wasmcffi

    with pytest.raises(wasmcffi.CDefError, match=":1:"):
        wasmcffi.FFI().cdef(text)


@pytest.mark.parametrize("text", [
    "int foo(...);",
    "typedef enum foo_e foo_t; enum foo_e { AA, BB };",
    "void f(foobarbazzz);",
    "void foo(void) {}",
])
def test_bad_cdef_same_message_as_cffi(text):
    Pair().same(lambda ffi: ffi.cdef(text))


@pytest.mark.parametrize("text", [" x y z ", '\n# 42 "foobar"\n\n    a b c d\n    '])
def test_cdef_syntax_error_located_as_cffi(text):
    """The parsers' own words differ (pycparser's, lang-c's); the quoted text
    and the position are CFFI's."""
    mine, theirs = Pair().run(lambda ffi: ffi.cdef(text))
    assert mine[:2] == theirs[:2] == ("raise", "CDefError")
    assert mine[2].rsplit(": ", 1)[0] == theirs[2].rsplit(": ", 1)[0]
