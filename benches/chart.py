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
    kernels = list(compute["kernels"])
    fig, ax = plt.subplots(figsize=(10, 4))
    columns = [("ratio", "wasm -msimd128"), ("ratio_no_simd", "wasm, no SIMD")]
    columns = [(key, label) for key, label in columns if key in compute["kernels"][kernels[0]]]
    width = 0.8 / len(columns)
    for n, (key, label) in enumerate(columns):
        xs = [k + n * width for k in range(len(kernels))]
        values = [compute["kernels"][k][key] for k in kernels]
        ax.bar(xs, values, width=width, label=label)
        for x, v in zip(xs, values):
            ax.text(x, v, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
    ax.axhline(1.0, color="black", linewidth=0.8)
    for limit, style, label in ((1.2, "--", "target: median <= 1.2x"), (1.5, ":", "target: worst <= 1.5x")):
        ax.axhline(limit, color="red", linewidth=0.8, linestyle=style, label=label)
    ax.set_xticks([k + 0.4 - width / 2 for k in range(len(kernels))])
    ax.set_xticklabels(kernels)
    ax.set_ylabel("sandboxed time / native time")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def realworld_ratios(realworld, path, title):
    """Bars of each build's time relative to real cffi per workload, with the targets marked."""
    workloads = list(realworld["workloads"])
    builds = list(realworld["workloads"][workloads[0]]["ratio"])
    width = 0.8 / len(builds)
    fig, ax = plt.subplots(figsize=(11, 4))
    for n, build in enumerate(builds):
        xs = [k + n * width for k in range(len(workloads))]
        values = [realworld["workloads"][w]["ratio"][build] for w in workloads]
        ax.bar(xs, values, width=width, label=f"wasmcffi {build}")
        for x, v in zip(xs, values):
            ax.text(x, v, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
    ax.axhline(1.0, color="black", linewidth=0.8)
    for limit, style, label in ((1.1, ":", "native target <= 1.1x"), (1.2, "--", "sandboxed median <= 1.2x"),
                                (1.5, "-.", "sandboxed worst <= 1.5x")):
        ax.axhline(limit, color="red", linewidth=0.8, linestyle=style, label=label)
    ax.set_xticks([k + 0.4 - width / 2 for k in range(len(workloads))])
    ax.set_xticklabels(workloads, fontsize=8)
    ax.set_ylabel("time / real cffi's time")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
