"""The benchmark report: rnnfast against a NumPy loop, PyTorch and ONNX
Runtime (where installed), in one process, on the same inputs.

Prints a table of median times, GFLOP/s and the ratio of each peer's time to
rnnfast's (> 1: rnnfast is faster), and writes report.json and report.png.

    python bench/report.py                 # the full grid
    python bench/report.py --quick         # small shapes, a smoke run
"""
from __future__ import annotations

import argparse
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


def median_time(fn, repeats: int, budget: float) -> float:
    """Median seconds of fn over repeats calls (fewer if they exceed budget).

    Thread pools (OpenMP, ONNX Runtime's) spin-wait for a while after a call;
    on a 2-core machine that steals the cores from whatever runs next, so
    each implementation starts after the previous one's pool has gone idle."""
    time.sleep(SETTLE)
    fn()  # warm up: first-call allocation, thread start
    times = []
    start = time.perf_counter()
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if time.perf_counter() - start > budget and len(times) >= 3:
            break
    return float(np.median(times))


def run(args) -> list:
    rnnfast.set_num_threads(args.threads)
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        pass
    rows = []
    shapes = QUICK if args.quick else SHAPES
    for cell in args.cells:
        for training in (False, True):
            for T, B, H in shapes:
                p = problem(cell, T, B, H, H, dtype=np.dtype(args.dtype))
                fl = flops(cell, T, B, H, H, training)
                impls = {"rnnfast": rnnfast_fn(p, training)}
                for name, make in PEERS.items():
                    fn = make(p, training)
                    if fn is not None:
                        impls[name] = fn
                times = {n: median_time(f, args.repeats, args.budget) for n, f in impls.items()}
                for name, t in times.items():
                    rows.append(dict(cell=cell, mode="train" if training else "forward",
                                     T=T, B=B, I=H, H=H, impl=name, ms=t * 1e3,
                                     gflops=fl / t / 1e9, ratio=t / times["rnnfast"]))
                print_rows(rows[-len(times):], header=not rows[:-len(times)])
    return rows


def print_rows(rows, header=False):
    if header:
        print(f"{'cell':5} {'mode':7} {'T':>4} {'B':>4} {'I=H':>5}  {'impl':12} "
              f"{'median ms':>10} {'GFLOP/s':>8} {'peer/rnnfast':>12}")
    for r in rows:
        ratio = "" if r["impl"] == "rnnfast" else f"{r['ratio']:.2f}x"
        print(f"{r['cell']:5} {r['mode']:7} {r['T']:>4} {r['B']:>4} {r['H']:>5}  {r['impl']:12} "
              f"{r['ms']:>10.3f} {r['gflops']:>8.1f} {ratio:>12}", flush=True)


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot)")
        return
    groups = sorted({(r["cell"], r["mode"]) for r in rows})
    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 4), squeeze=False)
    for ax, (cell, mode) in zip(axes[0], groups):
        sub = [r for r in rows if r["cell"] == cell and r["mode"] == mode]
        shapes = sorted({(r["T"], r["B"], r["H"]) for r in sub})
        impls = sorted({r["impl"] for r in sub}, key=lambda n: n != "rnnfast")
        width = 0.8 / len(impls)
        for k, impl in enumerate(impls):
            vals = [next((r["gflops"] for r in sub if r["impl"] == impl
                          and (r["T"], r["B"], r["H"]) == s), 0) for s in shapes]
            ax.bar(np.arange(len(shapes)) + k * width, vals, width, label=impl)
        ax.set_xticks(np.arange(len(shapes)) + 0.4 - width / 2)
        ax.set_xticklabels([f"T{t} B{b}\nI=H{h}" for t, b, h in shapes], fontsize=8)
        ax.set_title(f"{cell} {mode}")
        ax.set_ylabel("GFLOP/s (higher is better)")
        ax.legend(fontsize=8)
    fig.suptitle(f"rnnfast vs peers, {rows[0]['dtype']}, {rows[0]['threads']} threads, "
                 f"{rnnfast.show_config(file=open(os.devnull, 'w'))['simd_path']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small shapes, few repeats")
    ap.add_argument("--cells", nargs="+", default=["lstm", "gru"], choices=["lstm", "gru", "rnn"])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--threads", type=int, default=rnnfast.get_num_threads())
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--budget", type=float, default=3.0, help="seconds per implementation and shape")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.budget = 3, 0.5
    rnnfast.show_config()
    print()
    rows = run(args)
    for r in rows:
        r.update(dtype=args.dtype, threads=args.threads)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(rows, f, indent=1)
    plot(rows, os.path.join(args.out, "report.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
