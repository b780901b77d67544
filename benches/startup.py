"""Startup: how long `import` of a compiled module takes with wasmtime's
compiled-code cache warm (each import in a fresh Python process, median of
several; `wasmcffi` itself is imported first and timed separately), and how
long creating (and dropping) a fresh instance of a sandboxed module takes.

Targets (DESIGN.md §4): import <= 2 ms; a fresh instance <= 20 us; and
`import wasmcffi` itself <= 3 ms (issue 17).
"""

import json
import os
import statistics
import subprocess
import sys

import wasmcffi

import _common
import calls

#: Run in a fresh interpreter: times importing `prelude`, then the module
#: (`path`: its loader `.py` or extension file, imported by file location).
IMPORT_SCRIPT = """
import importlib.util, json, sys, time
t0 = time.perf_counter()
import {prelude}
t1 = time.perf_counter()
spec = importlib.util.spec_from_file_location({module!r}, {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
t2 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1]))
"""


def build():
    """{name: (module name, path, prelude)} of the modules whose import is timed.

    The modules are imported by file location: a `target="native"` module's
    `<name>.so` sits beside its loader `<name>.py`, and a plain `import <name>`
    would take the `.so` for a Python extension."""
    out = _common.fresh_dir("startup")
    modules = {}
    for target in ("wasm", "native"):
        name = f"_bench_startup_{target}"
        kwargs = {"libraries": ["m"]} if target == "native" else {}
        path = _common.build_wasmcffi(name, calls.CDEF, calls.SOURCE, target, out, **kwargs)
        modules[f"wasmcffi {target}"] = (name, path, "wasmcffi")
    path = _common.build_cffi("_bench_startup_cffi", calls.CDEF, calls.SOURCE, out, libraries=["m"])
    modules["cffi API"] = ("_bench_startup_cffi", path, "_cffi_backend")
    return modules


def import_times(module, path, prelude, runs):
    """([prelude seconds], [module seconds]) over `runs` fresh processes, after
    one process whose numbers are dropped (it warms the caches)."""
    script = IMPORT_SCRIPT.format(path=path, prelude=prelude, module=module)
    # Bytecode is written and read, as for an installed package (pip compiles
    # it): with PYTHONDONTWRITEBYTECODE set, each run would compile wasmcffi's
    # Python files again and time that instead.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    samples = []
    for _ in range(runs + 1):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise SystemExit(f"importing {module} failed:\n{done.stderr}")
        samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return [s[0] for s in samples[1:]], [s[1] for s in samples[1:]]


def instance_timers(wasm_path, module, sample_time):
    """{what: Timer} creating fresh instances: wasmcffi's API, and wasmtime-py for scale."""
    import wasmtime

    timers = {}
    if hasattr(wasmcffi, "instantiate"):
        timers["wasmcffi.instantiate(module)"] = _common.Timer(
            "i(m)", {"i": wasmcffi.instantiate, "m": module}, sample_time)
    else:
        timers["wasmcffi._wasmcffi.Sandbox(path, out, err)"] = _common.Timer(
            "S(p, o, o)", {"S": wasmcffi._wasmcffi.Sandbox, "p": wasm_path, "o": lambda data: None}, sample_time)
    engine = wasmtime.Engine()
    compiled = wasmtime.Module.from_file(engine, wasm_path)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()

    def wasmtime_instance():
        store = wasmtime.Store(engine)
        store.set_wasi(wasmtime.WasiConfig())
        return linker.instantiate(store, compiled)

    timers["wasmtime-py: new Store + WASI + Linker.instantiate"] = _common.Timer("f()", {"f": wasmtime_instance},
                                                                                  sample_time)
    return timers


def run(repeat, quick):
    """Runs the suite; prints its tables and returns its results."""
    modules = build()
    runs = 3 if quick else 11
    imports = {}
    for what, (module, path, prelude) in modules.items():
        prelude_s, module_s = import_times(module, path, prelude, runs)
        imports[what] = {"prelude": prelude, "prelude_ms": statistics.median(prelude_s) * 1e3,
                         "module_ms": statistics.median(module_s) * 1e3,
                         "module_ms_samples": [s * 1e3 for s in module_s]}
    wasm_loader = modules["wasmcffi wasm"][1]
    wasm_module = _common.load_module(wasm_loader)
    timers = instance_timers(os.path.splitext(wasm_loader)[0] + ".wasm", wasm_module, 0.02 if quick else 0.05)
    _common.interleaved(list(timers.values()), repeat)
    instances = {what: t.timing.as_dict(scale=1e6) for what, t in timers.items()}

    print(f"import with a warm cache: median of {runs} fresh processes (the prelude is imported first)")
    print(_common.table(["module", "import ms", "prelude", "prelude ms"],
                        [[what, f"{r['module_ms']:.2f}", r["prelude"], f"{r['prelude_ms']:.1f}"]
                         for what, r in imports.items()]))
    print(f"\nfresh instance of the sandboxed module, created and dropped (min of {repeat} samples)")
    print(_common.table(["how", "us per instance", "median"],
                        [[what, f"{r['min']:.1f}", f"{r['median']:.1f}"] for what, r in instances.items()]))
    sandboxed_import = imports["wasmcffi wasm"]["module_ms"]
    package_import = imports["wasmcffi wasm"]["prelude_ms"]
    ours = next(iter(instances.values()))["min"]
    print(f"targets: sandboxed import {sandboxed_import:.2f} ms <= 2 ms: {_common.verdict(sandboxed_import, 2.0)}; "
          f"import wasmcffi {package_import:.2f} ms <= 3 ms: {_common.verdict(package_import, 3.0)}; "
          f"fresh instance {ours:.1f} us <= 20 us: {_common.verdict(ours, 20.0)}")
    return {"import": imports, "import_statistic": f"median of {runs} processes",
            "instance_us": instances, "instance_statistic": "min of samples (median kept too)"}
