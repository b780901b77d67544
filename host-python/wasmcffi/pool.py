"""`Pool`: instances of one sandboxed module serving calls from many threads."""

import os
import queue
import threading
from contextlib import contextmanager

from . import _loader


class Pool:
    """`size` instances of the sandboxed `module` (its module object or lib),
    each made by `wasmcffi.instantiate(module, **options)` (limits, grants,
    `snapshot=`...). `pool.lib.f(...)` runs `f` on a free instance, waiting
    while all are busy, so threads call in parallel: a long call hands the GIL
    back. A call that faults (a trap, a timeout, an `exit()`) raises as it
    would on one instance, and that instance alone is replaced by a fresh one.

    `pool.lib` serves functions whose arguments and result are values (numbers,
    bytes, strings): a pointer into an instance means nothing once the instance
    serves another call. For work in several steps on one instance, take it:
    `with pool.instance() as (ffi, lib): ...`.
    """

    def __init__(self, module, size=None, **options):
        from . import instantiate

        _loader.instance_of(module)  # a TypeError for what is not a sandboxed module
        self._module = module
        self._options = options
        self._instantiate = instantiate
        self.size = size if size is not None else (os.cpu_count() or 1)
        if not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"a pool needs a size of at least 1, not {size!r}")
        self._free = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self.replaced = 0  #: how many faulted instances were replaced
        instances = [instantiate(module, **options) for _ in range(self.size)]
        for pair in instances:
            self._free.put(pair)
        self.lib = PoolLib(self, instances[0])

    @contextmanager
    def instance(self):
        """A free instance's `(ffi, lib)` for the `with` block (waiting while
        all are busy). If a call in the block faults, the instance is replaced."""
        pair = self._take()
        try:
            yield pair
        finally:
            self._give_back(pair)

    def _take(self):
        if self._closed:
            raise ValueError("this pool is closed")
        return self._free.get()

    def _give_back(self, pair):
        """Returns `pair` to the free instances, or a fresh one in its place if it faulted."""
        if _loader.instance_of(pair[1])[0].poisoned is not None:
            with self._lock:
                self.replaced += 1
            try:
                pair = self._instantiate(self._module, **self._options)
            except BaseException:
                self._free.put(pair)  # keep the pool's size; the next call resets or fails
                raise
        self._free.put(pair)

    def _call(self, name, args):
        """`lib.name(*args)` on a free instance (the path of every `pool.lib` call)."""
        pair = self._take()
        try:
            result = getattr(pair[1], name)(*args)
        except BaseException:
            self._give_back(pair)  # a fault poisoned it: replaced there
            raise
        self._free.put(pair)  # a call that returned did not fault
        return result

    def close(self):
        """Drops the instances; later calls raise ValueError."""
        self._closed = True
        while not self._free.empty():
            self._free.get_nowait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<wasmcffi.Pool of {self.size} instances, {self._free.qsize()} free>"


class PoolLib:
    """The `lib` of a `Pool`: its functions run on a free instance."""

    def __init__(self, pool, template):
        self._pool = pool
        self._template = template  # an instance's (ffi, lib), for names and types only
        self._functions = {}

    def __getattr__(self, name):
        function = self._functions.get(name)
        if function is None:
            function = self._functions[name] = self._function(name)
        return function

    def _function(self, name):
        ffi, lib = self._template
        value = getattr(lib, name)
        if not callable(value):
            if isinstance(value, (int, float, bytes, str)):
                return value  # a constant: the same in every instance
            raise TypeError(
                f"pool.lib.{name} is a {type(value).__name__}, which belongs to one instance: "
                f"use `with pool.instance() as (ffi, lib)`"
            )
        result = ffi.typeof(value).result
        if result.kind not in ("primitive", "enum", "void"):
            raise TypeError(
                f"pool.lib.{name} returns '{result.cname}', which would refer to the memory "
                f"of whichever instance ran it: use `with pool.instance() as (ffi, lib)`"
            )
        pool_call = self._pool._call

        def call(*args):
            return pool_call(name, args)

        call.__name__ = call.__qualname__ = name
        call.__doc__ = value.__doc__
        return call

    def __dir__(self):
        return dir(self._template[1])

    def __repr__(self):
        return f"<pool lib of {self._pool!r}>"


__all__ = ["Pool"]
