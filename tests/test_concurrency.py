"""Threads and processes: concurrent calls are correct, the GIL is really
released, and a process forked after OpenMP ran still computes (on one
thread, with the same bits)."""
import multiprocessing as mp
import threading
import warnings

import numpy as np
import pytest

import rnnfast

from conftest import make_problem


def job(k):
    """Problem k: forward and backward of one cell, fully determined by k."""
    cell = ("lstm", "gru", "rnn")[k % 3]
    p = make_problem(cell, T=6 + k % 4, B=1 + k % 5, I=7, H=9 + k % 7, seed=k,
                     dtype=np.float32 if k % 2 else np.float64, lengths=None)
    args = [p["x"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], p["h0"]]
    out = getattr(rnnfast, cell)(*args, keep_tape=True)
    g = getattr(rnnfast, f"{cell}_backward")(out, p["dy"])
    layer = rnnfast.GRU(7, 5, 2, bidirectional=True, seed=k)  # each thread its own layer
    y, _ = layer(p["x"].astype(np.float32))
    dx = layer.backward(np.ones_like(y))
    return [*out, *g.as_dict().values(), y, dx]


def in_threads(fn, n, repeats):
    """fn(k) for k < n, each on its own Python thread, all at once, repeated;
    the last results, or the first error raised."""
    got, errors = [None] * n, []

    def run(k):
        try:
            for _ in range(repeats):
                got[k] = fn(k)
        except Exception as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return got


def test_many_python_threads_get_correct_results():
    rnnfast.set_num_threads(2)  # 12 threads x 2 OpenMP threads on this machine's cores
    want = [job(k) for k in range(12)]
    got = in_threads(job, 12, repeats=3)
    for w, g in zip(want, got):
        for a, b in zip(w, g):
            np.testing.assert_array_equal(a, b)


def test_the_gil_is_released_during_a_kernel():
    """While one thread runs a long kernel, another keeps running Python."""
    rnnfast.set_num_threads(1)
    p = make_problem("lstm", T=400, B=32, I=256, H=256, dtype=np.float32)
    started = threading.Event()

    def long_kernel():
        started.set()
        for _ in range(3):
            rnnfast.lstm(p["x"], p["w_ih"], p["w_hh"])

    t = threading.Thread(target=long_kernel)
    t.start()
    started.wait()
    ticks = 0
    while t.is_alive():
        ticks += 1
    t.join()
    # Holding the GIL would leave this loop a handful of turns at most (one
    # per switch interval between kernel calls); released, it spins freely.
    assert ticks > 10_000


def _child(q, x, w, u):
    import rnnfast as r
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r.set_num_threads(2)
    q.put((r.get_num_threads(), [str(c.message) for c in caught],
           r.lstm(x, w, u).y, r.GRU(3, 4, bidirectional=True, seed=0)(x[..., :3])[0]))


def test_fork_after_openmp_works_on_one_thread():
    p = make_problem("lstm", T=20, B=8, I=16, H=32, dtype=np.float32)
    rnnfast.set_num_threads(2)
    want = rnnfast.lstm(p["x"], p["w_ih"], p["w_hh"]).y  # OpenMP's pool is now running
    want_layer = rnnfast.GRU(3, 4, bidirectional=True, seed=0)(p["x"][..., :3])[0]
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    proc = ctx.Process(target=_child, args=(q, p["x"], p["w_ih"], p["w_hh"]))
    proc.start()
    proc.join(120)
    if proc.is_alive():
        proc.kill()
        pytest.fail("the forked child hung")
    assert proc.exitcode == 0
    n, messages, y, y_layer = q.get(timeout=10)
    assert n == 1
    assert any("forked after kernels ran on several OpenMP threads" in m for m in messages)
    np.testing.assert_array_equal(y, want)
    np.testing.assert_array_equal(y_layer, want_layer)


def test_one_layer_in_eval_mode_serves_many_threads():
    """Inference on a shared layer is safe (the Dask example relies on it),
    also in the round after a weight changed, when the threads find the
    packed weights stale."""
    rnnfast.set_num_threads(2)
    layer = rnnfast.LSTM(6, 8, 2, bidirectional=True, seed=0).eval()
    xs = [np.random.default_rng(k).standard_normal((7, 1 + k % 4, 6)).astype(np.float32)
          for k in range(10)]
    for rnd in range(2):
        want = [layer(x)[0] for x in xs]
        got = in_threads(lambda k: layer(xs[k])[0], len(xs), repeats=5)
        for w, g in zip(want, got):
            np.testing.assert_array_equal(w, g)
        layer.weight_hh_l1_reverse[0, 0] += 0.5  # the next round repacks once
