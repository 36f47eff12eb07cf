"""A layer in inference, once its weights have been found unchanged, runs on
the snapshots it kept and compares them with the live weights while the
kernel runs (forward's verify); a change found that way runs the direction
again on new snapshots. The results are always those of the live weights."""
import numpy as np
import pytest

import rnnfast
from conftest import make_problem
from rnnfast import _kernels

ACTS = {"lstm": (0, 2, 2), "gru": (0, 2, 2), "rnn": (2, 2, 2)}


def run(cell, p, nthreads, verify):
    return _kernels.forward(cell, p["x"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], p["h0"],
                            p.get("c0"), None, p["seq_lengths"], reverse=False, clip=0.0,
                            acts=ACTS[cell], lbr=True, training=False, nthreads=nthreads,
                            verify=verify)


@pytest.mark.parametrize("nthreads", [1, 2, 3])
@pytest.mark.parametrize("T,B", [(0, 2), (1, 1), (40, 1), (40, 2), (9, 12), (5, 0)])
def test_forward_verify_names_each_changed_pair(T, B, nthreads):
    """The pairs are split between the threads end to end and compared in
    the barrier waits of a split by units (batch 1-2), or after the time
    loop (one step, no steps, rows split between threads): a change
    anywhere, near a share's edge included, sets its own bit and no other,
    and the outputs are those of the call without verify."""
    p = make_problem("lstm", T, B, 24, 40, np.float32, seed=T + B)
    want = run("lstm", p, nthreads, None)
    assert want[4] == 0
    rng = np.random.default_rng(T)
    lives = [rng.integers(0, 256, n, dtype=np.uint8) for n in (9000, 3, 70001)]
    snaps = [a.copy() for a in lives]
    got = run("lstm", p, nthreads, (snaps, lives))
    assert got[4] == 0
    for a, b in zip(want[:3], got[:3]):
        np.testing.assert_array_equal(a, b)
    total = sum(a.size for a in lives)
    for i, a in enumerate(lives):
        for at in sorted({0, a.size // 2, a.size - 1, (total // 2 - 9000) % a.size}):
            changed = [s.copy() for s in snaps]
            changed[i][at] ^= 1
            assert run("lstm", p, nthreads, (changed, lives))[4] == 1 << i, (i, at)
    odd = [None, snaps[1].view(np.int8), snaps[2][:-1].copy()]  # missing, dtype, shape
    for i in range(3):
        bad = list(snaps)
        bad[i] = odd[i]
        assert run("lstm", p, nthreads, (bad, lives))[4] == 1 << i
    with pytest.raises(ValueError, match="verify: expected as many"):
        run("lstm", p, nthreads, (snaps[:2], lives))
    with pytest.raises(ValueError, match="verify: expected C-contiguous"):
        run("lstm", p, nthreads, (snaps, [lives[0], lives[1], lives[2][::2]]))


LAYERS = [(rnnfast.LSTM, {"peephole": True}), (rnnfast.GRU, {}), (rnnfast.RNN, {})]


@pytest.mark.parametrize("layer,kw", LAYERS)
@pytest.mark.parametrize("B", [1, 7])
@pytest.mark.parametrize("at", [0, -1])
def test_an_eval_layer_sees_every_weight_change_while_it_trusts(layer, kw, B, at):
    """After a call that found the weights unchanged the layer trusts its
    snapshots; a change to any parameter, at either end, still shows in the
    very next call (found while the kernel ran), and the call after that
    compares first again."""
    rnnfast.set_num_threads(2)
    try:
        for name in list(layer(5, 33, **kw).parameters()):
            m = layer(5, 33, seed=0, **kw).eval()
            fresh = layer(5, 33, seed=0, **kw).eval()
            x = np.random.default_rng(B).standard_normal((12, B, 5)).astype(np.float32)
            y0 = m(x)[0]
            np.testing.assert_array_equal(m(x)[0], y0)
            assert m._trusted
            for mod in (m, fresh):
                mod.parameters()[name].reshape(-1)[at] += 0.25
            y1 = m(x)[0]
            np.testing.assert_array_equal(y1, fresh(x)[0])
            assert not np.array_equal(y1, y0), name
            assert not m._trusted
            np.testing.assert_array_equal(m(x)[0], y1)
            assert m._trusted
    finally:
        rnnfast.set_num_threads(None)


def test_a_stacked_bidirectional_layer_runs_again_only_what_changed():
    m = rnnfast.LSTM(4, 8, 2, bidirectional=True, seed=0).eval()
    fresh = rnnfast.LSTM(4, 8, 2, bidirectional=True, seed=0).eval()
    x = np.random.default_rng(0).standard_normal((6, 2, 4)).astype(np.float32)
    m(x)
    m(x)
    packs = {k: v[4] for k, v in m._packs.items()}
    for mod in (m, fresh):
        mod.parameters()["bias_hh_l1_reverse"][3] -= 1.0
    y, (h, c) = m(x)
    want, (wh, wc) = fresh(x)
    for a, b in ((y, want), (h, wh), (c, wc)):
        np.testing.assert_array_equal(a, b)
    assert all(m._packs[k][4] is v for k, v in packs.items())  # a bias: no repack


def test_training_calls_compare_first():
    """A training forward keeps a tape of the weights it ran with, so it
    never runs on trust; its change of weights makes the next eval call
    compare first."""
    m = rnnfast.GRU(3, 6, seed=0)
    x = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    m.eval()
    m(x)
    m(x)
    assert m._trusted
    m.train()
    m.parameters()["weight_ih_l0"][0, 0] += 1
    y = m(x)[0]
    assert not m._trusted
    m.eval()
    np.testing.assert_array_equal(m(x)[0], y)
