"""Lua 5.4 (from the lupa sdist): a scripting language whose errors are
setjmp/longjmp, built for POSIX as on Linux (popen, mkstemp, dlopen), with a C
function written in Python called from Lua."""

import threading

import corpus
import pytest

import wasmcffi
from conftest import library_fixtures, same

LIBRARY = corpus.Library(
    "lua", corpus.LUPA, "third-party/lua54",
    # The library, as Lua's makefile builds liblua.a: no interpreter, no
    # compiler, no test hooks.
    sources=["*.c"], exclude=["lua.c", "luac.c", "onelua.c", "ltests.c"],
    define_macros=[("LUA_USE_LINUX", None)],
    cdef="""
        typedef struct lua_State lua_State;
        typedef int (*lua_CFunction)(lua_State *);
        lua_State *luaL_newstate(void);
        void luaL_openlibs(lua_State *);
        int luaL_loadstring(lua_State *, const char *);
        int lua_pcallk(lua_State *, int nargs, int nresults, int errfunc, intptr_t ctx, void *k);
        const char *lua_tolstring(lua_State *, int index, size_t *len);
        int lua_gettop(lua_State *);
        void lua_settop(lua_State *, int);
        double lua_tonumberx(lua_State *, int, int *);
        void lua_pushnumber(lua_State *, double);
        void lua_pushcclosure(lua_State *, lua_CFunction, int);
        void lua_setglobal(lua_State *, const char *);
        void lua_close(lua_State *);
    """,
    source='#include "lua.h"\n#include "lauxlib.h"\n#include "lualib.h"\n',
)

reference, module = library_fixtures(LIBRARY)


def run(ffi, lib, code, state=None):
    """Runs the Lua chunk `code`: ('ok', its results as strings) or ('error', message)."""
    L = state or lib.luaL_newstate()
    if state is None:
        lib.luaL_openlibs(L)
    base = lib.lua_gettop(L)
    status = lib.luaL_loadstring(L, code)
    if status == 0:
        status = lib.lua_pcallk(L, 0, -1, 0, 0, ffi.NULL)
    results = []
    for i in range(base + 1, lib.lua_gettop(L) + 1):
        text = lib.lua_tolstring(L, i, ffi.NULL)
        results.append(ffi.string(text) if text else None)
    lib.lua_settop(L, base)
    if state is None:
        lib.lua_close(L)
    return ("ok" if status == 0 else "error", results)


@pytest.mark.parametrize("code", [
    b"return 1 + 2, 2^53, 7 // 2, 7 % -3, 1e308 * 10, -0.0, math.pi, 10 / 3",
    b"local t = {} for i = 1, 100000 do t[i] = i * i end return #t, t[100000], table.concat({1, 2, 3}, ',')",
    b"return string.format('%5.2f|%x|%q|%g', 3.14159, 255, 'a\\nb', 1e20), ('hello'):rep(3, '-'),"
    b" string.gsub('hello world', 'o', '0'), ('%d items'):format(42)",
    b"local words = {} for w in ('the quick brown fox'):gmatch('%a+') do words[#words + 1] = w:upper() end"
    b" table.sort(words) return table.concat(words, ' ')",
    b"local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end return fib(25)",
    b"local co = coroutine.wrap(function(a) local b = coroutine.yield(a * 2) return a + b end)"
    b" return co(5), co(7)",
    b"return utf8.char(72, 228, 8364, 128512), utf8.len('h\\xC3\\xA4'), #utf8.char(128512)",
    b"return string.pack('<i4d', 7, 0.5):byte(1, -1)",
    # Errors: each is a longjmp out of the C that raised it, to lua_pcall.
    b"error('raised by the script')",
    b"return nil + 1",
    b"return ({}).field.missing",
    b"local t = setmetatable({}, {__index = function(t, k) error('no ' .. k, 2) end}) return t.x",
    b"return pcall(error, {code = 42}), select(2, pcall(error, 'inner'))",
    b"local function deep(n) return deep(n + 1) + 1 end return deep(1)",
    b"return string.rep('x', -1), ('x'):rep(1e10)",
    b"this is not lua",
    # What a sandbox has no access to fails cleanly inside Lua.
    b"return select('#', io.open('/nonexistent/file'))",
])
def test_scripts(reference, module, code):
    same(lambda ffi, lib: run(ffi, lib, code), reference, module)


