"""Shared helpers: run the same operations through wasmcffi and the real cffi.

CFFI is the reference for behaviour: a case passes when both libraries give
the same value, or raise the same exception type with the same message.
"""

import importlib.util
import os
import re

import pytest
from hypothesis import settings

import _cffi_backend
import cffi
import wasmcffi

# CI runs the property tests with a fixed seed, so a run is repeatable;
# local runs explore new examples each time.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

#: Exception class names that mean the same thing in both libraries.
_SAME_EXCEPTIONS = {"FFIError": "error", "error": "error", "FFITypeError": "TypeError", "FFIValueError": "ValueError",
                    "FFICDefError": "CDefError"}


def normalize(value):
    """A comparable form of a result: addresses in reprs are masked, cdata and
    ctypes become their reprs, containers are normalized item by item."""
    if isinstance(value, (list, tuple)):
        return type(value)(normalize(v) for v in value)
    if isinstance(value, dict):
        return {normalize(k): normalize(v) for k, v in value.items()}
    # cffi.FFI has CData and CType once a first cffi.FFI() is made.
    cffi_types = (getattr(cffi.FFI, "CData", ()), getattr(cffi.FFI, "CType", ()))
    if isinstance(value, (wasmcffi.CData, wasmcffi.CType) + tuple(t for t in cffi_types if t)):
        return re.sub(r"0x[0-9a-f]+", "0x?", repr(value))
    if isinstance(value, (_cffi_backend.buffer, wasmcffi.buffer)):
        return ("buffer", bytes(value[:]))
    return value


def outcome(fn, ffi):
    """What `fn(ffi)` does: ('ok', normalized value) or ('raise', type name, message)."""
    try:
        return ("ok", normalize(fn(ffi)))
    except Exception as exc:  # noqa: BLE001 - every exception is part of the behaviour
        name = type(exc).__name__
        return ("raise", _SAME_EXCEPTIONS.get(name, name), str(exc))


class Pair:
    """A wasmcffi FFI and a cffi FFI declared with the same cdef."""

    def __init__(self, cdef="", **kwargs):
        self.w = wasmcffi.FFI()
        self.c = cffi.FFI()
        if cdef:
            self.w.cdef(cdef, **kwargs)
            self.c.cdef(cdef, **kwargs)

    def run(self, fn):
        """Runs `fn` on both FFIs and returns (wasmcffi outcome, cffi outcome)."""
        return outcome(fn, self.w), outcome(fn, self.c)

    def same(self, fn, messages=True):
        """Asserts that `fn` behaves the same on both; returns wasmcffi's outcome."""
        mine, ref = self.run(fn)
        if ref[:2] == ("raise", "SystemError"):
            # A bug inside cffi (e.g. wchar_t casts of huge values): any clean error will do.
            assert mine[0] == "raise", f"wasmcffi {mine} vs cffi {ref}"
            return mine
        if not messages and mine[0] == ref[0] == "raise":
            assert mine[1] == ref[1], f"wasmcffi {mine} vs cffi {ref}"
        else:
            assert mine == ref, f"wasmcffi {mine} vs cffi {ref}"
        return mine


@pytest.fixture
def pair():
    """A factory of `Pair`s: `pair(cdef_text)`."""
    return Pair


def size_of(ffi, name):
    """The size of a type on `ffi`'s target, from the type model (never a literal)."""
    return ffi.sizeof(name)


# ---- ABI mode (ffi.dlopen): the test library and the system libraries ----

#: The C sources of the ABI-mode test library (see tests/c/abi_testlib.c).
ABI_TESTLIB_SOURCE = os.path.join(os.path.dirname(__file__), os.pardir, "c", "abi_testlib.c")


def build_abi_testlib(out_dir):
    """Compiles tests/c/abi_testlib.c into a shared library in `out_dir` with the
    host compiler (`$CC`, else `cc`) and returns its path."""
    import shlex
    import subprocess

    out = os.path.join(str(out_dir), "libabi_testlib.so")
    cc = shlex.split(os.environ.get("CC") or "cc")
    cmd = [*cc, "-shared", "-fPIC", "-O2", os.path.abspath(ABI_TESTLIB_SOURCE), "-o", out, "-lm"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"cannot build the ABI test library: {' '.join(cmd)}\n{result.stderr}")
    return out


@pytest.fixture(scope="session")
def testlib_path(tmp_path_factory):
    """The path of the ABI-mode test library, compiled once per session."""
    return build_abi_testlib(tmp_path_factory.mktemp("abi_testlib"))


