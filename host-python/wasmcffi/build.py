"""`set_source()` + `compile()`: C → a sandboxed (wasm32) or native module on disk.

`compile()` writes, in `tmpdir`:
- `<name>.c`: the user's source followed by the generated glue (wrappers for
  every cdef function, accessors for globals, a table of sizes, offsets and
  constant values measured by the compiler);
- `<name>.wasm` (target "wasm") or `<name>.native.so` (target "native");
- `<name>.py`: the loader: `from <name> import ffi, lib`, no compiler needed;
- `<name>.pyi`: its typed stub (`lib`'s functions, constants and globals).
"""

import hashlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

from . import _objects, _wasmcffi

#: The POSIX parts wasi-libc hides behind flags, turned on for every sandboxed
#: module so that portable C builds unchanged: `<signal.h>` (`sig_atomic_t`,
#: `signal()`, `raise()`), `<sys/mman.h>` (`mmap` of anonymous memory),
#: `clock()` and `times()`, `getpid()`. Each library is linked only if used.
WASI_EMULATIONS = [
    flag
    for part in ("signal", "mman", "process-clocks", "getpid")
    for flag in (f"-D_WASI_EMULATED_{part.upper().replace('-', '_')}", f"-lwasi-emulated-{part}")
]

#: `setjmp`/`longjmp` in sandboxed C: LLVM lowers them onto WebAssembly
#: exceptions (the standard `exnref` form wasmtime runs); wasi-libc has the
#: runtime half, the guest runtime the exception tag. Functions that do not
#: call setjmp compile as before.
SETJMP_FLAGS = ["-mexception-handling", "-mllvm", "-wasm-enable-sjlj",
                "-mllvm", "-wasm-use-legacy-eh=false"]

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
    *WASI_EMULATIONS,
    *SETJMP_FLAGS,
]
WASM_LD_FLAGS = ["-Wl,--stack-first"]


def native_flags():
    """Flags of every `target="native"` module: position-independent code and
    the flags Python was built with (`sysconfig`'s CFLAGS: `-O3 -fwrapv
    -DNDEBUG ...` on most Linux builds), then those of the `CFLAGS` environment
    variable, as setuptools compiles a real cffi extension; so the native
    target runs the C as fast as cffi does. `extra_compile_args` come after
    these and win."""
    import sysconfig

    flags = shlex.split(sysconfig.get_config_var("CFLAGS") or "-O2")
    return ["-fPIC", *flags, *shlex.split(os.environ.get("CFLAGS", ""))]


#: The setuptools `Extension` keywords `set_source()` takes, as CFFI does.
EXTENSION_KEYWORDS = frozenset({
    "sources", "include_dirs", "define_macros", "undef_macros", "library_dirs", "libraries",
    "runtime_library_dirs", "extra_objects", "extra_compile_args", "extra_link_args",
    "export_symbols", "swig_opts", "depends", "language", "optional", "py_limited_api",
})

#: Libraries a sandboxed module needs no linking for: the guest's libc is all of them.
GUEST_LIBC_LIBRARIES = frozenset({"c", "m", "dl", "pthread", "rt", "util", "crypt", "resolv"})

#: The C put before the user's source: the standard headers CFFI's generated C
#: makes visible to it (it includes <Python.h>, which includes most of these,
#: then <stddef.h> and <stdint.h>), on both targets.
SOURCE_PRELUDE = """\
/* wasmcffi: what CFFI's generated C makes visible to the source */
#define _CFFI_
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <ctype.h>
#include <wchar.h>
#include <assert.h>
#include <time.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <unistd.h>
"""


