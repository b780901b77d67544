"""What every benchmark suite shares: building the code under test, timing, and
facts about the run (versions, compilers, machine load) kept with the results."""

import importlib.metadata
import importlib.util
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import timeit

import wasmcffi

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
C_DIR = os.path.join(BENCH_DIR, "c")
RESULTS_DIR = os.path.join(BENCH_DIR, "results")
BUILD_DIR = os.path.join(ROOT, "build", "bench")


def fresh_dir(name):
    """An empty directory `build/bench/<name>` (whatever was there is removed)."""
    path = os.path.join(BUILD_DIR, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def load_module(path, name=None):
    """Imports the module at `path` (a loader `.py` or an extension) under `name`."""
    name = name or os.path.basename(path).split(".")[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def build_wasmcffi(name, cdef, source, target, out_dir, **kwargs):
    """Compiles `source` with wasmcffi's `set_source(target=...)`; returns the loader's path."""
    ffibuilder = wasmcffi.FFI()
    ffibuilder.cdef(cdef)
    ffibuilder.set_source(name, source, target=target, include_dirs=[C_DIR], **kwargs)
    return ffibuilder.compile(tmpdir=out_dir)


def build_cffi(name, cdef, source, out_dir, **kwargs):
    """Compiles `source` as a real cffi API-mode extension; returns the extension's path."""
    import cffi

    ffibuilder = cffi.FFI()
    ffibuilder.cdef(cdef)
    ffibuilder.set_source(name, source, include_dirs=[C_DIR], **kwargs)
    return ffibuilder.compile(tmpdir=out_dir)


def native_cc():
    """The host C compiler, as wasmcffi's `target="native"` uses it."""
    return shlex.split(os.environ.get("CC") or "cc")


def build_shared_library(c_file, out_dir, name):
    """`lib<name>.so` compiled from `c_file` with the host compiler at -O2."""
    out = os.path.join(out_dir, f"lib{name}.so")
    subprocess.run([*native_cc(), "-shared", "-fPIC", "-O2", c_file, "-o", out, "-lm"], check=True)
    return out


class Timing:
    """Repeated measurements of one operation, in seconds per operation."""

    def __init__(self):
        self.samples = []

    @property
    def best(self):
        return min(self.samples)

    @property
    def median(self):
        return statistics.median(self.samples)

    def as_dict(self, scale=1e9):
        """{"min", "median", "samples"} scaled (default: to nanoseconds)."""
        return {"min": self.best * scale, "median": self.median * scale,
                "samples": [s * scale for s in self.samples]}


class Timer:
    """Times a statement: `number` executions per sample, calibrated once so
    that a sample takes about `sample_time` seconds."""

    def __init__(self, stmt, namespace, sample_time=0.03):
        self.timer = timeit.Timer(stmt, globals=namespace)
        self.number = self._calibrate(sample_time)
        self.timing = Timing()

    def _calibrate(self, sample_time):
        number = 1
        while True:
            elapsed = self.timer.timeit(number)
            if elapsed >= sample_time / 4 or number >= 1 << 24:
                return max(1, int(number * sample_time / max(elapsed, 1e-9)))
            number *= 4

    def sample(self):
        """Takes one more sample."""
        self.timing.samples.append(self.timer.timeit(self.number) / self.number)


def interleaved(timers, repeat):
    """Samples every timer `repeat` times, round-robin, so that a burst of load
    from elsewhere on the machine spreads over all of them rather than hitting one."""
    for _ in range(repeat):
        for timer in timers:
            timer.sample()


def load_average():
    """The 1-minute load average (the machine is shared: high values mean noisy numbers)."""
    return round(os.getloadavg()[0], 2)


def _command_output(args):
    try:
        return subprocess.run(args, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return ""


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def run_info():
    """Facts about this run, stored with its results."""
    import cffi

    try:
        wasmtime_py = importlib.metadata.version("wasmtime")
    except importlib.metadata.PackageNotFoundError:
        wasmtime_py = None
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git_commit": _command_output(["git", "rev-parse", "--short", "HEAD"]),
        "python": sys.version.split()[0],
        "cffi": cffi.__version__,
        "wasmcffi": wasmcffi.__version__,
        "wasmtime_py": wasmtime_py,
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "native_cc": _command_output([*native_cc(), "--version"]).splitlines()[:1],
        "load_average_start": load_average(),
    }


def table(headers, rows):
    """Plain-text table: the first column left-aligned, the rest right-aligned."""
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(parts).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def verdict(value, target, smaller_is_better=True):
    """'met' or 'NOT met' for a measured ratio against its target."""
    ok = value <= target if smaller_is_better else value >= target
    return "met" if ok else "NOT met"
