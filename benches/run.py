"""wasmcffi's benchmark suite: one entry point, sub-suites chosen by argument.

    .venv/bin/python benches/run.py [SUITE ...] [--quick] [--repeat N]

Suites (all of them when none is named):
  calls      ns per call of six signatures through wasmcffi (sandboxed, native,
             dlopen), cffi (API, ABI), ctypes, wasmtime-py and plain Python
  compute    six C kernels, native vs sandboxed at -O2: time ratio per kernel
  bandwidth  GB/s copying bytes into and out of the sandbox vs a host memcpy
  startup    import time of a compiled module (warm cache), fresh instances
  fanout     instance snapshots (take and restore) and a Pool's calls/s on 1 and 2 threads
  realworld  a workload per library of the real-world corpus: real cffi, native and
             sandboxed builds of the same sources, time ratios to cffi

Builds what it measures under build/bench/ (from the current checkout, so a
change to wasmcffi is measured by re-running), prints tables, and writes
benches/results/bench.json plus PNG charts beside it. It measures; it asserts
nothing about speed. Needs the release build (`make bench` does everything).
"""

import argparse
import json
import os
import sys
import time

import _common

SUITES = ["calls", "compute", "bandwidth", "startup", "fanout", "realworld"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("suites", nargs="*", metavar="SUITE",
                        help=f"suites to run, of {', '.join(SUITES)} (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer samples and smaller inputs: a smoke run, not for numbers")
    parser.add_argument("--repeat", type=int, help="samples per measurement (default 7, quick 3)")
    parser.add_argument("--json", default=os.path.join(_common.RESULTS_DIR, "bench.json"),
                        help="result file (default: %(default)s); charts are written beside it")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.suites) - set(SUITES))
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)}: choose from {', '.join(SUITES)}")
    suites = args.suites or SUITES
    repeat = args.repeat or (3 if args.quick else 7)

    out_dir = os.path.dirname(os.path.abspath(args.json))
    os.makedirs(out_dir, exist_ok=True)
    results = {"info": _common.run_info(), "quick": args.quick}
    print(f"wasmcffi benchmarks: {', '.join(suites)}; load average {results['info']['load_average_start']} "
          f"on {results['info']['cpus']} CPUs ({results['info']['cpu']})")
    for name in suites:
        print(f"\n=== {name} ===")
        load_before, start = _common.load_average(), time.monotonic()
        suite = __import__(name)
        results[name] = suite.run(repeat=repeat, quick=args.quick)
        results[name]["load_average"] = [load_before, _common.load_average()]
        results[name]["suite_seconds"] = round(time.monotonic() - start, 1)
        print(f"(load average {load_before} before, {results[name]['load_average'][1]} after; "
              f"the suite took {results[name]['suite_seconds']} s including its builds)")

    charts = []
    if "calls" in results:
        import chart

        charts.append(os.path.join(out_dir, "calls.png"))
        chart.call_ratios(results["calls"], charts[-1], _title("call time per implementation", results))
    if "compute" in results:
        import chart

        charts.append(os.path.join(out_dir, "compute.png"))
        chart.compute_ratios(results["compute"], charts[-1], _title("compute kernels", results))
    if "realworld" in results:
        import chart

        charts.append(os.path.join(out_dir, "realworld.png"))
        chart.realworld_ratios(results["realworld"], charts[-1], _title("real-world libraries", results))
    with open(args.json, "w") as f:
        json.dump(results, f, indent=1)
    print(f"\nresults: {args.json}" + "".join(f"\nchart: {c}" for c in charts))


def _title(what, results):
    info = results["info"]
    return f"wasmcffi {what} — {info['git_commit']} {info['date']}, load {info['load_average_start']}"


if __name__ == "__main__":
    sys.exit(main())
