"""A wasmcffi-compiled .wasm file driven by wasmtime-py (the `wasmtime` package),
as a user of plain wasmtime would call it: the reference point for "a sandboxed
call without wasmcffi".

The module is a wasm32-wasi reactor: it imports `wasi_snapshot_preview1` (given
here with nothing granted) and needs `_initialize` called before anything else.
A function NAME is reached through one of two exports:

- `_cffi_d_NAME`, when the module has it: the function itself with its natural
  wasm signature (scalars in, scalar out), called directly;
- otherwise the glue wrapper `void _cffi_f_NAME(void **args, void *result)`:
  every argument is written into a guest block (allocated once with the
  exported `wasmcffi_malloc(size, align)`), then the result read back.
"""

import functools
import struct

import wasmtime

#: Bytes of one argument or result slot in the `_cffi_f_` convention (enough for any scalar).
SLOT = 8


class WasmtimeGuest:
    """One instance of a compiled module, run by wasmtime-py."""

    def __init__(self, wasm_path):
        self.engine = wasmtime.Engine()
        self.module = wasmtime.Module.from_file(self.engine, wasm_path)
        self.store = wasmtime.Store(self.engine)
        self.store.set_wasi(wasmtime.WasiConfig())
        linker = wasmtime.Linker(self.engine)
        linker.define_wasi()
        self.exports = linker.instantiate(self.store, self.module).exports(self.store)
        self.memory = self.exports["memory"]
        initialize = self.exports.get("_initialize")
        if initialize is not None:
            initialize(self.store)
        self._malloc = self.exports["wasmcffi_malloc"]

    def alloc(self, size, align=SLOT):
        """A zeroed guest block of `size` bytes; its guest address."""
        address = self._malloc(self.store, size, align)
        if not address:
            raise MemoryError(f"guest malloc({size}) failed")
        return address

    def write(self, address, data):
        self.memory.write(self.store, data, address)

    def read(self, address, size):
        return bytes(self.memory.read(self.store, address, address + size))

    def read_string(self, address, chunk=64):
        """The NUL-terminated string at `address`, as bytes."""
        parts = []
        while True:
            block = self.memory.read(self.store, address, address + chunk)
            end = block.find(0)
            if end >= 0:
                parts.append(bytes(block[:end]))
                return b"".join(parts)
            parts.append(bytes(block))
            address += chunk

    def function(self, name, params, result):
        """A Python callable for the C function `name`, and the convention it uses.

        `params` and `result` are `struct` codes of the C types on wasm32
        (`i` int, `d` double, `I` pointer or size_t; `result` None for void).
        Returns `(callable, "_cffi_d_" or "_cffi_f_")`.
        """
        direct = self.exports.get(f"_cffi_d_{name}")
        if direct is not None:
            return functools.partial(direct, self.store), "_cffi_d_"
        wrapper = self.exports[f"_cffi_f_{name}"]
        return self._through_wrapper(wrapper, params, result), "_cffi_f_"

    def _through_wrapper(self, wrapper, params, result):
        # One block: the args array (a guest pointer per argument), then one slot
        # per argument, then the result slot; allocated once, reused by every call.
        count = len(params)
        block = self.alloc(4 * count + SLOT * (count + 1))
        slots = block + 4 * count
        result_at = slots + SLOT * count
        self.write(block, struct.pack(f"<{count}I", *(slots + SLOT * i for i in range(count))))
        pack = struct.Struct("<" + "".join(f"{code}{SLOT - struct.calcsize(code)}x" for code in params)).pack
        unpack = struct.Struct("<" + result).unpack if result else None
        size = struct.calcsize("<" + result) if result else 0
        store, memory = self.store, self.memory

        def call(*args):
            if count:
                memory.write(store, pack(*args), slots)
            wrapper(store, block, result_at)
            if unpack is not None:
                return unpack(memory.read(store, result_at, result_at + size))[0]
            return None

        return call
