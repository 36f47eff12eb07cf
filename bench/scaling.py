"""Thread scaling and the float64 cost: rnnfast against itself.

For each shape, times the same layer call in float32 on 1 thread and on
each thread count N asked for, and in float64 on the largest N, round after
round (each time is the median across rounds, so a slow spell falls on all
of them alike), and prints the speed-up from 1 to each N and the float64 /
float32 time ratio at the largest N.

    python bench/scaling.py                    # LSTM forward, the report's shapes
    python bench/scaling.py --cell gru --train
    python bench/scaling.py --threads 2,4,8,16 # a sweep, on a bigger machine
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rnnfast  # noqa: E402
from peers import problem, rnnfast_fn  # noqa: E402
from report import SHAPES, median_time  # noqa: E402


def _counts(text: str) -> list:
    """'2,4,8' -> [2, 4, 8]: thread counts, each at least 1, in rising order."""
    try:
        ns = sorted({int(v) for v in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected thread counts like 2,4,8; got {text!r}")
    if not ns or ns[0] < 1:
        raise argparse.ArgumentTypeError(f"thread counts must be at least 1; got {text!r}")
    return ns


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cell", default="lstm", choices=["lstm", "gru", "rnn"])
    ap.add_argument("--train", action="store_true", help="forward plus backward")
    ap.add_argument("--threads", type=_counts, default=[rnnfast.get_num_threads()],
                    help="thread counts to compare with 1, comma-separated (default: "
                         "rnnfast's own count)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--budget", type=float, default=1.5)
    ap.add_argument("--quick", action="store_true", help="small shapes, one round")
    args = ap.parse_args(argv)
    shapes = [(20, 8, 64)] if args.quick else SHAPES
    if args.quick:
        args.rounds, args.repeats, args.budget = 1, 3, 0.5
    ns = args.threads
    n = ns[-1]
    runs = [("float32", 1)] + [("float32", k) for k in ns] + [("float64", n)]
    fns = {}
    for T, B, H in shapes:
        for dtype, _ in runs:
            if (T, B, H, dtype) not in fns:
                p = problem(args.cell, T, B, H, H, dtype=np.dtype(dtype))
                fns[T, B, H, dtype] = rnnfast_fn(p, args.train)
    times = {}
    for r in range(args.rounds):
        print(f"round {r + 1} of {args.rounds}", file=sys.stderr, flush=True)
        for T, B, H in shapes:
            for dtype, threads in runs:
                rnnfast.set_num_threads(threads)
                times.setdefault((T, B, H, dtype, threads), []).append(
                    median_time(fns[T, B, H, dtype], args.repeats, args.budget))
    rnnfast.set_num_threads(None)
    mode = "train" if args.train else "forward"
    with open(os.devnull, "w") as quiet:
        cfg = rnnfast.show_config(file=quiet)
    print(f"{args.cell} {mode} on {cfg['cpu']}, {cfg['simd_path']}: medians of {args.rounds} "
          "rounds (ms)")
    print(f"{'T':>4} {'B':>4} {'I=H':>5} {'f32 1 thr':>10} "
          + "".join(f"{f'f32 {k} thr':>11}" for k in ns)
          + f" {f'f64 {n} thr':>10} " + "".join(f"{f'1->{k} thr':>10}" for k in ns)
          + f" {'f64/f32':>8}")
    for T, B, H in shapes:
        t = [float(np.median(times[T, B, H, d, k])) * 1e3 for d, k in runs]
        t1, tk, t64 = t[0], t[1:-1], t[-1]
        print(f"{T:>4} {B:>4} {H:>5} {t1:>10.3f} " + "".join(f"{x:>11.3f}" for x in tk)
              + f" {t64:>10.3f} " + "".join(f"{t1 / x:>9.2f}x" for x in tk)
              + f" {t64 / tk[-1]:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
