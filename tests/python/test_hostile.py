"""The hostile-guest suite: C written to attack its host (tests/hostile/hostile.c).

Every case runs in a child Python process, so a crash of the host is a failed
case rather than a dead test runner. A case names what the host must do: raise a
given exception (with a given text in its message) or return a given value. After
the case the child checks the host is alive: the sandbox still answers (after a
reset when the case poisoned it) and a fresh instance can be made.

All helpers are in one module, compiled once per session; each child loads it
from the on-disk machine-code cache.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

import wasmcffi

HERE = os.path.dirname(os.path.abspath(__file__))
HOSTILE_C = os.path.join(HERE, "..", "hostile", "hostile.c")

CDEF = """
    struct node { int value; struct node *next; };
    int add(int, int);
    int oob_read(void);
    void oob_write(void);
    int oob_read_past_memory(void);
    char *wild_string(void);
    char *string_at_the_end(void);
    struct node *wild_node(void);
    struct node *node_with_wild_next(void);
    char *small_buffer(void);
    size_t huge_length(void);
    size_t max_length(void);
    extern char *wild_global;
    void spin(void);
    int busy(int);
    int recurse(int);
    int big_frames(int);
    unsigned sleep_long(void);
    int malloc_bomb(void);
    int grow_flood(void);
    int grow_huge(void);
    int calloc_overflow(void);
    void do_exit(int);
    void do_abort(void);
    void do_trap(void);
    int divide(int, int);
    int remainder_of(int, int);
    void call_null(void);
    int call_bad_index(void);
    int call_wrong_type(void);
    void smash_heap(char *);
    int open_file(const char *);
    int write_file(const char *);
    const char *read_env(const char *);
    int count_env(void);
    int print_flood(int);
    int count_args(void);
    void *forged_handle(void);
    long long wall_clock(void);
    long long monotonic_ns(void);
    unsigned random_word(void);
    int call_back(int (*)(int), int);
    int read_through(char *(*)(void));
"""

#: Run in the child: `ffi`, `lib`, `sb` (its sandbox), `wasmcffi`, `hostile` (the
#: module) and `tmp` (a scratch directory) are defined; the case's code sets `result`.
CHILD = """
import gc, json, os, signal, sys, threading, time
# Ctrl-C raises KeyboardInterrupt even when this child was started with SIGINT
# ignored (a non-interactive shell's background job), which Python respects.
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, {build_dir!r})
import wasmcffi
import _hostile as hostile
from _hostile import ffi, lib
sb = wasmcffi.sandbox(lib)
tmp = {tmp!r}

def run():
    result = None
{code}
    return result

try:
    outcome = ["ok", run()]
except BaseException as exc:
    outcome = ["raise", type(exc).__name__, str(exc)]
    if isinstance(exc, wasmcffi.GuestExit):
        outcome.append(exc.code)

# The host is alive: the sandbox answers (reset if the case poisoned it) and a
# fresh instance works.
if sb.poisoned:
    sb.reset()
