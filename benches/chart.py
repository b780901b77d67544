"""PNG charts of a run's ratios (matplotlib, Agg backend: no display needed)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)


def call_ratios(calls, path, title):
    """Grouped horizontal bars: per call, each implementation's time relative to
    the reference implementation (log scale; left of the line is faster)."""
    cases = list(calls["cases"])
    impls = list(calls["ratios"])
    height = 0.8 / len(impls)
    fig, ax = plt.subplots(figsize=(11, 1.2 + 1.1 * len(cases)))
    colors = plt.get_cmap("tab10").colors
    for n, impl in enumerate(impls):
        ys = [c + n * height for c in range(len(cases))]
        values = [calls["ratios"][impl][case] for case in cases]
        ax.barh(ys, values, height=height, label=impl, color=colors[n % len(colors)])
        for y, v in zip(ys, values):
            ax.text(v * 1.05, y, f"{v:.2f}", va="center", fontsize=6)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks([c + 0.4 - height / 2 for c in range(len(cases))])
    ax.set_yticklabels(cases)
    ax.invert_yaxis()
    ax.set_xlabel(f"time per call / {calls['ratio_to']} mode (log scale, lower is faster)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def compute_ratios(compute, path, title):
    """Bars of the sandboxed/native time per kernel, with the targets marked."""
    kernels = compute["kernels"]
    columns = [("ratio", "wasm -msimd128"), ("ratio_no_simd", "wasm, no SIMD")]
    series = {label: [kernels[k][key] for k in kernels] for key, label in columns if key in next(iter(kernels.values()))}
    _grouped_bars(list(kernels), series, [(1.2, "--", "target: median <= 1.2x"), (1.5, ":", "target: worst <= 1.5x")],
                  "sandboxed time / native time", path, title, width=10)


def realworld_ratios(realworld, path, title):
    """Bars of each build's time relative to real cffi per workload, with the targets marked."""
    workloads = realworld["workloads"]
    builds = next(iter(workloads.values()))["ratio"]
    series = {f"wasmcffi {build}": [workloads[w]["ratio"][build] for w in workloads] for build in builds}
    limits = [(1.1, ":", "native target <= 1.1x"), (1.2, "--", "sandboxed median <= 1.2x"),
              (1.5, "-.", "sandboxed worst <= 1.5x")]
    _grouped_bars(list(workloads), series, limits, "time / real cffi's time", path, title, width=11)


def _grouped_bars(groups, series, limits, ylabel, path, title, width):
    """One bar per series in each group, labelled with its value; a line at 1
    and one per (value, style, label) of `limits`."""
    bar = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(width, 4))
    for n, (label, values) in enumerate(series.items()):
        xs = [g + n * bar for g in range(len(groups))]
        ax.bar(xs, values, width=bar, label=label)
        for x, v in zip(xs, values):
            ax.text(x, v, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
    ax.axhline(1.0, color="black", linewidth=0.8)
    for limit, style, label in limits:
        ax.axhline(limit, color="red", linewidth=0.8, linestyle=style, label=label)
    ax.set_xticks([g + 0.4 - bar / 2 for g in range(len(groups))])
    ax.set_xticklabels(groups, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
