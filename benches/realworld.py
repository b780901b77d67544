"""Real-world: one workload per library of the real-world corpus
(tests/realworld: libraries nobody here wrote, from pinned PyPI sdists), timed
under real cffi, wasmcffi `target="native"` and wasmcffi sandboxed, in one run.

Each library is built three times from the same files, as its own build does:
by real cffi (API mode, with the flags Python's build gives cffi), and by
wasmcffi for each target. Every workload runs on the three builds, which must
return the same answer; then the builds are timed in turn, and the ratios to
cffi are printed (targets: sandboxed median <= 1.2x and worst <= 1.5x; native
<= 1.1x on every workload).

A workload is what a user of the library does from Python: calls with bytes
arguments, callbacks into Python, results read with ffi.string/ffi.buffer,
not only the C's own loops. Times are the minimum of the samples.
"""

import contextlib
import os
import random
import statistics
import sys
import time

import cffi
import wasmcffi

import _common

sys.path.insert(0, os.path.join(_common.ROOT, "tests", "realworld"))
import test_hoedown  # noqa: E402  (the corpus's declarations are in its test files)
import test_libyaml  # noqa: E402
import test_lua  # noqa: E402
import test_lz4  # noqa: E402
import test_sqlite  # noqa: E402
import test_xxhash  # noqa: E402

BUILDS = ["cffi", "native", "wasm"]


def _sqlite(ffi, lib, quick):
    """GROUP BY over 200,000 generated rows; 100 result rows through a Python callback."""
    rows = 20000 if quick else 200000
    db = ffi.new("sqlite3 **")
    assert lib.open_with_extensions(b":memory:", db) == lib.SQLITE_OK
    # The sort behind GROUP BY spills to a temporary file past SQLite's cache;
    # a sandbox has no files ("disk I/O error"), so every build sorts in memory.
    assert test_sqlite.query(ffi, lib, b"pragma temp_store = memory", db[0]) == []
    sql = (b"with recursive n(i) as (select 1 union all select i + 1 from n where i < %d)"
           b" select i %% 100 as k, count(*), sum(i), avg(i * 1.5), max(length(hex(i * i))), group_concat(i %% 7, '')"
           b" from n group by k order by k" % rows)
    return lambda: test_sqlite.query(ffi, lib, sql, db[0])


