"""Compiling a module's C files to objects: in parallel, and cached by content.

Each translation unit of a module (its source with the glue, the guest runtime,
each file of `sources=[...]`) compiles on its own, as many at a time as the
machine has cores. An object is kept in the object cache under a key covering
the compiler command and the unit's preprocessed text, and so every header it
includes: a rebuild after a change to one file recompiles that file alone, and
one after a change of flags or of a header recompiles what it touches.

The cache is `objects/` in wasmcffi's cache folder (`$WASMCFFI_CACHE_DIR`, else
`$XDG_CACHE_HOME/wasmcffi`, else `~/.cache/wasmcffi`: `_wasmcffi.cache_root()`,
the rule the compiled-module cache follows); `WASMCFFI_OBJECT_CACHE=0` turns it off.
"""

import concurrent.futures
import hashlib
import os
import shutil
import subprocess
import tempfile

from . import _wasmcffi


def cache_dir():
    """The object cache's folder, or None when it is turned off."""
    if os.environ.get("WASMCFFI_OBJECT_CACHE", "1") == "0":
        return None
    root = _wasmcffi.cache_root()
    return os.path.join(root, "objects") if root else None


class Unit:
    """One translation unit: `source` compiled by the argument list `command`
    (compiler and flags, without `-c` and the file names) into `obj`."""

    def __init__(self, source, command, obj):
        self.source = source
        self.command = command
        self.obj = obj


def _cache_key(unit):
    """The key of `unit`'s object: a digest of its command and preprocessed text,
    or None when the preprocessor fails (the compile then reports why)."""
    done = subprocess.run(unit.command + ["-E", unit.source], capture_output=True)
    if done.returncode != 0:
        return None
    digest = hashlib.sha256()
    digest.update("\0".join(unit.command).encode("utf-8", "surrogateescape"))
    digest.update(b"\0\0")
    digest.update(done.stdout)
    return digest.hexdigest()


def _compile(unit, run):
    """Makes `unit.obj`: from the cache when it has the object, else by running
    the compiler (`run(args)`) and keeping the result in the cache."""
    folder = cache_dir()
    key = _cache_key(unit) if folder else None
    cached = os.path.join(folder, key[:2], key + ".o") if key else None
    if cached and os.path.exists(cached):
        shutil.copyfile(cached, unit.obj)
        return False
    run(unit.command + ["-c", unit.source, "-o", unit.obj])
    if cached:
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        # Written under a temporary name, then renamed: a reader never sees half an object.
        fd, partial = tempfile.mkstemp(dir=os.path.dirname(cached), suffix=".part")
        os.close(fd)
        shutil.copyfile(unit.obj, partial)
        os.replace(partial, cached)
    return True


def compile_units(units, run):
    """Compiles `units` in parallel (one compiler per core); `run(args)` runs one
    compiler command and raises on failure. Returns how many were compiled (the
    others came from the cache). The first failure is raised once all finished."""
    workers = max(1, min(len(units), os.cpu_count() or 1))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_compile, unit, run) for unit in units]
        results = [f.exception() or f.result() for f in futures]
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return sum(results)