alive = lib.add(2, 3) == 5 and wasmcffi.instantiate(hostile)[1].add(1, 1) == 2
print(json.dumps({{"outcome": outcome, "alive": alive}}, default=repr))
"""

#: name -> (code, expected). `expected` is ("raise", ExceptionName, text in the
#: message) or ("ok", value). Code is the body of a function that sets `result`.
CASES = {
    # ---- the guest's own accesses outside its memory ----
    "oob_read": ("result = lib.oob_read()", ("raise", "Trap", "out of bounds")),
    "oob_write": ("lib.oob_write()", ("raise", "Trap", "out of bounds")),
    "oob_read_past_memory": ("result = lib.oob_read_past_memory()", ("raise", "Trap", "out of bounds")),
    # ---- wild pointers and lengths returned to the host ----
    "string_of_wild_pointer": ("result = ffi.string(lib.wild_string())", ("raise", "MemoryError", "out of bounds")),
    "string_running_off_the_end": (
        "result = ffi.string(lib.string_at_the_end())", ("raise", "MemoryError", "out of bounds")),
    "string_with_maxlen_at_the_end": (
        "result = ffi.string(lib.string_at_the_end(), 64)", ("ok", "b'" + "A" * 64 + "'")),
    "field_of_wild_struct_pointer": ("result = lib.wild_node().value", ("raise", "MemoryError", "out of bounds")),
    "wild_next_pointer": ("result = lib.node_with_wild_next().next.value", ("raise", "MemoryError", "out of bounds")),
    "unpack_huge_length": (
        "result = len(ffi.unpack(lib.small_buffer(), lib.huge_length()))", ("raise", "MemoryError", "out of bounds")),
    "unpack_huge_length_of_ints": (
        "result = len(ffi.unpack(ffi.cast('int *', lib.small_buffer()), lib.huge_length()))",
        ("raise", "MemoryError", "out of bounds")),
    "unpack_max_length": (
        "result = len(ffi.unpack(lib.small_buffer(), lib.max_length()))", ("raise", "MemoryError", "out of bounds")),
    "buffer_of_wild_pointer": (
        "result = ffi.buffer(lib.wild_string(), 64)[:]", ("raise", "MemoryError", "out of bounds")),
    "buffer_huge_length": (
        "result = ffi.buffer(lib.small_buffer(), lib.huge_length())[:]", ("raise", "MemoryError", "out of bounds")),
    "memmove_from_wild_pointer": (
        "dst = ffi.new('char[64]')\nffi.memmove(dst, lib.wild_string(), 64)",
        ("raise", "MemoryError", "out of bounds")),
    "from_handle_of_forged_pointer": (
        "result = ffi.from_handle(lib.forged_handle())", ("raise", "RuntimeError", "not a live handle")),
    "wild_global_pointer": ("result = ffi.string(lib.wild_global)", ("raise", "MemoryError", "out of bounds")),
    # ---- CPU ----
    "endless_loop_times_out": (
        "sb.set_limits(timeout=0.2)\nlib.spin()", ("raise", "Timeout", "time limit")),
    "endless_constructor_times_out": (
        "wasmcffi.instantiate(hostile, env={'HANG_IN_CONSTRUCTOR': '1'}, timeout=0.2)",
        ("raise", "Timeout", "time limit")),
    "endless_loop_out_of_fuel": (
        "f2, l2 = wasmcffi.instantiate(hostile, fuel=10_000_000)\nl2.spin()", ("raise", "Timeout", "fuel")),
    "ctrl_c_stops_an_endless_loop": (
        "threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()\nlib.spin()",
        ("raise", "KeyboardInterrupt", "")),
    "ctrl_c_while_waiting_for_a_busy_sandbox": (
        "sb.set_limits(timeout=3)\n"
        "spinner = threading.Thread(target=lambda: lib.spin())\nspinner.start()\ntime.sleep(0.1)\n"
        "threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
        "t = time.monotonic()\n"
        "try:\n    lib.add(1, 2)\nexcept KeyboardInterrupt:\n    result = time.monotonic() - t < 2\n"
        "spinner.join()", ("ok", True)),
    "deep_recursion": ("result = lib.recurse(10_000_000)", ("raise", "Trap", "call stack exhausted")),
    "c_stack_overflow": ("result = lib.big_frames(100_000)", ("raise", "Trap", "out of bounds")),
    "sleep_does_not_block_the_host": (
        "t = time.monotonic()\nlib.sleep_long()\nresult = time.monotonic() - t < 5", ("ok", True)),
    # ---- memory ----
    "malloc_bomb_stops_at_the_limit": (
        "f2, l2 = wasmcffi.instantiate(hostile, memory=16 << 20)\nresult = l2.malloc_bomb() < 16", ("ok", True)),
    "memory_grow_flood_stops_at_the_limit": (
        "f2, l2 = wasmcffi.instantiate(hostile, memory=8 << 20)\nl2.grow_flood()\n"
        "result = wasmcffi.sandbox(l2).usage['memory'] <= 8 << 20", ("ok", True)),
    "memory_grow_huge_fails": ("result = lib.grow_huge()", ("ok", -1)),
    "calloc_overflow_is_null": ("result = lib.calloc_overflow()", ("ok", 1)),
    "ffi_new_past_the_limit": (
        "f2, l2 = wasmcffi.instantiate(hostile, memory=4 << 20)\nf2.new('char[]', 8 << 20)",
        ("raise", "MemoryError", "out of memory")),
    "instance_below_its_initial_memory": (
        "wasmcffi.instantiate(hostile, memory=1024)", ("raise", "MemoryError", "cannot instantiate")),
    "output_flood_is_dropped": (
        "f2, l2 = wasmcffi.instantiate(hostile, stdout=None)\nresult = l2.print_flood(20)", ("ok", 0)),
    # ---- faults ----
    "exit_code": ("lib.do_exit(3)", ("raise", "GuestExit", "code 3", 3)),
    "exit_zero": ("lib.do_exit(0)", ("raise", "GuestExit", "code 0", 0)),
    "abort": ("lib.do_abort()", ("raise", "Trap", "unreachable")),
    "builtin_trap": ("lib.do_trap()", ("raise", "Trap", "unreachable")),
    "division_by_zero": ("result = lib.divide(1, 0)", ("raise", "Trap", "divide by zero")),
    "int_min_divided_by_minus_one": ("result = lib.divide(-2**31, -1)", ("raise", "Trap", "integer overflow")),
    "int_min_remainder_minus_one": ("result = lib.remainder_of(-2**31, -1)", ("ok", 0)),
    "call_through_null": ("lib.call_null()", ("raise", "Trap", "")),
    "call_bad_table_index": ("result = lib.call_bad_index()", ("raise", "Trap", "")),
    "call_wrong_signature": ("result = lib.call_wrong_type()", ("raise", "Trap", "indirect call type mismatch")),
    "poisoned_until_reset": (
        "try:\n    lib.do_trap()\nexcept wasmcffi.Trap:\n    pass\nlib.add(1, 2)",
        ("raise", "Trap", "reset it")),
    "auto_reset": (
        "f2, l2 = wasmcffi.instantiate(hostile, auto_reset=True)\n"
        "try:\n    l2.do_trap()\nexcept wasmcffi.Trap:\n    pass\nresult = l2.add(1, 2)", ("ok", 3)),
    "trap_in_free_during_gc": (
        "p = ffi.new('char[64]')\nlib.smash_heap(p)\ndel p\ngc.collect()\nresult = sb.poisoned is not None",
        ("ok", True)),
    "trap_inside_a_callback": (
        "cb = ffi.callback('int(int)', lambda x: lib.do_trap())\nresult = lib.call_back(cb, 1)",
        ("raise", "Trap", "unreachable")),
    "trap_inside_a_callback_caught_by_python": (
        "def hook(x):\n    try:\n        lib.do_trap()\n    except wasmcffi.Trap:\n        return 41\n"
        "cb = ffi.callback('int(int)', hook)\nresult = lib.call_back(cb, 1)",
        ("raise", "Trap", "unreachable")),
    "exit_inside_a_callback": (
        "cb = ffi.callback('int(int)', lambda x: lib.do_exit(9))\nresult = lib.call_back(cb, 1)",
        ("raise", "GuestExit", "code 9", 9)),
    "endless_loop_inside_a_callback_times_out": (
        "sb.set_limits(timeout=0.2)\ncb = ffi.callback('int(int)', lambda x: lib.spin())\n"
        "result = lib.call_back(cb, 1)",
        ("raise", "Timeout", "")),
    "callback_returning_a_wild_pointer": (
        "cb = ffi.callback('char *(void)', lambda: ffi.cast('char *', 0x7ffffff0))\n"
        "result = lib.read_through(cb)",
        ("raise", "Trap", "out of bounds")),
    "callback_raising_returns_the_error_value": (
        "cb = ffi.callback('int(int)', lambda x: 1 / 0, error=-8)\nresult = lib.call_back(cb, 1)",
        ("ok", -7)),
    "hundreds_of_trap_reset_cycles": (
        "for i in range(300):\n"
        "    try:\n        lib.do_trap()\n    except wasmcffi.Trap:\n        pass\n    sb.reset()\n"
        "result = (lib.add(1, 2), sb.usage['traps'], sb.generation)", ("ok", [3, 300, 301])),
    "stale_cdata_after_reset": (
        "p = ffi.new('int *', 7)\nsb.reset()\nresult = p[0]", ("raise", "SandboxError", "reset")),
    "ffi_new_after_reset": (
        "sb.reset()\np = ffi.new('int[3]', [1, 2, 3])\nresult = list(p)", ("ok", [1, 2, 3])),
    # ---- threads ----
    "calls_from_many_threads": (
        "errors = []\n"
        "def work(t):\n"
        "    try:\n"
        "        for i in range(300):\n"
        "            assert lib.add(t, i) == t + i\n"
        "            p = ffi.new('int[4]', [t, i, 0, 0])\n"
        "            assert p[1] == i\n"
        "    except BaseException as e:\n"
        "        errors.append(repr(e))\n"
        "threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]\n"
        "[t.start() for t in threads]\n[t.join() for t in threads]\nresult = errors", ("ok", [])),
    "long_call_while_other_threads_call_in": (
        "errors = []\n"
        "def work():\n"
        "    try:\n"
        "        for i in range(20):\n"
        "            assert lib.add(i, 1) == i + 1\n"
        "    except BaseException as e:\n"
        "        errors.append(repr(e))\n"
        "threads = [threading.Thread(target=work) for _ in range(4)]\n"
        "[t.start() for t in threads]\n"
        "lib.busy(100_000_000)\n"
        "[t.join() for t in threads]\nresult = errors", ("ok", [])),
    "other_threads_run_during_a_long_call": (
        "ticks = [0]\nstop = [False]\n"
        "def count():\n"
        "    while not stop[0]:\n"
        "        ticks[0] += 1\n"
        "t = threading.Thread(target=count)\nt.start()\ntime.sleep(0.05)\nbefore = ticks[0]\n"
        "sb.set_limits(timeout=0.5)\n"
        "try:\n    lib.spin()\nexcept wasmcffi.Timeout:\n    pass\n"
        "stop[0] = True\nt.join()\nresult = ticks[0] - before > 1000", ("ok", True)),
    "two_instances_in_parallel": (
        "f2, l2 = wasmcffi.instantiate(hostile, timeout=0.3)\nf3, l3 = wasmcffi.instantiate(hostile, timeout=0.3)\n"
        "out = []\n"
        "def spin(l):\n"
        "    try:\n        l.spin()\n    except wasmcffi.Timeout:\n        out.append(1)\n"
        "t = time.monotonic()\n"
        "threads = [threading.Thread(target=spin, args=(l,)) for l in (l2, l3)]\n"
        "[x.start() for x in threads]\n[x.join() for x in threads]\n"
        "result = (out, time.monotonic() - t < 2.0)", ("ok", [[1, 1], True])),
    # ---- the world outside: nothing without a grant ----
    "open_file_without_grant": ("result = lib.open_file(b'/etc/passwd')", ("ok", -1)),
    "open_relative_file_without_grant": ("result = lib.open_file(b'hostile.c')", ("ok", -1)),
    "getenv_without_grant": (
        "os.environ['WASMCFFI_SECRET'] = 'x'\nresult = lib.read_env(b'HOME') == ffi.NULL and lib.count_env()",
        ("ok", 0)),
    "args_without_grant": ("result = lib.count_args()", ("ok", 0)),
    "clocks_are_frozen": (
        "time.sleep(0.01)\nresult = (lib.wall_clock(), lib.monotonic_ns())", ("ok", [0, 0])),
    "randomness_is_not_host_entropy": (
        "result = len({wasmcffi.instantiate(hostile)[1].random_word() for _ in range(3)})", ("ok", 1)),
    "open_file_with_grant": (
        "open(os.path.join(tmp, 'data.txt'), 'w').write('hello')\n"
        "f2, l2 = wasmcffi.instantiate(hostile, dirs={'/data': tmp})\n"
        "result = (l2.open_file(b'/data/data.txt'), l2.open_file(b'/data/../etc/passwd'), "
        "l2.open_file(b'/etc/passwd'))", ("ok", [5, -1, -1])),
    "write_in_read_only_grant": (
        "f2, l2 = wasmcffi.instantiate(hostile, dirs={'/data': tmp})\n"
        "result = (l2.write_file(b'/data/out.txt'), os.path.exists(os.path.join(tmp, 'out.txt')))",
        ("ok", [-1, False])),
    "write_in_writable_grant": (
        "f2, l2 = wasmcffi.instantiate(hostile, writable_dirs={'/data': tmp})\n"
        "result = (l2.write_file(b'/data/out.txt'), open(os.path.join(tmp, 'out.txt')).read())",
        ("ok", [1, "written by the guest"])),
    "env_and_args_with_grant": (
        "f2, l2 = wasmcffi.instantiate(hostile, env={'GREETING': 'hi'}, args=['prog', 'x'])\n"
        "result = (f2.string(l2.read_env(b'GREETING')), l2.count_env(), l2.count_args())",
        ("ok", ["b'hi'", 1, 2])),
}


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory):
    """The directory holding the compiled `_hostile` module (built once)."""
    out = tmp_path_factory.mktemp("hostile")
    ffibuilder = wasmcffi.FFI()
    ffibuilder.cdef(CDEF)
    ffibuilder.set_source("_hostile", '#include "hostile.c"', include_dirs=[os.path.dirname(HOSTILE_C)])
    ffibuilder.compile(tmpdir=str(out))
    # Fill the machine-code cache once, so children only load it.
    subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(out)!r}); import _hostile"],
                   check=True, timeout=600)
    return str(out)


def run_case(build_dir, tmp, code):
    """Runs `code` in a child process; returns its report (or fails on a crash)."""
    script = CHILD.format(build_dir=build_dir, tmp=str(tmp), code=textwrap.indent(code, "    "))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (
        f"the host process died (exit code {done.returncode})\nstdout:\n{done.stdout[-2000:]}\n"
        f"stderr:\n{done.stderr[-4000:]}"
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_guest(hostile_build, tmp_path, case):
    code, expected = CASES[case]
    report = run_case(hostile_build, tmp_path, code)
    outcome = report["outcome"]
    if expected[0] == "raise":
        assert outcome[0] == "raise" and outcome[1] == expected[1], f"expected {expected}, got {outcome}"
        assert expected[2] in outcome[2], f"expected {expected[2]!r} in the message: {outcome[2]}"
        if len(expected) > 3:
            assert outcome[3] == expected[3]
    else:
        value = expected[1]
        got = outcome[1] if outcome[0] == "ok" else outcome
        if isinstance(value, str) and not isinstance(got, str):
            got = repr(got)
        assert json.loads(json.dumps(got, default=repr)) == value, f"expected {value!r}, got {outcome}"
    assert report["alive"], "the host did not answer after the case"


def test_hostile_suite_is_large_enough():
    assert len(CASES) >= 30
