"""Calls whose steps are split by hidden units, and too small to pay for a
barrier a step, run on fewer threads than asked (rnf_call_threads in
sequence.c); the results are the same bits. conftest.py sets
RNNFAST_EXACT_THREADS=1 for the other tests; these unset it."""
import os

import numpy as np
import pytest

import rnnfast
from rnnfast import _kernels

from conftest import ARCHS, GATES, backward, forward, make_problem

DTYPES = [np.float32, np.float64]


@pytest.fixture
def reduced(monkeypatch):
    monkeypatch.delenv("RNNFAST_EXACT_THREADS", raising=False)
    monkeypatch.delenv("RNNFAST_SPLIT", raising=False)


def whh_bytes(cell, H, dtype):
    return GATES[cell] * H * H * np.dtype(dtype).itemsize


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_unit_split_keeps_48_kb_of_w_hh_a_thread(reduced, cell, dtype):
    """Batches of 1 and 2 split their steps by units at 2 to 8 threads: each
    thread kept must have at least 48 KB of W_hh, and every thread that can
    have that is kept, up to the machine's CPUs."""
    for asked in (2, 3, 8):
        nthreads = min(asked, _kernels.cpus())
        for B in (1, 2):
            last = 0
            for H in (1, 8, 31, 32, 64, 96, 128, 200, 256, 512):
                for training in (False, True):
                    n = _kernels.call_threads(cell, dtype, 10, B, H, H, nthreads=asked,
                                              training=training)
                    w = whh_bytes(cell, H, dtype)
                    assert 1 <= n <= nthreads
                    if n > 1:
                        assert w / n >= 48 * 1024
                    if n < nthreads:
                        assert w / (n + 1) < 48 * 1024
                assert n >= last  # more hidden units never fewer threads
                last = n


@pytest.mark.parametrize("dtype", DTYPES)
def test_row_splits_and_single_threads_keep_their_count(reduced, dtype):
    # 16 rows at 2 threads split by rows, with no barrier a step: all kept
    assert _kernels.call_threads("rnn", dtype, 10, 16, 8, 8, nthreads=2) == 2
    assert _kernels.call_threads("lstm", dtype, 10, 1, 8, 8, nthreads=1) == 1
    # the backward with peepholes splits by units whatever the batch
    assert _kernels.call_threads("lstm", dtype, 10, 16, 8, 8, nthreads=2, training=True,
                                 peephole=True) == 1


@pytest.mark.parametrize("training", [False, True])
def test_no_call_runs_on_more_threads_than_cpus(reduced, training):
    """Threads beyond the CPUs would only wait at each step's barrier for one
    that is off the CPU: a call that keeps every thread it can use stops at
    the CPU count (and RNNFAST_EXACT_THREADS=1 still keeps what was asked)."""
    cpus = _kernels.cpus()
    assert 1 <= cpus <= (os.cpu_count() or cpus)
    for B in (1, 64):  # split by units, and by rows
        for asked in (cpus, cpus + 1, 4 * cpus + 3):
            n = _kernels.call_threads("lstm", np.float32, 10, B, 512, 512, nthreads=asked,
                                      training=training)
            assert n == min(asked, cpus)


def test_exact_threads_and_forced_splits_keep_the_count(monkeypatch):
    monkeypatch.setenv("RNNFAST_EXACT_THREADS", "1")
    assert _kernels.call_threads("lstm", np.float32, 10, 1, 8, 8, nthreads=4) == 4
    monkeypatch.setenv("RNNFAST_EXACT_THREADS", "0")  # "0" asks for the reduction
    assert _kernels.call_threads("lstm", np.float32, 10, 1, 8, 8, nthreads=4) == 1


def test_call_threads_rejects_a_bad_call():
    with pytest.raises(ValueError, match="nthreads"):
        _kernels.call_threads("lstm", np.float32, 10, 1, 8, 8, nthreads=0)
    with pytest.raises(ValueError, match="no such call"):
        _kernels.call_threads("lstm", np.float32, 10, 1, 8, -3, nthreads=2)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cell,opts,extra", [
    ("lstm", {"reverse": True}, {"peephole": True, "lengths": [9, 4]}),
    ("gru", {"linear_before_reset": False}, {"lengths": [0, 9]}),
    ("rnn", {}, {}),
])
def test_fewer_threads_give_the_same_bits(arch, dtype, cell, opts, extra, monkeypatch):
    """Forward and backward of small problems (one thread where reduced) give
    the bits of every exact thread count: the workspace the query sized and
    the split the kernels run agree."""
    _kernels.set_arch(arch)
    p = make_problem(cell, T=9, B=2, I=5, H=21, dtype=dtype, seed=5, **extra)
    runs = []
    for exact in ("1", "0"):
        monkeypatch.setenv("RNNFAST_EXACT_THREADS", exact)
        for n in (1, 2, 4):
            rnnfast.set_num_threads(n)
            out = forward(rnnfast, cell, p, opts)
            runs.append([*out, *backward(rnnfast, cell, out, p).as_dict().values()])
    for other in runs[1:]:
        assert len(other) == len(runs[0])
        for a, b in zip(runs[0], other):
            assert a.tobytes() == b.tobytes()
