"""Outputs and gradients are bitwise identical for 1 to 4 threads (and up to
16, where the machine has the cores), on every kernel path, and on repeated
calls (the Jordan network's own test is in test_jordan.py)."""
import os

import numpy as np
import pytest

import rnnfast
from rnnfast import _kernels

from conftest import ARCHS, RTOL, assert_close, backward, forward, make_problem

CASES = [
    ("lstm", {"reverse": True}, {"peephole": True, "lengths": [9, 4, 0, 9, 7, 1, 3]}),
    ("gru", {"linear_before_reset": True}, {"lengths": [2, 9, 9, 0, 5, 5, 8]}),
    ("gru", {"linear_before_reset": False, "reverse": True}, {"lengths": [9, 1, 6, 6, 0, 2, 9]}),
    ("rnn", {"nonlinearity": "relu"}, {}),
]


def results(cell, p, opts):
    out = forward(rnnfast, cell, p, opts)
    return [*out, *backward(rnnfast, cell, out, p).as_dict().values()]


@pytest.mark.parametrize("split", ["auto", "units", "rows"])
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell,opts,extra", CASES)
def test_bitwise_across_threads(arch, dtype, cell, opts, extra, split, monkeypatch):
    """Threads split a step, forward and backward, by hidden units or by
    batch rows (RNNFAST_SPLIT forces one; auto picks rows here at 2 threads,
    units at 3 and 4; backward with peepholes always by units): the bits are
    the same either way."""
    if split != "auto":
        monkeypatch.setenv("RNNFAST_SPLIT", split)
    _kernels.set_arch(arch)
    p = make_problem(cell, T=9, B=7, I=13, H=37, dtype=dtype, seed=3, **extra)
    runs = []
    for n in (1, 2, 3, 4, 1):
        rnnfast.set_num_threads(n)
        runs.append(results(cell, p, opts))
    for other in runs[1:]:
        assert len(other) == len(runs[0])
        for a, b in zip(runs[0], other):
            assert a.tobytes() == b.tobytes()


def test_tape_reuse_gives_same_gradients():
    p = make_problem("lstm", T=5, B=3, I=4, H=6, peephole=True)
    out = forward(rnnfast, "lstm", p, {})
    g1 = backward(rnnfast, "lstm", out, p).as_dict()
    g2 = backward(rnnfast, "lstm", out, p).as_dict()
    assert all(np.array_equal(g1[k], g2[k]) for k in g1)


@pytest.mark.parametrize("cls", [rnnfast.LSTM, rnnfast.GRU, rnnfast.RNN])
def test_layers_bitwise_across_threads_and_calls(cls):
    x = np.random.default_rng(0).standard_normal((8, 5, 6)).astype(np.float32)
    runs = []
    for n in (1, 2, 3, 4, 2):
        rnnfast.set_num_threads(n)
        m = cls(6, 9, 2, bidirectional=True, dropout=0.3, seed=7)  # seeded masks
        y, _ = m(x, seq_lengths=[8, 3, 0, 5, 8])
        dx = m.backward(np.sin(y))
        runs.append([y, dx, *m.grads.values()])
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert a.tobytes() == b.tobytes()


# Every core of the machine, not only the 1 to 4 threads above: on a machine
# with more cores than CI's, a step is split many more ways (16 cores: 16
# hidden units a thread at H 256, 4 batch rows a thread at B 64, threads
# capped by rnf_call_threads at B 1). Counts up to the core count, at most 16.
CORE_COUNTS = sorted({n for n in (1, 2, 3, 5, 8, 11, 16) if n <= (os.cpu_count() or 1)}
                     | {min(os.cpu_count() or 1, 16)})


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("cls", [rnnfast.LSTM, rnnfast.GRU, rnnfast.RNN])
def test_layers_bitwise_on_every_core(arch, cls):
    _kernels.set_arch(arch)
    for dtype in (np.float32, np.float64):
        for T, B, I, H in ((12, 1, 64, 256), (6, 64, 40, 96)):
            x = np.random.default_rng(1).standard_normal((T, B, I)).astype(dtype)
            for training in (False, True):
                runs = []
                for n in CORE_COUNTS:
                    rnnfast.set_num_threads(n)
                    m = cls(I, H, 2, bidirectional=True, dtype=dtype, seed=3)
                    if not training:
                        m.eval()
                    y, _ = m(x)
                    runs.append([y] if not training else
                                [y, m.backward(np.sin(y)), *m.grads.values()])
                for other in runs[1:]:
                    assert all(a.tobytes() == b.tobytes() for a, b in zip(runs[0], other))


# Inference at batch 1 and 2 on two or more threads, and at batch 1 on one
# thread where the kernels run side jobs, projects the input lazily
# (sequence.c, rnf_lazy_rows): a row block of a unit of rows against one
# panel at a time, beside a batch-1 step's own product (gemv_side), while a
# thread waits at the step's barrier, and before a step what it still lacks.
# T = 300 at B = 1 is two chunks (256 rows each), and 97 steps end inside a
# unit; reverse uses the rows from the last; seq_lengths (forward) leave rows
# that are projected but never used. H 200 gives each thread several groups
# of panels and a last panel in part; I 7 and 0 a shorter k loop beside the
# product, I 300 a longer one. A training forward projects every row at once:
# its outputs are the same bits.
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell,opts", [("lstm", {}), ("gru", {}),
                                       ("gru", {"linear_before_reset": False}),
                                       ("rnn", {}), ("lstm", {"reverse": True}),
                                       ("gru", {"reverse": True})])
@pytest.mark.parametrize("T,B,I,H,lengths", [(300, 1, 24, 40, None), (97, 2, 24, 40, None),
                                             (60, 2, 24, 40, [60, 17]), (40, 1, 300, 200, None),
                                             (31, 1, 7, 200, None), (12, 1, 0, 70, None)])
def test_lazy_projection_matches_oracle_and_one_thread(arch, dtype, cell, opts, T, B, I, H,
                                                       lengths):
    _kernels.set_arch(arch)
    p = make_problem(cell, T, B, I, H, dtype=dtype, seed=5, lengths=lengths, scale=0.5)
    runs = []
    for n in (1, 2, 3):
        rnnfast.set_num_threads(n)
        runs.append(tuple(forward(rnnfast, cell, p, opts, keep_tape=False)))
    runs.append(tuple(forward(rnnfast, cell, p, opts, keep_tape=True)))
    want = forward(rnnfast.reference, cell, p, opts, keep_tape=False)
    for name, a, e in zip(("y", "h_n"), runs[1], want):
        assert_close(a, e, RTOL[dtype], name)
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert a.tobytes() == b.tobytes()
