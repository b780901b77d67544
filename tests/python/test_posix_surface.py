"""The POSIX parts portable C uses and wasi-libc hides behind flags
(`<signal.h>`, anonymous `mmap`, process clocks, `getpid`) build and work in
a sandboxed module with no flag from the user, as they do natively; each
case is compared with real cffi built from the same C."""

import pytest

from conftest import module_fixtures

CDEF = """
    int signal_round_trip(void);
    int sig_atomic_size(void);
    int mmap_round_trip(void);
    int clock_is_sane(void);
    int pid_is_positive(void);
"""
SOURCE = r"""
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <sys/times.h>
#include <unistd.h>

static volatile sig_atomic_t seen;
static void on_signal(int sig) { seen = sig; }

int signal_round_trip(void) {
    if (signal(SIGUSR1, on_signal) == SIG_ERR) return -1;
    if (raise(SIGUSR1) != 0) return -2;
    signal(SIGUSR1, SIG_DFL);
    return seen == SIGUSR1;
}
int sig_atomic_size(void) { return (int)sizeof(sig_atomic_t) >= 1; }
int mmap_round_trip(void) {
    char *p = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -1;
    int zeroed = p[0] == 0 && p[8191] == 0;
    p[4096] = 42;
    int ok = zeroed && p[4096] == 42;
    return munmap(p, 8192) == 0 && ok;
}
int clock_is_sane(void) {
    struct tms t;
    return clock() != (clock_t)-1 && times(&t) != (clock_t)-1;
}
int pid_is_positive(void) { return getpid() > 0; }
"""
CASES = ["signal_round_trip", "sig_atomic_size", "mmap_round_trip", "clock_is_sane", "pid_is_positive"]


reference, module = module_fixtures(CDEF, SOURCE, "_posix")


@pytest.mark.parametrize("case", CASES)
def test_posix_surface_same_as_cffi(module, reference, case):
    assert getattr(module.lib, case)() == getattr(reference.lib, case)() == 1
