"""What a sandbox cannot do (start a process, fork, open a socket, start a
thread) compiles and links in a sandboxed module and fails at run time (-1
and errno ENOSYS; EAGAIN for a thread), never a compile or link error; the
same C builds natively."""

import pytest

import wasmcffi
from conftest import load_module

CDEF = """
    int try_system(void);
    int has_shell(void);
    int try_fork(void);
    int try_socket(void);
    int last_errno(void);
    #define ENOSYS ...
"""
SOURCE = r"""
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <errno.h>
static int saved;
int try_system(void) { int r = system("true"); saved = errno; return r; }
int has_shell(void) { return system(NULL) != 0; }
int try_fork(void) { int r = (int)fork(); saved = errno; if (r == 0) _exit(0); return r; }
int try_socket(void) { int r = socket(AF_INET, SOCK_STREAM, 0); saved = errno; return r; }
int last_errno(void) { return saved; }
"""


@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory):
    ffi = wasmcffi.FFI()
    ffi.cdef(CDEF)
    ffi.set_source("_posix_stubs", SOURCE)
    return load_module(ffi.compile(tmpdir=str(tmp_path_factory.mktemp("stubs"))), "_posix_stubs")


@pytest.mark.parametrize("call", ["try_system", "try_fork", "try_socket"])
def test_unavailable_calls_fail_with_enosys(sandboxed, call):
    assert getattr(sandboxed.lib, call)() == -1
    # The guest's own ENOSYS (WASI numbers errors its own way: 52, not Linux's 38).
    assert sandboxed.lib.last_errno() == sandboxed.lib.ENOSYS


def test_there_is_no_shell(sandboxed):
    assert sandboxed.lib.has_shell() == 0


def test_the_same_source_builds_natively(tmp_path):
    ffi = wasmcffi.FFI()
    ffi.cdef(CDEF)
    ffi.set_source("_posix_stubs_native", SOURCE, target="native")
    lib = load_module(ffi.compile(tmpdir=str(tmp_path)), "_posix_stubs_native").lib
    assert lib.try_socket() >= 0  # a real socket (leaked for the test's short life)


def test_threads_are_refused_and_mutexes_are_no_ops(tmp_path):
    """In the single-threaded guest, pthread_create fails with EAGAIN and
    mutexes always succeed (wasi-libc's single-threaded pthreads)."""
    ffi = wasmcffi.FFI()
    ffi.cdef("int try_create(void); int lock_unlock(void);\n#define EAGAIN ...")
    ffi.set_source("_posix_threads", r"""
        #include <pthread.h>
        #include <errno.h>
        static void *run(void *arg) { return arg; }
        int try_create(void) { pthread_t t; return pthread_create(&t, NULL, run, NULL); }
        int lock_unlock(void) {
            static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
            return pthread_mutex_lock(&m) | pthread_mutex_unlock(&m);
        }
    """)
    lib = load_module(ffi.compile(tmpdir=str(tmp_path)), "_posix_threads").lib
    assert lib.try_create() == lib.EAGAIN
    assert lib.lock_unlock() == 0


def test_the_stubs_a_module_links_are_listed(sandboxed):
    """`sandbox(lib).stubbed_calls` names the calls that fail at run time, the
    ones this module uses and no other; a fresh instance says the same."""
    assert wasmcffi.sandbox(sandboxed.lib).stubbed_calls == ["fork", "socket", "system"]
    _, lib = wasmcffi.instantiate(sandboxed)
    assert wasmcffi.sandbox(lib).stubbed_calls == ["fork", "socket", "system"]


def test_a_module_without_stubs_lists_none(tmp_path):
    ffi = wasmcffi.FFI()
    ffi.cdef("int twice(int);")
    ffi.set_source("_no_stubs", "int twice(int x) { return 2 * x; }")
    lib = load_module(ffi.compile(tmpdir=str(tmp_path)), "_no_stubs").lib
    assert wasmcffi.sandbox(lib).stubbed_calls == []


def test_a_verbose_build_prints_the_stubs(tmp_path, capsys):
    ffi = wasmcffi.FFI()
    ffi.cdef("int try_pipe(void);")
    ffi.set_source("_pipe_stub", "#include <unistd.h>\nint try_pipe(void) { int fds[2]; return pipe(fds); }")
    ffi.compile(tmpdir=str(tmp_path), verbose=True)
    assert "links calls a sandbox cannot make; they fail at run time (-1 or NULL, errno ENOSYS): pipe" \
        in capsys.readouterr().err
