"""Fuzz libyaml's parser (the corpus's parser of untrusted input) inside the sandbox.

    .venv/bin/python benches/fuzz_libyaml.py [--examples N] [--seed S]

Builds libyaml from the pinned ruamel.yaml.clib sdist (as `make test-realworld`
does) into a sandboxed module, then feeds its parser inputs from hypothesis:
arbitrary bytes, and YAML documents with bytes flipped, cut, repeated or
inserted. Each input is parsed to the end or to the parser's error. It reports
the executions, the outcomes (parsed, refused by the parser, guest fault), and
checks that every fault surfaced as a Python exception with the process alive
and the instance still working. Not part of CI: it measures, and finds.
"""

import argparse
import collections
import os
import sys
import tempfile
import time

from hypothesis import HealthCheck, given, seed, settings, strategies as st

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "tests", "realworld"))

import wasmcffi  # noqa: E402
from conftest import load_module  # noqa: E402
from test_libyaml import DOCUMENTS, LIBRARY  # noqa: E402

SEEDS = list(DOCUMENTS.values())


@st.composite
def yaml_inputs(draw):
    """Arbitrary bytes, or a seed document with a few random edits."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=512))
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        edit = draw(st.sampled_from(["flip", "cut", "repeat", "insert"]))
        if edit == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif edit == "cut":
            del data[at:at + draw(st.integers(1, 16))]
        elif edit == "repeat":
            data[at:at] = data[at:at + draw(st.integers(1, 32))] * draw(st.integers(1, 64))
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


def parse(ffi, lib, text):
    """'parsed', 'refused' (the parser's error) or raises (a guest fault)."""
    parser = ffi.new("yaml_parser_t *")
    event = ffi.new("yaml_event_t *")
    lib.yaml_parser_initialize(parser)
    lib.yaml_parser_set_input_string(parser, text, len(text))
    try:
        while True:
            if not lib.yaml_parser_parse(parser, event):
                return "refused"
            kind = lib.event_type(event)
            lib.yaml_event_delete(event)
            if kind == 2:  # YAML_STREAM_END_EVENT
                return "parsed"
    finally:
        lib.yaml_parser_delete(parser)


def main():
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--examples", type=int, default=20000)
    options.add_argument("--seed", type=int, default=0)
    args = options.parse_args()

    folder = tempfile.mkdtemp(prefix="fuzz_libyaml_")
    path, seconds = LIBRARY.build(wasmcffi.FFI, "_fuzz_libyaml", folder)
    module = load_module(path, "_fuzz_libyaml")
    ffi, lib = module.ffi, module.lib
    # Limits a hostile input would meet: 256 MiB of memory, 2 s per call.
    wasmcffi.sandbox(lib).set_limits(memory=256 << 20, timeout=2.0)
    print(f"built libyaml sandboxed in {seconds:.1f} s ({LIBRARY.lines_of_c():,} lines of C)")

    outcomes = collections.Counter()
    faults = []

    @seed(args.seed)
    @settings(max_examples=args.examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(yaml_inputs())
    def run(text):
        try:
            outcomes[parse(ffi, lib, text)] += 1
        except Exception as exc:  # noqa: BLE001 - every fault is an outcome to report
            outcomes[f"fault: {type(exc).__name__}"] += 1
            faults.append((text[:80], repr(exc)[:200]))
            wasmcffi.sandbox(lib).reset()

    start = time.perf_counter()
    run()
    elapsed = time.perf_counter() - start
    total = sum(outcomes.values())
    print(f"{total:,} executions in {elapsed:.1f} s ({total / elapsed:,.0f}/s)")
    for outcome, count in outcomes.most_common():
        print(f"  {outcome}: {count:,}")
    for text, error in faults[:10]:
        print(f"  fault on {text!r}: {error}")
    # The process is alive (we are here) and the instance still parses.
    assert parse(ffi, lib, SEEDS[0]) == "parsed"
    print("every fault was a Python exception; the process and the instance are alive")


if __name__ == "__main__":
    main()