class SourceSpec:
    """What `set_source()` was told: the module's name and C, the target, and the
    setuptools `Extension` keywords, checked against what the target can do."""

    def __init__(self, module_name, source, target="wasm", source_extension=".c", **kwargs):
        if not isinstance(module_name, str):
            raise TypeError("'module_name' must be a string")
        if target not in ("wasm", "native"):
            raise ValueError(f"target must be 'wasm' or 'native', not {target!r}")
        unknown = set(kwargs) - EXTENSION_KEYWORDS
        if unknown:
            raise TypeError(f"set_source() got unexpected keyword arguments {sorted(unknown)}")
        if source_extension not in (".c", ".cpp", ".cxx", ".cc", ".C"):
            raise ValueError(f"source_extension must name a C or C++ file ('.c', '.cpp'), not {source_extension!r}")
        self.module_name = module_name
        self.source = source
        self.target = target
        self.source_extension = source_extension
        self.cplusplus = source_extension != ".c" or kwargs.get("language") == "c++"

        def strings(key):
            value = kwargs.get(key) or ()
            if isinstance(value, str):
                raise TypeError(f"set_source({key}=...) must be a list of strings, not a string")
            return [os.fspath(v) for v in value]

        self.sources = strings("sources")
        self.include_dirs = strings("include_dirs")
        self.define_macros = list(kwargs.get("define_macros") or ())
        self.undef_macros = strings("undef_macros")
        self.extra_compile_args = strings("extra_compile_args")
        self.extra_link_args = strings("extra_link_args")
        self.extra_objects = strings("extra_objects")
        self.library_dirs = strings("library_dirs")
        self.runtime_library_dirs = strings("runtime_library_dirs")
        self.libraries = strings("libraries")
        if target == "wasm":
            host_only = [lib for lib in self.libraries if lib not in GUEST_LIBC_LIBRARIES]
            if host_only:
                raise ValueError(
                    f"set_source(libraries={host_only!r}) with target='wasm': a host library cannot "
                    "run inside the wasm sandbox (only the guest's libc is linked: "
                    f"{', '.join(sorted(GUEST_LIBC_LIBRARIES))}); give its C sources with "
                    "sources=[...], or use target='native' (or ffi.dlopen() for a host library)"
                )
            # Everything libc provides is already in the guest: nothing to link.
            self.libraries = []


def compiler_command(target, cplusplus=False):
    """The C (or C++) compiler for `target`, as an argument list."""
    if target == "wasm":
        cc = os.environ.get("WASMCFFI_CXX" if cplusplus else "WASMCFFI_CC")
        if cc:
            return shlex.split(cc)
        if importlib.util.find_spec("ziglang") is None:
            raise CompileError(
                "no C compiler for target 'wasm': install wasmcffi's build extra "
                "(pip install 'wasmcffi[build]', which brings the ziglang package), "
                f"or name a wasm32-wasi clang in {'WASMCFFI_CXX' if cplusplus else 'WASMCFFI_CC'}")
        return [sys.executable, "-m", "ziglang", "c++" if cplusplus else "cc"]
    if cplusplus:
        return shlex.split(os.environ.get("CXX") or "c++")
    return shlex.split(os.environ.get("CC") or "cc")


def _flags(spec):
    flags = [f"-I{d}" for d in spec.include_dirs]
    for macro in spec.define_macros:
        name, value = macro if isinstance(macro, tuple) else (macro, None)
        flags.append(f"-D{name}" if value is None else f"-D{name}={value}")
    flags += [f"-U{name}" for name in spec.undef_macros]
    return flags + spec.extra_compile_args


class CompileError(_wasmcffi.VerificationError):
    """The C compiler failed; the message holds its output. A `VerificationError`,
    as CFFI raises when its compiler fails."""


