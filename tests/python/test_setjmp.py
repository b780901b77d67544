"""setjmp/longjmp in C built by set_source(): on both targets, compared with
real cffi; sandboxed, a longjmp whose frame is gone is a Trap, with the
process alive, and one across a Python callback unwinds it as an exception."""

import pytest

import wasmcffi
from conftest import load_module, module_fixtures

CDEF = """
    int jump_from_depth(int);
    int nested(void);
    int zero_becomes_one(void);
    int error_handling(int);
    int stale(void);
    int across_callback(int (*)(void));
    int jump_now(void);
"""
SOURCE = r"""
#include <setjmp.h>

static jmp_buf top;
static int depth(int n) { if (n == 0) longjmp(top, 42); return depth(n - 1) + 1; }
int jump_from_depth(int n) { int r = setjmp(top); return r == 0 ? depth(n) : r; }

int nested(void) {
    jmp_buf a, b;
    volatile int trace = 0;
    if (setjmp(a) == 0) {
        if (setjmp(b) == 0) { trace = 1; longjmp(b, 1); }
        trace = trace * 10 + 2;
        longjmp(a, 1);
    }
    return trace * 10 + 3;
}

int zero_becomes_one(void) { jmp_buf j; int r = setjmp(j); if (r == 0) longjmp(j, 0); return r; }

/* The way interpreters and codecs report errors: a failure deep down jumps
   back to the entry point, which returns an error code. */
static jmp_buf on_error;
static int parse(int n) { if (n < 0) longjmp(on_error, -n); return n == 0 ? 0 : 1 + parse(n - 1); }
int error_handling(int n) { int code = setjmp(on_error); return code ? -code : parse(n); }

static jmp_buf gone;
static void arm(void) { setjmp(gone); }
int stale(void) { arm(); longjmp(gone, 1); return 0; }

static jmp_buf outer;
int across_callback(int (*cb)(void)) { int r = setjmp(outer); return r ? 1000 + r : cb(); }
int jump_now(void) { longjmp(outer, 7); return 0; }
"""


reference, module = module_fixtures(CDEF, SOURCE, "_setjmp")


def sandboxed(folder, name):
    """A fresh sandboxed module of SOURCE, for tests that fault it."""
    ffi = wasmcffi.FFI()
    ffi.cdef(CDEF)
    ffi.set_source(name, SOURCE)
    return load_module(ffi.compile(tmpdir=str(folder)), name)


CASES = {
    "deep_recursion": lambda lib: lib.jump_from_depth(20000),
    "shallow": lambda lib: lib.jump_from_depth(0),
    "nested": lambda lib: lib.nested(),
    "zero_becomes_one": lambda lib: lib.zero_becomes_one(),
    "error_path": lambda lib: [lib.error_handling(n) for n in (5, -3, 10, -1)],
    "many_jumps": lambda lib: sum(lib.error_handling(-1) for _ in range(2000)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_setjmp_longjmp_same_as_cffi(module, reference, case):
    assert CASES[case](module.lib) == CASES[case](reference.lib)


def test_longjmp_to_a_frame_that_is_gone_traps(tmp_path):
    mod = sandboxed(tmp_path, "_setjmp_stale")
    with pytest.raises(wasmcffi.Trap, match="exception"):
        mod.lib.stale()
    wasmcffi.sandbox(mod.lib).reset()
    assert mod.lib.jump_from_depth(10) == 42  # a fresh instance works


def test_longjmp_across_a_python_callback_unwinds_it(tmp_path):
    """A longjmp from C called by a Python callback to a setjmp outside it
    unwinds the callback's Python frames as an exception (`wasmcffi.Trap`,
    their `except`/`finally` blocks run), then lands where C says; the
    instance goes on working."""
    mod = sandboxed(tmp_path, "_setjmp_callback")
    seen = []

    @mod.ffi.callback("int(void)")
    def calls_back():
        try:
            return mod.lib.jump_now()
        except wasmcffi.Trap as exc:
            seen.append(str(exc))
            return -1

    assert mod.lib.across_callback(calls_back) == 1007
    assert seen and "exception" in seen[0]
    assert mod.lib.jump_from_depth(3) == 42
