"""The benchmark suite: cell x dtype x shape x threads, rnnfast and its peers
in one group per problem so pytest-benchmark compares them in one run.

    python -m pytest bench/ --benchmark-only                  # default grid
    RNNFAST_BENCH_FULL=1 python -m pytest bench/ --benchmark-only
    python -m pytest bench/ --benchmark-only --benchmark-group-by=group

GFLOP/s and the kernel path are in each result's extra_info. Not part of the
default test run (pytest's testpaths is tests/).
"""
import os

import numpy as np
import pytest

import rnnfast
from peers import PEERS, flops, problem, rnnfast_fn

FULL = os.environ.get("RNNFAST_BENCH_FULL") == "1"
SHAPES = [(100, 1, 128), (100, 16, 256), (100, 64, 512)] + ([(50, 256, 1024)] if FULL else [])
CELLS = ["lstm", "gru", "rnn"] if FULL else ["lstm", "gru"]
DTYPES = ["float32", "float64"]
THREADS = [1, 2]
IMPLS = ["rnnfast", *PEERS]
MODES = ["forward", "train"]


def _params():
    for cell in CELLS:
        for mode in MODES:
            for dtype in DTYPES:
                for T, B, H in SHAPES:
                    for threads in THREADS:
                        if not FULL and (threads == 1 or dtype == "float64") and B > 16:
                            continue  # the default grid keeps the long runs for the main case
                        for impl in IMPLS:
                            yield pytest.param(cell, mode, dtype, (T, B, H), threads, impl,
                                               id=f"{cell}-{mode}-{dtype}-T{T}B{B}H{H}-t{threads}-{impl}")


@pytest.mark.parametrize("cell,mode,dtype,shape,threads,impl", list(_params()))
def test_bench(benchmark, cell, mode, dtype, shape, threads, impl):
    T, B, H = shape
    training = mode == "train"
    p = problem(cell, T, B, H, H, dtype=np.dtype(dtype))
    rnnfast.set_num_threads(threads)
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        pass
    fn = rnnfast_fn(p, training) if impl == "rnnfast" else PEERS[impl](p, training)
    if fn is None:
        pytest.skip(f"{impl} does not run {cell} {mode} here (not installed or no such op)")
    benchmark.group = f"{cell} {mode} {dtype} T{T} B{B} I=H{H} threads={threads}"
    cfg = rnnfast.show_config(file=open(os.devnull, "w"))
    benchmark.extra_info.update(gflop=flops(cell, T, B, H, H, training) / 1e9,
                                isa=cfg["simd_path"], threads=threads)
    result = benchmark.pedantic(fn, rounds=5 if B > 16 else 20, warmup_rounds=1, iterations=1)
    benchmark.extra_info["gflops_per_s"] = benchmark.extra_info["gflop"] / benchmark.stats["median"]
    assert result is not None
