"""One step, the body of a hand-written loop: rnnfast's cells against NumPy.

For each cell and shape, times rnnfast.lstm_cell / gru_cell / rnn_cell (the
same weight arrays every call, as a loop passes them) and the NumPy step a
user writes (bench/peers.py's loop, one step), round after round, and prints
the medians and their ratio.

    python bench/cells.py
    python bench/cells.py --dtype float64 --rounds 5
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rnnfast  # noqa: E402
from peers import numpy_fn, problem  # noqa: E402
from report import median_time  # noqa: E402

SHAPES = [(1, 128), (16, 256), (64, 512)]  # (B, I = H)


def cell_fn(p):
    """A step of rnnfast's cell from the zero state, as the NumPy step starts."""
    x, W, U, bi, bh = p["x"][0], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"]
    h = np.zeros((x.shape[0], U.shape[1]), x.dtype)
    if p["cell"] == "lstm":
        return lambda: rnnfast.lstm_cell(x, h, h, W, U, bi, bh)[0]
    if p["cell"] == "gru":
        return lambda: rnnfast.gru_cell(x, h, W, U, bi, bh)
    return lambda: rnnfast.rnn_cell(x, h, W, U, bi, bh)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"],
                    choices=["lstm", "gru", "rnn"])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--budget", type=float, default=0.5)
    args = ap.parse_args(argv)
    fns = {}
    for cell in args.cells:
        for B, H in SHAPES:
            p = problem(cell, 1, B, H, H, dtype=np.dtype(args.dtype))
            ours, theirs = cell_fn(p), numpy_fn(p)
            tol = 1e-4 if args.dtype == "float32" else 1e-10
            if not np.allclose(ours(), theirs()[0], rtol=tol, atol=tol):
                raise SystemExit(f"{cell} B={B} H={H}: the cell and the NumPy step disagree")
            fns[cell, B, H] = (ours, theirs)
    times = {}
    for r in range(args.rounds):
        print(f"round {r + 1} of {args.rounds}", file=sys.stderr, flush=True)
        for key, pair in fns.items():
            for who, fn in zip(("rnnfast", "numpy"), pair):
                times.setdefault((key, who), []).append(
                    median_time(fn, args.repeats, args.budget))
    print(f"one step, {args.dtype}, {rnnfast.get_num_threads()} threads, medians of "
          f"{args.rounds} rounds (us)")
    print(f"{'cell':>5} {'B':>4} {'I=H':>5} {'rnnfast':>9} {'numpy':>9} {'speed-up':>9}")
    for (cell, B, H) in fns:
        t_r, t_n = (float(np.median(times[(cell, B, H), w])) * 1e6 for w in ("rnnfast", "numpy"))
        print(f"{cell:>5} {B:>4} {H:>5} {t_r:>9.1f} {t_n:>9.1f} {t_n / t_r:>8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
