"""`char`, `signed char` and `unsigned char` values of 0x80 and above, and
negative ones, through every call path — direct calls, the glue (a struct by
value forces it), variadic arguments, callbacks and dlopen() — on both
targets, compared with real cffi (issue 16: one classification of C types
into ABI classes, with the sign extension done once)."""

import os
import subprocess

import cffi
import pytest

import wasmcffi
from conftest import module_fixtures

CDEF = """
    struct pair { int a, b; };
    int as_int(char c);
    char echo(char c);
    int sc_as_int(signed char c);
    int uc_as_int(unsigned char c);
    signed char sc_echo(signed char c);
    unsigned char uc_echo(unsigned char c);
    int glue_sc(struct pair p, signed char c);
    unsigned char glue_uc(struct pair p, unsigned char c);
    int call_char_cb(char (*cb)(char), char c);
    int call_sc_cb(signed char (*cb)(signed char), signed char c);
    int call_uc_cb(unsigned char (*cb)(unsigned char), unsigned char c);
    int va_chars(int n, ...);
    int (*char_as_int_ptr(void))(char);
    int (*sc_as_int_ptr(void))(signed char);
    unsigned char (*uc_echo_ptr(void))(unsigned char);
"""
SOURCE = r"""
    #include <stdarg.h>
    struct pair { int a, b; };
    int as_int(char c) { return c; }
    char echo(char c) { return c; }
    int sc_as_int(signed char c) { return c; }
    int uc_as_int(unsigned char c) { return c; }
    signed char sc_echo(signed char c) { return c; }
    unsigned char uc_echo(unsigned char c) { return c; }
    int glue_sc(struct pair p, signed char c) { return p.a + p.b + c; }
    unsigned char glue_uc(struct pair p, unsigned char c) { return (unsigned char)(p.a + c); }
    int call_char_cb(char (*cb)(char), char c) { return cb(c); }
    int call_sc_cb(signed char (*cb)(signed char), signed char c) { return cb(c); }
    int call_uc_cb(unsigned char (*cb)(unsigned char), unsigned char c) { return cb(c); }
    int va_chars(int n, ...) {
        va_list ap; va_start(ap, n);
        int s = 0;
        for (int i = 0; i < n; i++) s = s * 1000 + va_arg(ap, int);
        va_end(ap);
        return s;
    }
    int (*char_as_int_ptr(void))(char) { return as_int; }
    int (*sc_as_int_ptr(void))(signed char) { return sc_as_int; }
    unsigned char (*uc_echo_ptr(void))(unsigned char) { return uc_echo; }
"""

reference, module = module_fixtures(CDEF, SOURCE, "_char_abi")


def every_path(ffi, lib):
    pair = ffi.new("struct pair *", [1, 2])[0]
    keep = [ffi.callback("char(char)", lambda c: c), ffi.callback("signed char(signed char)", lambda c: c - 1),
            ffi.callback("unsigned char(unsigned char)", lambda c: c + 1)]
    return [
        lib.as_int(b"\xff"), lib.as_int(b"\x80"), lib.echo(b"\xfe"),
        lib.sc_as_int(-128), lib.sc_as_int(-1), lib.sc_as_int(127), lib.uc_as_int(0x80), lib.uc_as_int(255),
        lib.sc_echo(-3), lib.uc_echo(250),
        lib.glue_sc(pair, -100), lib.glue_uc(pair, 200),
        lib.call_char_cb(keep[0], b"\x90"), lib.call_sc_cb(keep[1], -5), lib.call_uc_cb(keep[2], 0xF0),
        lib.va_chars(3, ffi.cast("signed char", -7), ffi.cast("unsigned char", 200), ffi.cast("char", b"\xff")),
        # C function pointers called from Python.
        lib.char_as_int_ptr()(b"\xff"), lib.char_as_int_ptr()(b"\x80"), lib.sc_as_int_ptr()(-2),
        lib.uc_echo_ptr()(0xFE),
    ]


def test_every_call_path_agrees_with_cffi(reference, module):
    assert every_path(module.ffi, module.lib) == every_path(reference.ffi, reference.lib)


def test_dlopen_agrees_with_cffi_abi_mode(tmp_path):
    library = str(tmp_path / "libchars.so")
    subprocess.run([os.environ.get("CC", "cc"), "-shared", "-fPIC", "-O2", "-x", "c", "-", "-o", library],
                   input=SOURCE.encode(), check=True)
    results = []
    for ffi in (wasmcffi.FFI(), cffi.FFI()):
        ffi.cdef(CDEF)
        results.append(every_path(ffi, ffi.dlopen(library)))
    assert results[0] == results[1]