def run_compiler(args, verbose, target):
    """Runs the compiler command `args` for `target`; CompileError with its
    output (file, line and message of each error) when it fails."""
    if verbose:
        print(" ".join(shlex.quote(a) for a in args), file=sys.stderr)
    try:
        done = subprocess.run(args, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise CompileError(f"C compiler not found: {args[0]} ({exc})") from None
    if verbose and (done.stdout or done.stderr):
        print(done.stdout + done.stderr, file=sys.stderr)
    if done.returncode != 0:
        output = done.stdout + done.stderr
        raise CompileError(
            f"C compilation failed for target '{target}' (exit code {done.returncode}):\n"
            + " ".join(shlex.quote(a) for a in args) + "\n" + output + _missing_headers(output, target)
        )


#: Where a native compiler finds system headers here, to tell a header the
#: sandbox lacks from one that does not exist at all.
NATIVE_INCLUDE_DIRS = ("/usr/include", "/usr/local/include", "/usr/include/x86_64-linux-gnu",
                       "/usr/include/aarch64-linux-gnu")


def _missing_headers(output, target):
    """For a sandboxed build: a note on each header the compiler could not find
    that the host has, which the sandbox's libc (wasi-libc) does not provide."""
    if target != "wasm":
        return ""
    notes = []
    for line in output.splitlines():
        marker = "fatal error: '"
        if marker in line and "' file not found" in line:
            header = line.split(marker, 1)[1].split("' file not found", 1)[0]
            if any(os.path.exists(os.path.join(d, header)) for d in NATIVE_INCLUDE_DIRS):
                notes.append(
                    f"note: <{header}> exists on this machine for native builds, but not in the "
                    "sandbox's C library (wasi-libc): sandboxed C cannot use it (build with "
                    "target='native' for code that needs it)")
    return "".join("\n" + n for n in notes)


def module_base(tmpdir, module_name):
    """Where module `module_name`'s files go in `tmpdir`, without their suffix: a
    dotted name goes into its package's folder (`pkg.mod` → `tmpdir/pkg/mod`),
    which is made."""
    base = os.path.join(tmpdir, *module_name.split("."))
    os.makedirs(os.path.dirname(base) or ".", exist_ok=True)
    return base


#: The extensions of C files; other sources are C++ (as setuptools decides).
C_EXTENSIONS = (".c",)


def guest_files_digest():
    """A digest of the guest's C files (runtime, stubs, headers): what names
    their folder, and what a `verify()` module's name covers of them."""
    return hashlib.sha256(repr(sorted(_wasmcffi.GUEST_FILES.items())).encode()).hexdigest()


def write_guest_files(out_dir):
    """Writes the guest's C files into a folder named by their content and
    returns it: in the object cache's folder, so that the commands that name it
    (and so the cached objects) are the same from one build to the next, else
    in `out_dir`."""
    folder = os.path.join(_objects.cache_dir() or out_dir, f"guest-{guest_files_digest()[:16]}")
    if os.path.exists(os.path.join(folder, ".complete")):
        return folder
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    partial = tempfile.mkdtemp(dir=os.path.dirname(folder), prefix=".guest-")
    for path, text in _wasmcffi.GUEST_FILES.items():
        target = os.path.join(partial, *path.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as f:
            f.write(text)
    open(os.path.join(partial, ".complete"), "w").close()
    try:
        os.rename(partial, folder)
    except OSError:  # another build wrote the same files first
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def build_artifact(spec, c_path, base, verbose):
    """Compiles `c_path` (source + glue) and the extra sources, each to an object
    (in parallel, through the object cache), and links them into the artifact
    `base` + `.wasm` or `.native.so`; returns its path."""
    out_dir = os.path.dirname(base)
    objects_dir = base + ".objects"
    os.makedirs(objects_dir, exist_ok=True)
    # (file, compiled as C++): the module's own C, then the sources.
    inputs = [(c_path, spec.cplusplus)]
    inputs += [(os.path.abspath(s), not s.endswith(C_EXTENSIONS)) for s in spec.sources]
    if spec.target == "wasm":
        guest = write_guest_files(out_dir)
        inputs += [(os.path.join(guest, "runtime.c"), False), (os.path.join(guest, "stubs.c"), False)]
        target_flags = list(WASM_FLAGS)
        # After the user's include folders: their headers win, then the guest's
        # additions to wasi-libc's, then wasi-libc's.
        compile_flags = _flags(spec) + [f"-I{os.path.join(guest, 'include')}"]
        artifact = base + ".wasm"
        link_flags = WASM_LD_FLAGS if os.environ.get("WASMCFFI_CC") else []
    else:
        target_flags = native_flags()
        compile_flags = _flags(spec)
        # Not `<name>.so`: next to `<name>.py`, Python's import would take that
        # for an extension module and fail to find `PyInit_<name>` in it.
        artifact = base + ".native.so"
        link_flags = ["-shared"] + [f"-L{d}" for d in spec.library_dirs]
        link_flags += [f"-Wl,-rpath,{d}" for d in spec.runtime_library_dirs]
        link_flags += [f"-l{lib}" for lib in spec.libraries]
    units = [
        _objects.Unit(path, compiler_command(spec.target, cplusplus) + target_flags + compile_flags,
                      os.path.join(objects_dir, f"{i}-{os.path.splitext(os.path.basename(path))[0]}.o"))
        for i, (path, cplusplus) in enumerate(inputs)
    ]
    _objects.compile_units(units, lambda args: run_compiler(args, verbose, spec.target))
    linker = compiler_command(spec.target, any(cplusplus for _, cplusplus in inputs))
    run_compiler(linker + target_flags + ["-o", artifact] + [u.obj for u in units] + spec.extra_objects
                 + link_flags + spec.extra_link_args, verbose, spec.target)
    if spec.target == "wasm":
        finish_wasm(artifact, spec.module_name, verbose)
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


def _sections(data):
    """Each section of the wasm module `data`: (id, start of the section, start of
    its payload, end)."""
    at = 8  # magic and version
    while at < len(data):
        start = at
        size, payload = _leb128(data, at + 1)
        at = payload + size
        yield data[start], start, payload, at


def _custom_name(data, payload):
    """A custom section's name, and where its content starts."""
    size, at = _leb128(data, payload)
    return data[at:at + size], at + size


def _function_names(data):
    """The function names of the module's `name` section."""
    names = set()
    for section_id, _, payload, end in _sections(data):
        if section_id != 0:
            continue
        name, at = _custom_name(data, payload)
        if name != b"name":
            continue
        while at < end:
            kind, at = data[at], at + 1
            size, at = _leb128(data, at)
            if kind == 1:  # function names: a vector of (index, name)
                count, entry = _leb128(data, at)
                for _ in range(count):
                    _, entry = _leb128(data, entry)
                    length, entry = _leb128(data, entry)
                    names.add(data[entry:entry + length].decode("utf-8", "replace"))
                    entry += length
            at += size
    return names


def _leb128_bytes(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


#: The custom section that lists the stubs a sandboxed module links.
STUBS_SECTION = b"wasmcffi.stubs"


def sandbox_stubs():
    """The calls guest/stubs.c defines (what a sandbox cannot do)."""
    return set(re.findall(r"^SANDBOX_STUB [^(]*?\b(\w+)\(", _wasmcffi.GUEST_FILES["stubs.c"], re.M))


def finish_wasm(path, module_name, verbose):
    """Drops the DWARF custom sections (`.debug_*`) from the wasm module at `path`
    and records, in a `wasmcffi.stubs` section, the stubs it links: the calls
    that compile and fail at run time (`wasmcffi.sandbox(lib).stubbed_calls`).
    Returns their names.

    wasi-libc comes with debug information that makes a small module close to
    1 MB; the `name` section, which trap backtraces use, is kept."""
    with open(path, "rb") as f:
        data = f.read()
    kept = [data[:8]]
    for section_id, start, payload, end in _sections(data):
        if section_id == 0 and _custom_name(data, payload)[0].startswith((b".debug", STUBS_SECTION)):
            continue
        kept.append(data[start:end])
    stubs = sorted(sandbox_stubs() & _function_names(data))
    content = _leb128_bytes(len(STUBS_SECTION)) + STUBS_SECTION + ",".join(stubs).encode()
    kept.append(b"\0" + _leb128_bytes(len(content)) + content)
    with open(path, "wb") as f:
        f.write(b"".join(kept))
    if verbose and stubs:
        print(f"wasmcffi: module {module_name} links calls a sandbox cannot make; they fail at run time "
              f"(-1 or NULL, errno ENOSYS): {', '.join(stubs)}", file=sys.stderr)
    return stubs


PYTHON_MODULE = '''\
# Generated by wasmcffi from set_source({module!r}, None): do not edit.
# Out-of-line ABI mode: `from {module} import ffi`, then `lib = ffi.dlopen(...)`.
import wasmcffi as _wasmcffi

ffi = _wasmcffi.FFI()
ffi._out_of_line = True  # its libs behave as those of CFFI's compiled FFI objects
for _csource, _options in {cdefs}:
    ffi.cdef(_csource, **_options)
del _csource, _options
'''

LOADER = '''\
# Generated by wasmcffi from set_source({module!r}, ...): do not edit.
# `from {module} import ffi, lib` loads the {what}; no C compiler is needed.
from wasmcffi._loader import load as _load

ffi, lib = _load(__file__, {target!r}, {artifact!r}, {cdefs}, {table!r})
'''


def module_c_text(ffi, spec):
    """The C compiled for `spec`: the prelude, the user's source, then the glue
    (with C linkage when the source is C++)."""
    glue = ffi._glue()
    if spec.cplusplus:
        glue = 'extern "C" {\n' + glue + '\n}\n'
    head = f"/* module {spec.module_name}, generated by wasmcffi */\n"
    return (head + SOURCE_PRELUDE + "\n" + spec.source
            + "\n\n/* ---- generated by wasmcffi ---- */\n" + glue)


def compile_module(ffi, spec, tmpdir, verbose):
    """Writes the module's C, artifact and loader into `tmpdir` (a dotted module
    name goes into its package's folder there); returns the loader's path."""
    base = module_base(tmpdir, spec.module_name)
    c_path = os.path.join(tmpdir, spec.module_name + spec.source_extension)
    with open(c_path, "w") as f:
        f.write(module_c_text(ffi, spec))
    artifact = build_artifact(spec, c_path, base, verbose)
    from . import _loader, _stubs

    table = _loader.read_layout_table(spec.target, artifact)
    # Checks the declarations against the compiler now (VerificationError), not at import.
    built = _loader.make_ffi(spec.target, artifact, ffi._cdef_log, table, check_only=True)
    _stubs.write_stub(base + ".pyi", spec.module_name, built)
    loader_path = base + ".py"
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
