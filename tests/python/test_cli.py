"""`python -m wasmcffi` (the `wasmcffi` command): build, inspect, cost."""

import subprocess
import sys

import pytest

BUILD_SCRIPT = '''
import wasmcffi
ffibuilder = wasmcffi.FFI()
ffibuilder.cdef("""
    int add(int, int);
    double mean(double *, int);
    extern int calls;
    #define VERSION 3
    int try_popen(void);
""")
ffibuilder.set_source("_cli_mod", r"""
    #include <stdio.h>
    int calls;
    int add(int a, int b) { calls++; return a + b; }
    double mean(double *v, int n) { double s = 0; for (int i = 0; i < n; i++) s += v[i]; return n ? s / n : 0; }
    #define VERSION 3
    int try_popen(void) { return popen("true", "r") != NULL; }
""", target=TARGET)
if __name__ == "__main__":
    raise SystemExit("the command must not run the script as __main__")
'''


def wasmcffi_command(*args, cwd):
    done = subprocess.run([sys.executable, "-m", "wasmcffi", *args], capture_output=True, text=True, cwd=str(cwd))
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("command", [[], ["build"], ["inspect"], ["cost"]])
def test_help(tmp_path, command):
    code, out, _ = wasmcffi_command(*command, "--help", cwd=tmp_path)
    assert code == 0 and out.startswith("usage: wasmcffi")


@pytest.fixture(params=["wasm", "native"])
def script(request, tmp_path):
    path = tmp_path / "build_mod.py"
    path.write_text(BUILD_SCRIPT.replace("TARGET", repr(request.param)))
    return path, request.param


def test_build_then_inspect(script):
    path, target = script
    code, out, err = wasmcffi_command("build", f"{path.name}:ffibuilder", cwd=path.parent)
    assert code == 0, err
    assert out.strip() == str(path.parent / "_cli_mod.py")
    code, out, err = wasmcffi_command("inspect", "_cli_mod", cwd=path.parent)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"module _cli_mod: {'sandboxed (wasm32)' if target == 'wasm' else 'native'}, ")
    for expected in ["functions:", "  add: int(*)(int, int)", "  mean: double(*)(double *, int)",
                     "globals:", "  calls: int", "constants:", "  VERSION: int"]:
        assert expected in lines, out
    if target == "wasm":
        assert "calls that fail in the sandbox: popen" in lines
        assert any(line.startswith("limits: memory=") for line in lines)


def test_cost_prints_one_line(script):
    path, _ = script
    code, out, err = wasmcffi_command("cost", str(path), "add", "1", "2", "--number", "200", cwd=path.parent)
    assert code == 0, err
    line, = out.splitlines()
    assert line.startswith("add(1, 2) = 3: native ") and "sandboxed" in line and line.endswith("x")


def test_a_script_without_the_ffi_is_refused(tmp_path):
    (tmp_path / "empty.py").write_text("x = 1\n")
    code, _, err = wasmcffi_command("build", "empty.py:builder", cwd=tmp_path)
    assert code == 1 and "defines no FFI named 'builder'" in err
