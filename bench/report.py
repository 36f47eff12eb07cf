"""The benchmark report: rnnfast against a NumPy loop, PyTorch and ONNX
Runtime (where installed), in one process, on the same inputs.

Prints a table of median times, GFLOP/s and the ratio of each peer's time to
rnnfast's (> 1: rnnfast is faster), and writes report.json and report.png.

    python bench/report.py                 # the full grid
    python bench/report.py --quick         # small shapes, a smoke run
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rnnfast  # noqa: E402
from peers import PEERS, flops, problem, rnnfast_fn  # noqa: E402

SHAPES = [(100, 1, 128), (100, 16, 256), (100, 64, 512), (50, 256, 1024)]
QUICK = [(20, 1, 32), (20, 8, 64)]


SETTLE = 0.2  # seconds: let the previous implementation's worker threads stop spinning
WARMUP = 0.05  # seconds of calls (at least one) before the timed ones


def median_time(fn, repeats: int, budget: float) -> float:
    """Median seconds of fn over repeats calls (fewer if they exceed budget).

    Thread pools (OpenMP, ONNX Runtime's) spin-wait for a while after a call;
    on a 2-core machine that steals the cores from whatever runs next, so
    each implementation starts after the previous one's pool has gone idle.
    Then it runs for WARMUP seconds untimed: after the pause, the first calls
    of a small problem wake sleeping threads and idle cores, which a loop of
    calls does not see. At batch 1, LSTM, medians of 7 calls over 5 rounds
    in two runs, straight after the pause against after the warm-up: ONNX
    Runtime 0.429 / 0.343 ms and 0.386 / 0.347, rnnfast 0.316 / 0.280 and
    0.208 / 0.208."""
    time.sleep(SETTLE)
    start = time.perf_counter()
    fn()  # first-call allocation, thread start
    while time.perf_counter() - start < WARMUP:
        fn()
    times = []
    start = time.perf_counter()
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if time.perf_counter() - start > budget and len(times) >= 3:
            break
    return float(np.median(times))


CEILING_N = 2048  # NumPy's square matmul of this size: the machine's matrix-product ceiling


def ceiling(dtype, threads: int, repeats: int, budget: float) -> float:
    """GFLOP/s of NumPy's (BLAS) n x n x n matmul in dtype on `threads`
    threads: what the hardware gives a large product, the ceiling for the
    large shapes (the issue's reference point)."""
    n = CEILING_N
    a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    try:
        from threadpoolctl import threadpool_limits
        limit = threadpool_limits(threads, user_api="blas")  # restored on leaving `with`
    except ImportError:  # the BLAS keeps its own thread count
        limit = contextlib.nullcontext()
    with limit:
        t = median_time(lambda: a @ a, repeats, budget)
    return 2.0 * n ** 3 / t / 1e9


def fma_peak(dtype, threads: int) -> float:
    """GFLOP/s of rnnfast's register-only multiply-add loop on `threads`
    threads (its active kernel path): the hardware's bound for any product,
    which the matmul ceiling and every implementation here stay under."""
    time.sleep(SETTLE)
    return rnnfast._kernels.peak_gflops(dtype, threads, 0.2)


def run(args) -> list:
    """Time every implementation on every problem, for args.rounds rounds.

    The machine is shared and its speed drifts; running the whole grid
    round after round and keeping each time's median across rounds means a
    slow spell falls on all implementations alike rather than on one."""
    rnnfast.set_num_threads(args.threads)
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        pass
    shapes = QUICK if args.quick else SHAPES
    problems = []
    for cell in args.cells:
        for training in (False, True):
            for T, B, H in shapes:
                p = problem(cell, T, B, H, H, dtype=np.dtype(args.dtype))
                impls = {"rnnfast": rnnfast_fn(p, training)}
                for name, make in PEERS.items():
                    fn = make(p, training)
                    if fn is not None:
                        impls[name] = fn
                problems.append((cell, training, (T, B, H), impls))
    times, ceilings, peaks = {}, [], []
    for r in range(args.rounds):
        print(f"round {r + 1} of {args.rounds}", file=sys.stderr, flush=True)
        ceilings.append(ceiling(np.dtype(args.dtype), args.threads, args.repeats, args.budget))
        peaks.append(fma_peak(np.dtype(args.dtype), args.threads))
        for cell, training, shape, impls in problems:
            for name, fn in impls.items():
                times.setdefault((cell, training, shape, name), []).append(
                    median_time(fn, args.repeats, args.budget))
    ceil_, peak = float(np.median(ceilings)), float(np.median(peaks))
    print(f"ceiling: NumPy {args.dtype} {CEILING_N}^3 matmul on {args.threads} threads, "
          f"{ceil_:.1f} GFLOP/s (median of {len(ceilings)} rounds); "
          f"'of ceiling' is rnnfast's GFLOP/s over it")
    print(f"peak: multiply-adds in registers only on {args.threads} threads, {peak:.1f} "
          f"GFLOP/s (median of {len(peaks)} rounds); 'of peak' is rnnfast's GFLOP/s over "
          "it\n")
    rows = []
    for cell, training, (T, B, H), impls in problems:
        fl = flops(cell, T, B, H, H, training)
        t_rf = float(np.median(times[cell, training, (T, B, H), "rnnfast"]))
        block = []
        for name in impls:
            t = float(np.median(times[cell, training, (T, B, H), name]))
            block.append(dict(cell=cell, mode="train" if training else "forward", T=T, B=B,
                              I=H, H=H, impl=name, ms=t * 1e3, gflops=fl / t / 1e9,
                              ratio=t / t_rf, ceiling=ceil_, peak=peak))
        print_rows(block, header=not rows)
        rows += block
    return rows


def print_rows(rows, header=False):
    if header:
        print(f"{'cell':5} {'mode':7} {'T':>4} {'B':>4} {'I=H':>5}  {'impl':12} "
              f"{'median ms':>10} {'GFLOP/s':>8} {'peer/rnnfast':>12} {'of ceiling':>10} "
              f"{'of peak':>8}")
    for r in rows:
        me = r["impl"] == "rnnfast"
        ratio = "" if me else f"{r['ratio']:.2f}x"
        share = f"{r['gflops'] / r['ceiling']:.0%}" if me else ""
        of_peak = f"{r['gflops'] / r['peak']:.0%}" if me else ""
        print(f"{r['cell']:5} {r['mode']:7} {r['T']:>4} {r['B']:>4} {r['H']:>5}  {r['impl']:12} "
              f"{r['ms']:>10.3f} {r['gflops']:>8.1f} {ratio:>12} {share:>10} {of_peak:>8}",
              flush=True)


def markdown(rows) -> str:
    """A Markdown table: rnnfast's median time, and each peer's time divided by
    rnnfast's (above 1: rnnfast is faster)."""
    peers = [n for n in ("onnxruntime", "torch", "numpy") if any(r["impl"] == n for r in rows)]
    head = ["cell", "mode", "T, B, I=H", "rnnfast ms", "GFLOP/s", "of ceiling", "of peak"] + \
        [f"vs {p}" for p in peers]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    keys = list(dict.fromkeys((r["cell"], r["mode"], r["T"], r["B"], r["H"]) for r in rows))
    for cell, mode, T, B, H in keys:
        by = {r["impl"]: r for r in rows if (r["cell"], r["mode"], r["T"], r["B"], r["H"])
              == (cell, mode, T, B, H)}
        me = by["rnnfast"]
        ms = f"{me['ms']:.3g}" if me["ms"] < 100 else f"{me['ms']:.0f}"
        cells = [cell, mode, f"{T}, {B}, {H}", ms, f"{me['gflops']:.0f}",
                 f"{me['gflops'] / me['ceiling']:.0%}", f"{me['gflops'] / me['peak']:.0%}"]
        cells += [f"{by[p]['ratio']:.2f}x" if p in by else "" for p in peers]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def caption(rows) -> str:
    """The run's setup in a line: dtype, threads, kernel path and CPU (one
    machine kind can come with different CPUs, whose ratios differ)."""
    r = rows[0]
    return f"{r['dtype']}, {r['threads']} threads, {r['simd_path']}, {r['cpu']}"


COLORS = {"rnnfast": "#1f77b4", "onnxruntime": "#2ca02c", "torch": "#d62728", "numpy": "#7f7f7f"}


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot)")
        return
    groups = list(dict.fromkeys((r["cell"], r["mode"]) for r in rows))  # in run order
    ncol = 2
    nrow = (len(groups) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(11, 3.6 * nrow), squeeze=False)
    for ax, (cell, mode) in zip(axes.flat, groups):
        sub = [r for r in rows if r["cell"] == cell and r["mode"] == mode]
        shapes = list(dict.fromkeys((r["T"], r["B"], r["H"]) for r in sub))
        impls = [n for n in COLORS if any(r["impl"] == n for r in sub)]
        width = 0.8 / len(impls)
        for k, impl in enumerate(impls):
            vals = [next((r["gflops"] for r in sub if r["impl"] == impl
                          and (r["T"], r["B"], r["H"]) == sh), 0) for sh in shapes]
            ax.bar(np.arange(len(shapes)) + k * width, vals, width, label=impl,
                   color=COLORS[impl])
        ax.axhline(sub[0]["ceiling"], color="k", ls="--", lw=0.8)
        ax.text(len(shapes) - 0.6, sub[0]["ceiling"], f"NumPy {CEILING_N}\u00b3 matmul",
                va="bottom", ha="right", fontsize=7)
        ax.axhline(sub[0]["peak"], color="k", ls=":", lw=0.8)
        ax.text(len(shapes) - 0.6, sub[0]["peak"], "FMA peak", va="bottom", ha="right",
                fontsize=7)
        ax.set_ylim(top=max(ax.get_ylim()[1], sub[0]["peak"] * 1.1))
        ax.set_xticks(np.arange(len(shapes)) + 0.4 - width / 2)
        ax.set_xticklabels([f"T={t} B={b}\nI=H={h}" for t, b, h in shapes], fontsize=8)
        ax.set_title(f"{cell.upper()} {'forward' if mode == 'forward' else 'forward + backward'}")
        ax.set_ylabel("GFLOP/s (higher is better)")
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in COLORS.values()]
    fig.legend(handles, list(COLORS), loc="upper center", bbox_to_anchor=(0.5, 0.965),
               ncol=len(COLORS), frameon=False)
    fig.suptitle(f"rnnfast {rnnfast.__version__} vs peers: {caption(rows)} (median of medians)",
                 y=0.995, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small shapes, few repeats")
    ap.add_argument("--cells", nargs="+", default=["lstm", "gru"], choices=["lstm", "gru", "rnn"])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--threads", type=int, default=rnnfast.get_num_threads())
    ap.add_argument("--repeats", type=int, default=7, help="calls timed per measurement")
    ap.add_argument("--budget", type=float, default=1.5,
                    help="seconds per measurement (fewer calls if exceeded, at least 3)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="passes over the whole grid; each time is the median across rounds")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.budget, args.rounds = 3, 0.5, 1
    cfg = rnnfast.show_config()
    print()
    rows = run(args)
    for r in rows:
        r.update(dtype=args.dtype, threads=args.threads, simd_path=cfg["simd_path"],
                 cpu=cfg["cpu"])

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(f"{caption(rows)}\n\n{markdown(rows)}\n")
    plot(rows, os.path.join(args.out, "report.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