def test_python_function_called_from_lua(reference, module):
    """A lua_CFunction written in Python, registered as a Lua global and called
    from a Lua loop: each call enters Python from C and reads the Lua stack."""

    def case(ffi, lib):
        L = lib.luaL_newstate()
        lib.luaL_openlibs(L)
        calls = []

        def hypot(state):
            x = lib.lua_tonumberx(state, 1, ffi.NULL)
            y = lib.lua_tonumberx(state, 2, ffi.NULL)
            calls.append((x, y))
            lib.lua_pushnumber(state, (x * x + y * y) ** 0.5)
            return 1

        fn = ffi.callback("int(lua_State *)", hypot)
        lib.lua_pushcclosure(L, fn, 0)
        lib.lua_setglobal(L, b"hypot")
        result = run(ffi, lib, b"local s = 0 for i = 1, 500 do s = s + hypot(i, i + 1) end"
                               b" return string.format('%.6f', s), pcall(hypot, 'x')", L)
        lib.lua_close(L)
        return result, len(calls), calls[:3]

    (status, values), count, first = same(case, reference, module)
    assert status == "ok" and count == 501 and first[0] == (1.0, 2.0)


def test_sandbox_refuses_processes_and_temp_files(module):
    """io.popen, os.execute and os.tmpname reach the stubs in the sandbox: Lua
    reports the failure as it reports any failed system call."""
    if module.target != "wasm":
        pytest.skip("the host can start processes")
    status, values = run(module.ffi, module.lib,
                         b"local f, err = io.popen('ls')"
                         b" return tostring(f), err, os.execute(), pcall(os.tmpname)")
    # (Booleans have no string form here: lua_tolstring gives NULL for `false`.)
    assert (status, values) == ("ok", [b"nil", b"ls: Function not implemented", None, None,
                                       b"unable to generate a unique filename"])
    assert wasmcffi.sandbox(module.lib).stubbed_calls == [
        "flockfile", "funlockfile", "mkstemp", "pclose", "popen", "system", "tmpfile"]


WARM_UP = (b"words = {} for i = 1, 50000 do words['k' .. i] = i * 3 end"
           b" local n = 0 function counter() n = n + 1 return n end"
           b" function lookup(k) return words[k] end")


def test_a_warmed_up_interpreter_travels_in_a_snapshot(module):
    """A Lua state with a 50,000-entry table and a closure, snapshotted and
    restored into new instances: the state and its address come along."""
    if module.target != "wasm":
        pytest.skip("snapshots are of sandboxed instances")
    ffi, lib = wasmcffi.instantiate(module)
    L = lib.luaL_newstate()
    lib.luaL_openlibs(L)
    assert run(ffi, lib, WARM_UP, L) == ("ok", [])
    assert run(ffi, lib, b"return counter()", L) == ("ok", [b"1"])
    address = int(ffi.cast("uintptr_t", L))
    data = wasmcffi.sandbox(lib).snapshot()

    ffi2, lib2 = wasmcffi.instantiate(module, snapshot=data)
    L2 = ffi2.cast("lua_State *", address)
    assert run(ffi2, lib2, b"return lookup('k777'), counter(), counter()", L2) == ("ok", [b"2331", b"2", b"3"])
    # The original goes on from its own state.
    assert run(ffi, lib, b"return counter()", L) == ("ok", [b"2"])

    # A pool of warm interpreters, called from threads.
    pool = wasmcffi.Pool(module, size=2, snapshot=data)
    answers = []

    def work(key):
        with pool.instance() as (pffi, plib):
            answers.append(run(pffi, plib, b"return lookup('%s')" % key, pffi.cast("lua_State *", address)))

    threads = [threading.Thread(target=work, args=(b"k%d" % i,)) for i in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == sorted(("ok", [b"%d" % (3 * i)]) for i in range(1, 9))