def _hoedown_document(quick):
    return test_hoedown.DOCUMENT * ((20 if quick else 200) * 1024 // len(test_hoedown.DOCUMENT))


def _hoedown(ffi, lib, quick):
    """Renders 200 KB of Markdown to HTML."""
    text = _hoedown_document(quick)
    return lambda: test_hoedown.render(ffi, lib, text)


def _hoedown_callbacks(ffi, lib, quick):
    """The same render with the renderer's normal_text written in Python: a
    callback for every run of plain text, which writes it to the output."""
    text = _hoedown_document(quick)

    def normal_text(ob, content, data):
        if content:
            lib.hoedown_buffer_put(ob, content.data, content.size)

    def customize(renderer):
        callback = ffi.callback("void(hoedown_buffer *, const hoedown_buffer *, const hoedown_renderer_data *)",
                                normal_text)
        renderer.normal_text = callback
        return callback

    return lambda: test_hoedown.render(ffi, lib, text, customize=customize)


def _libyaml(ffi, lib, quick):
    """Parses 300 KB of YAML (flow and block mappings, lists, scalars) into events."""
    records = 400 if quick else 4000
    text = b"".join(b"- {id: %d, name: item-%d, tags: [a, b, c%d], price: %d.%02d}\n"
                    b"- name: block %d\n  nested:\n    deep: [%d, %d]\n    text: 'quoted %d'\n"
                    % (i, i, i % 10, i, i % 100, i, i, i * i, i) for i in range(records))
    return lambda: len(test_libyaml.parse(ffi, lib, text))


LUA_SCRIPT = b"""
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
local t = {} for i = 1, @N@ do t[i] = (i * 7919) % 100003 end
table.sort(t)
local parts = {} for i = 1, @N@ // 10 do parts[#parts + 1] = string.format('%d:%x', i, i * i) end
local s = table.concat(parts, ',')
local count = select(2, s:gsub('ff', ''))
return fib(@FIB@), t[@N@ // 2], #s, count
"""


def _lua(ffi, lib, quick):
    """A script: a recursive fib, sorting a table, building and searching a string."""
    L = lib.luaL_newstate()
    lib.luaL_openlibs(L)
    code = LUA_SCRIPT.replace(b"@FIB@", b"20" if quick else b"27").replace(b"@N@", b"20000" if quick else b"200000")
    return lambda: test_lua.run(ffi, lib, code, L)


def _lz4(ffi, lib, quick):
    """Compresses 3 MB of log-like text and decompresses it."""
    lines = 6000 if quick else 60000
    data = b"".join(b"%d line %d of a log that repeats itself, more or less\n" % (i, i % 97) for i in range(lines))

    def work():
        # The compressed bytes may differ between 64- and 32-bit builds (LZ4's
        # match finder reads words of the machine's size); the round trip may not.
        _, same, size = test_lz4.block_roundtrip(ffi, lib, data)
        return same, size

    return work


XXHASH_DATA = random.Random(17).randbytes(1 << 20)


def _xxhash(ffi, lib, quick):
    """XXH3 and XXH64 of a 16 MiB bytes object (the bytes passed as `const void *`)."""
    data = XXHASH_DATA * (1 if quick else 16)

    def work():
        return lib.XXH3_64bits_withSeed(data, len(data), 7), lib.XXH64(data, len(data), 7)

    return work


#: (workload, library's test module, set up: (ffi, lib, quick) -> callable)
WORKLOADS = [
    ("sqlite", test_sqlite, _sqlite),
    ("hoedown", test_hoedown, _hoedown),
    ("hoedown_callbacks", test_hoedown, _hoedown_callbacks),
    ("libyaml", test_libyaml, _libyaml),
    ("lua", test_lua, _lua),
    ("lz4", test_lz4, _lz4),
    ("xxhash", test_xxhash, _xxhash),
]


@contextlib.contextmanager
def output_to(path):
    """Sends this process's standard output and error (the compilers' warnings
    about the libraries' code) to the file `path` for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def build(library):
    """{build: module} of `library`: cffi's extension and wasmcffi's two targets."""
    out = _common.fresh_dir(os.path.join("realworld", library.name))
    modules = {}
    with output_to(os.path.join(out, "build.log")):
        for name in BUILDS:
            module_name = f"_bench_rw_{library.name}_{name}"
            if name == "cffi":
                path, _ = library.build(cffi.FFI, module_name, os.path.join(out, name))
            else:
                path, _ = library.build(wasmcffi.FFI, module_name, os.path.join(out, name), target=name)
            modules[name] = _common.load_module(path, module_name)
    return modules


def run(repeat, quick):
    """Runs the suite; prints its table and returns its results."""
    built = {}
    start = time.monotonic()
    for _, test_module, _ in WORKLOADS:
        if test_module.LIBRARY.name not in built:
            built[test_module.LIBRARY.name] = build(test_module.LIBRARY)
    print(f"(built {len(built)} libraries x {len(BUILDS)} in {time.monotonic() - start:.0f} s; "
          f"the compilers' output is in {os.path.join(_common.BUILD_DIR, 'realworld', '*', 'build.log')})")

    results = {}
    for workload, test_module, setup in WORKLOADS:
        modules = built[test_module.LIBRARY.name]
        works = {name: setup(m.ffi, m.lib, quick) for name, m in modules.items()}
        answers = {name: work() for name, work in works.items()}   # also a warm-up run
        if any(answers[name] != answers["cffi"] for name in BUILDS):
            raise SystemExit(f"{workload}: the builds disagree: { {n: repr(a)[:200] for n, a in answers.items()} }")
        timings = {name: _common.Timing() for name in BUILDS}
        for _ in range(repeat):
            for name, work in works.items():
                begin = time.perf_counter()
                work()
                timings[name].samples.append(time.perf_counter() - begin)
        results[workload] = {
            "description": setup.__doc__.strip(),
            "ms": {name: t.as_dict(scale=1e3) for name, t in timings.items()},
            "ratio": {name: timings[name].best / timings["cffi"].best for name in ("native", "wasm")},
        }
    summary = {}
    for name in ("native", "wasm"):
        ratios = [r["ratio"][name] for r in results.values()]
        summary[name] = {"median": statistics.median(ratios), "worst": max(ratios)}

    print(f"ms per workload (min of {repeat}); every build gives the same answer")
    rows = [[w, f"{r['ms']['cffi']['min']:.2f}", f"{r['ms']['native']['min']:.2f}", f"{r['ms']['wasm']['min']:.2f}",
             f"{r['ratio']['native']:.2f}", f"{r['ratio']['wasm']:.2f}"] for w, r in results.items()]
    print(_common.table(["workload", "cffi", "native", "wasm", "native/cffi", "wasm/cffi"], rows))
    wasm, native = summary["wasm"], summary["native"]
    print(f"sandboxed/cffi: median {wasm['median']:.2f}x (target <= 1.2x: {_common.verdict(wasm['median'], 1.2)}), "
          f"worst {wasm['worst']:.2f}x (target <= 1.5x: {_common.verdict(wasm['worst'], 1.5)})")
    print(f"native/cffi: median {native['median']:.2f}x, worst {native['worst']:.2f}x "
          f"(target <= 1.1x on every workload: {_common.verdict(native['worst'], 1.1)})")
    return {
        "unit": "ms per workload run",
        "statistic": "min of samples (median kept too)",
        "repeat": repeat,
        "workloads": results,
        "summary": summary,
    }
