"""`python -m wasmcffi` (also the `wasmcffi` command): build, inspect and cost
compiled modules.

    wasmcffi build SCRIPT[:NAME]            compile the FFI a build script defines
    wasmcffi inspect MODULE                 what a compiled module holds and allows
    wasmcffi cost SCRIPT[:NAME] FUNC ARGS   the price of the sandbox, in one line
"""

import argparse
import ast
import copy
import importlib
import os
import runpy
import sys
import tempfile
import timeit


def load_builder(spec):
    """The FFI object `NAME` (default `ffibuilder`) of build script `SCRIPT`,
    from `SCRIPT[:NAME]`. The script runs as a module, not as `__main__`, so
    its `if __name__ == "__main__": ffibuilder.compile()` does not."""
    script, _, name = spec.partition(":")
    name = name or "ffibuilder"
    if not os.path.isfile(script):
        raise SystemExit(f"wasmcffi: no build script {script!r}")
    namespace = runpy.run_path(script, run_name="__wasmcffi_build__")
    builder = namespace.get(name)
    if builder is None or not hasattr(builder, "compile"):
        raise SystemExit(f"wasmcffi: {script} defines no FFI named {name!r} (give SCRIPT:NAME)")
    return script, builder


def command_build(args):
    script, builder = load_builder(args.script)
    outdir = args.outdir or os.path.dirname(os.path.abspath(script))
    print(builder.compile(tmpdir=outdir, verbose=args.verbose))


def import_module(spec):
    """The compiled module `spec`: a module name, or the path of its loader."""
    if spec.endswith(".py") or os.sep in spec:
        folder, filename = os.path.split(os.path.abspath(spec))
        sys.path.insert(0, folder)
        spec = os.path.splitext(filename)[0]
    else:
        sys.path.insert(0, os.getcwd())
    return importlib.import_module(spec)


def _artifact(module):
    folder = os.path.dirname(os.path.abspath(module.__file__))
    stem = module.__name__.rsplit(".", 1)[-1]
    for suffix in (".wasm", ".native.so"):
        path = os.path.join(folder, stem + suffix)
        if os.path.exists(path):
            return path
    return None


def command_inspect(args):
    from . import sandbox

    module = import_module(args.module)
    ffi, lib = module.ffi, module.lib
    artifact = _artifact(module)
    print(f"module {module.__name__}: {'sandboxed (wasm32)' if ffi._target == 'wasm32' else 'native'}"
          + (f", {os.path.basename(artifact)} {os.path.getsize(artifact):,} bytes" if artifact else ""))
    sections = {"function": [], "global": [], "constant": []}
    for name, kind, ctype in ffi._lib_declarations():
        sections[kind].append(f"  {name}: {ctype.cname if ctype is not None else '?'}")
    for kind, lines in sections.items():
        if lines:
            print(f"{kind}s:")
            print("\n".join(lines))
    if ffi._target == "wasm32":
        box = sandbox(lib)
        limits = ", ".join(f"{k}={v}" for k, v in box.limits.items())
        print(f"limits: {limits}")
        print(f"memory in use: {box.usage.get('memory', 0):,} bytes")
        stubs = box.stubbed_calls
        print("calls that fail in the sandbox: " + (", ".join(stubs) if stubs else "none"))


def _parse_args(texts):
    try:
        return [ast.literal_eval(t) for t in texts]
    except (ValueError, SyntaxError) as exc:
        raise SystemExit(f"wasmcffi: arguments are Python literals (1, 2.5, b'bytes'): {exc}") from None


def command_cost(args):
    from . import build

    _, builder = load_builder(args.script)
    spec = builder._spec("compile")
    values = _parse_args(args.args)
    times = {}
    folder = tempfile.mkdtemp(prefix="wasmcffi_cost_")
    for target in ("native", "wasm"):
        variant = copy.copy(spec)
        variant.target = target
        variant.module_name = f"{spec.module_name.rsplit('.', 1)[-1]}_cost_{target}"
        if target == "wasm":
            variant.libraries = [lib for lib in spec.libraries if lib not in build.GUEST_LIBC_LIBRARIES]
        module = import_module(build.compile_module(builder, variant, folder, False))
        function = getattr(module.lib, args.function)
        call = lambda: function(*values)  # noqa: E731
        result = call()
        times[target] = min(timeit.repeat(call, number=args.number, repeat=5)) / args.number
        times[target, "result"] = result
    native, wasm = times["native"], times["wasm"]
    print(f"{args.function}({', '.join(args.args)}) = {times['wasm', 'result']!r}: native {native * 1e9:,.0f} ns, "
          f"sandboxed {wasm * 1e9:,.0f} ns per call: the sandbox costs {wasm / native:.2f}x")


def parser():
    """The command-line parser (`--help` on each command)."""
    main = argparse.ArgumentParser(prog="wasmcffi", description=__doc__.splitlines()[0])
    commands = main.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="compile the FFI of a build script",
                                description="Compile the FFI object a build script defines (NAME, default "
                                            "ffibuilder), as its set_source() says; print the module's loader.")
    build.add_argument("script", metavar="SCRIPT[:NAME]")
    build.add_argument("--outdir", help="where the module goes (default: beside the script)")
    build.add_argument("--verbose", action="store_true", help="print the compiler commands and linked stubs")
    build.set_defaults(run=command_build)

    inspect = commands.add_parser("inspect", help="what a compiled module holds and allows",
                                  description="Print a compiled module's functions with their C types, its "
                                              "globals and constants, its artifact's size and, sandboxed, its "
                                              "limits, memory and the calls that fail in the sandbox.")
    inspect.add_argument("module", metavar="MODULE", help="a module name, or the path of its .py loader")
    inspect.set_defaults(run=command_inspect)

    cost = commands.add_parser("cost", help="the price of the sandbox for one call",
                               description="Build a build script's source both natively and sandboxed, call "
                                           "FUNC(ARGS) on each and print both times and their ratio on one line.")
    cost.add_argument("script", metavar="SCRIPT[:NAME]")
    cost.add_argument("function", metavar="FUNC")
    cost.add_argument("args", metavar="ARGS", nargs="*", help="Python literals: 1, 2.5, b'bytes'")
    cost.add_argument("--number", type=int, default=20_000, help="calls per timing (best of 5)")
    cost.set_defaults(run=command_cost)
    return main


def main(argv=None):
    args = parser().parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
