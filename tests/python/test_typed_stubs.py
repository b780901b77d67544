"""compile() writes `<name>.pyi` beside each module: `lib`'s functions with
Python types mapped from C, its constants and globals, and `ffi`. A type
checker (mypy) accepts a correct program and refuses a wrong call."""

import os
import subprocess
import sys

import pytest

import wasmcffi

CDEF = """
    struct point { int x, y; };
    int add(int a, int b);
    double scale(double value, float factor);
    const char *name_of(const char *who);
    struct point middle(struct point a, struct point b);
    _Bool same_char(char a, char b);
    int total(int count, ...);
    void nothing(void);
    #define LIMIT 10
    enum color { RED, GREEN };
    extern int counter;
"""
SOURCE = """
    struct point { int x, y; };
    int add(int a, int b) { return a + b; }
    double scale(double value, float factor) { return value * factor; }
    const char *name_of(const char *who) { return who; }
    struct point middle(struct point a, struct point b) { struct point m = {(a.x + b.x) / 2, (a.y + b.y) / 2}; return m; }
    _Bool same_char(char a, char b) { return a == b; }
    int total(int count, ...) { return count; }
    void nothing(void) {}
    #define LIMIT 10
    enum color { RED, GREEN };
    int counter = 3;
"""


@pytest.fixture(scope="module", params=["wasm", "native"])
def built(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"stubs_{request.param}")
    ffi = wasmcffi.FFI()
    ffi.cdef(CDEF)
    ffi.set_source("_typed", SOURCE, target=request.param)
    ffi.compile(tmpdir=str(folder))
    return folder


def test_the_stub_maps_c_types_to_python_types(built):
    text = (built / "_typed.pyi").read_text()
    for line in [
        "ffi: wasmcffi.FFI",
        "    def add(self, arg0: int, arg1: int, /) -> int: ...",
        "    def scale(self, arg0: float, arg1: float, /) -> float: ...",
        "    def name_of(self, arg0: bytes | CData, /) -> CData: ...",
        "    def middle(self, arg0: CData, arg1: CData, /) -> CData: ...",
        "    def same_char(self, arg0: bytes, arg1: bytes, /) -> bool: ...",
        "    def total(self, arg0: int, *varargs: Any) -> int: ...",
        "    def nothing(self, /) -> None: ...",
        "    LIMIT: int",
        "    GREEN: int",
        "    counter: int",
        "lib: _Lib",
    ]:
        assert line in text.splitlines(), f"{line!r} not in\n{text}"


def mypy(folder, program):
    (folder / "user.py").write_text(program)
    env = dict(os.environ, MYPYPATH=str(folder))
    return subprocess.run([sys.executable, "-m", "mypy", "--ignore-missing-imports", "--follow-imports=silent",
                           "--no-incremental", "--strict-optional", str(folder / "user.py")],
                          capture_output=True, text=True, env=env, cwd=str(folder))


GOOD = """
from _typed import ffi, lib

total: int = lib.add(1, 2) + lib.LIMIT + lib.counter
ratio: float = lib.scale(2.0, 0.5)
lib.name_of(b"me")
lib.same_char(b"a", b"b")
lib.total(2, ffi.cast("int", 1), ffi.cast("int", 2))
lib.nothing()
"""


def test_mypy_accepts_a_correct_program(built):
    done = mypy(built, GOOD)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("wrong", [
    "lib.add('one', 2)",
    "lib.add(1)",
    "text: str = lib.add(1, 2)",
    "lib.no_such_function()",
])
def test_mypy_refuses_a_wrong_call(built, wrong):
    done = mypy(built, "from _typed import ffi, lib\n" + wrong + "\n")
    assert done.returncode == 1 and "error:" in done.stdout, done.stdout + done.stderr
