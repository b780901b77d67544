"""`set_source()` + `compile()`: C → a sandboxed (wasm32) or native module on disk.

`compile()` writes, in `tmpdir`:
- `<name>.c`: the user's source followed by the generated glue (wrappers for
  every cdef function, accessors for globals, a table of sizes, offsets and
  constant values measured by the compiler);
- `<name>.wasm` (target "wasm") or `<name>.native.so` (target "native");
- `<name>.py`: the loader: `from <name> import ffi, lib`, no compiler needed.
"""

import os
import shlex
import subprocess
import sys

from . import _wasmcffi

#: Flags of every sandboxed module: a reactor (no main), -O2, a 1 MiB C stack,
#: the function table exported and growable (`ffi.callback()` adds host
#: functions to it; guest function pointers are indices into it).
#: zig's linker always puts the stack first in linear memory (so a C stack
#: overflow traps instead of overwriting globals); a clang + wasm-ld toolchain
#: named by WASMCFFI_CC needs `-Wl,--stack-first` for that, which zig refuses.
WASM_FLAGS = [
    "--target=wasm32-wasi",
    "-mexec-model=reactor",
    "-O2",
    "-Wl,-z,stack-size=1048576",
    "-Wl,--export-table",
    "-Wl,--growable-table",
]
WASM_LD_FLAGS = ["-Wl,--stack-first"]


class SourceSpec:
    """What `set_source()` was told."""

    def __init__(self, module_name, source, target, sources, include_dirs, define_macros,
                 extra_compile_args, extra_link_args, libraries, library_dirs):
        if target not in ("wasm", "native"):
            raise ValueError(f"target must be 'wasm' or 'native', not {target!r}")
        if target == "wasm" and libraries:
            raise ValueError(
                "set_source(libraries=...) links host libraries, which cannot run inside the "
                "wasm sandbox: give their C sources with sources=[...], or use target='native' "
                "(or ffi.dlopen() for a host library)"
            )
        if source is None:
            raise NotImplementedError("set_source(name, None) (out-of-line ABI mode) is not supported yet")
        self.module_name = module_name
        self.source = source
        self.target = target
        self.sources = list(sources or ())
        self.include_dirs = list(include_dirs or ())
        self.define_macros = list(define_macros or ())
        self.extra_compile_args = list(extra_compile_args or ())
        self.extra_link_args = list(extra_link_args or ())
        self.libraries = list(libraries or ())
        self.library_dirs = list(library_dirs or ())


def compiler_command(target):
    """The C compiler for `target`, as an argument list."""
    if target == "wasm":
        cc = os.environ.get("WASMCFFI_CC")
        if cc:
            return shlex.split(cc)
        return [sys.executable, "-m", "ziglang", "cc"]
    return shlex.split(os.environ.get("CC") or "cc")


def _flags(spec):
    flags = [f"-I{d}" for d in spec.include_dirs]
    for macro in spec.define_macros:
        name, value = macro if isinstance(macro, tuple) else (macro, None)
        flags.append(f"-D{name}" if value is None else f"-D{name}={value}")
    return flags + spec.extra_compile_args


class CompileError(Exception):
    """The C compiler failed; the message holds its output."""


def run_compiler(args, verbose):
    if verbose:
        print(" ".join(shlex.quote(a) for a in args), file=sys.stderr)
    try:
        done = subprocess.run(args, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise CompileError(f"C compiler not found: {args[0]} ({exc})") from None
    if verbose and (done.stdout or done.stderr):
        print(done.stdout + done.stderr, file=sys.stderr)
    if done.returncode != 0:
        raise CompileError(
            f"C compilation failed (exit code {done.returncode}):\n"
            + " ".join(shlex.quote(a) for a in args) + "\n" + done.stdout + done.stderr
        )


def build_artifact(spec, c_path, out_dir, verbose):
    """Compiles `c_path` (source + glue) and the extra sources; returns the artifact's path."""
    sources = [os.path.abspath(s) for s in spec.sources]
    if spec.target == "wasm":
        runtime = os.path.join(out_dir, "_wasmcffi_runtime.c")
        with open(runtime, "w") as f:
            f.write(_wasmcffi.GUEST_RUNTIME_C)
        artifact = os.path.join(out_dir, spec.module_name + ".wasm")
        args = compiler_command("wasm") + WASM_FLAGS + _flags(spec) + ["-o", artifact, c_path, runtime] + sources
        if os.environ.get("WASMCFFI_CC"):
            args += WASM_LD_FLAGS
        args += spec.extra_link_args
    else:
        # Not `<name>.so`: next to `<name>.py`, Python's import would take that
        # for an extension module and fail to find `PyInit_<name>` in it.
        artifact = os.path.join(out_dir, spec.module_name + ".native.so")
        args = compiler_command("native") + ["-shared", "-fPIC", "-O2"] + _flags(spec)
        args += ["-o", artifact, c_path] + sources
        args += [f"-L{d}" for d in spec.library_dirs] + [f"-l{lib}" for lib in spec.libraries]
        args += spec.extra_link_args
    run_compiler(args, verbose)
    if spec.target == "wasm":
        strip_debug_sections(artifact)
    return artifact


def _leb128(data, at):
    """The unsigned LEB128 number at `data[at:]`, and the offset after it."""
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def strip_debug_sections(path):
    """Drops the DWARF custom sections (`.debug_*`) from the wasm module at `path`.

    wasi-libc comes with debug information that makes a small module close to
    1 MB; the `name` section, which trap backtraces use, is kept."""
    with open(path, "rb") as f:
        data = f.read()
    kept = [data[:8]]  # magic and version
    at = 8
    while at < len(data):
        start = at
        section_id = data[at]
        size, payload = _leb128(data, at + 1)
        at = payload + size
        if section_id == 0:
            name_len, name_at = _leb128(data, payload)
            if data[name_at:name_at + name_len].startswith(b".debug"):
                continue
        kept.append(data[start:at])
    stripped = b"".join(kept)
    if len(stripped) != len(data):
        with open(path, "wb") as f:
            f.write(stripped)


LOADER = '''\
# Generated by wasmcffi from set_source({module!r}, ...): do not edit.
# `from {module} import ffi, lib` loads the {what}; no C compiler is needed.
from wasmcffi._loader import load as _load

ffi, lib = _load(__file__, {target!r}, {artifact!r}, {cdefs}, {table!r})
'''


def compile_module(ffi, spec, tmpdir, verbose):
    """Writes the module's C, artifact and loader into `tmpdir`; returns the loader's path."""
    os.makedirs(tmpdir, exist_ok=True)
    c_path = os.path.join(tmpdir, spec.module_name + ".c")
    with open(c_path, "w") as f:
        f.write(spec.source)
        f.write("\n\n/* ---- generated by wasmcffi ---- */\n")
        f.write(ffi._glue())
    artifact = build_artifact(spec, c_path, tmpdir, verbose)
    from . import _loader

    table = _loader.read_layout_table(spec.target, artifact)
    # Checks the declarations against the compiler now (VerificationError), not at import.
    _loader.make_ffi(spec.target, artifact, ffi._cdef_log, table, check_only=True)
    loader_path = os.path.join(tmpdir, spec.module_name + ".py")
    with open(loader_path, "w") as f:
        f.write(LOADER.format(
            module=spec.module_name,
            what="sandboxed wasm32 module" if spec.target == "wasm" else "native shared library",
            target=spec.target,
            artifact=os.path.basename(artifact),
            cdefs=repr(ffi._cdef_log),
            table=table,
        ))
    return loader_path