def _system_library(name, fallback):
    import ctypes.util

    return ctypes.util.find_library(name) or fallback


@pytest.fixture(scope="session")
def libc_path():
    """The name or path of the C library, as `ffi.dlopen` accepts it."""
    return _system_library("c", "libc.so.6")


@pytest.fixture(scope="session")
def libm_path():
    """The name or path of the math library, as `ffi.dlopen` accepts it."""
    return _system_library("m", "libm.so.6")


def load_module(path, name=None):
    """Imports the module at `path`: a compiled module's loader, or an extension.
    The name defaults to the file name up to its first dot."""
    name = name or os.path.basename(path).split(".")[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_cffi_reference(out_dir, name, cdef, source, include_dirs):
    """`source` built as a real cffi API-mode extension `name`, imported."""
    ffibuilder = cffi.FFI()
    ffibuilder.cdef(cdef)
    ffibuilder.set_source(name, source, include_dirs=include_dirs)
    return load_module(ffibuilder.compile(tmpdir=str(out_dir)), name)


def module_fixtures(cdef, source, prefix):
    """Module-scoped fixtures for one C `source` declared by `cdef`:
    `reference`, built by real cffi, and `module`, built by wasmcffi for each
    target (its `.target` says which). Assign them in a test file:
    `reference, module = module_fixtures(CDEF, SOURCE, "_name")`."""

    def build(folder, make_ffi, name, **kwargs):
        ffi = make_ffi()
        ffi.cdef(cdef)
        ffi.set_source(name, source, **kwargs)
        return load_module(ffi.compile(tmpdir=str(folder)), name)

    @pytest.fixture(scope="module")
    def reference(tmp_path_factory):
        return build(tmp_path_factory.mktemp("cffi"), cffi.FFI, f"{prefix}_cffi")

    @pytest.fixture(scope="module", params=["wasm", "native"])
    def module(request, tmp_path_factory):
        target = request.param
        mod = build(tmp_path_factory.mktemp(target), wasmcffi.FFI, f"{prefix}_{target}", target=target)
        mod.target = target
        return mod

    return reference, module


def importable_module(folder, name, cdef, source, target):
    """`source` compiled by wasmcffi for `target` as module `name` in `folder`,
    which is put on `sys.path` (child processes inherit it), then imported by
    name: what pickling by reference needs."""
    import sys

    ffi = wasmcffi.FFI()
    ffi.cdef(cdef)
    ffi.set_source(name, source, target=target)
    ffi.compile(tmpdir=str(folder))
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return importlib.import_module(name)


#: A C helper with state, used by the pickling, snapshot, pool and process tests.
FANOUT_CDEF = """
    struct pt { int x, y; };
    enum color { RED, GREEN = 5 };
    int add(int, int);
    int checked_double(int);
    long spin(long);
    int norm(struct pt *);
    int fill(int);
    int lookup(int);
    const char *greeting(void);
    int apply(int (*)(int), int);
"""
FANOUT_SOURCE = r"""
    #include <stdlib.h>
    struct pt { int x, y; };
    enum color { RED, GREEN = 5 };
    static unsigned char *table;
    static int table_len;
    int add(int a, int b) { return a + b; }
    /* Traps on a negative input: the "bad input" of a fan-out. */
    int checked_double(int x) { if (x < 0) __builtin_trap(); return 2 * x; }
    long spin(long n) { volatile long s = 0; for (long i = 0; i < n; i++) s += i; return s; }
    int norm(struct pt *p) { return abs(p->x) + abs(p->y); }
    /* Warms the instance up: a heap table of `n` bytes (n <= 0: none). */
    int fill(int n) {
        free(table);
        table = n > 0 ? malloc(n) : 0;
        for (int i = 0; i < n; i++) table[i] = (unsigned char)(i * 7 + 3);
        table_len = table ? n : 0;
        return table_len;
    }
    int lookup(int i) { return table_len ? table[i % table_len] : -1; }
    const char *greeting(void) { return "hello"; }
    int apply(int (*f)(int), int x) { return f(x); }
"""


def fanout_module(tmp_path_factory, target, prefix="_fanout"):
    """The importable FANOUT module for `target`, built once per session."""
    name = f"{prefix}_{target}"
    import sys

    if name in sys.modules:
        return sys.modules[name]
    return importable_module(tmp_path_factory.mktemp(name), name, FANOUT_CDEF, FANOUT_SOURCE, target)
