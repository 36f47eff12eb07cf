"""Weights packed once (what layers keep between calls) give the same bits
as weights packed in the call, for any thread count, and are refused when
they were made for another problem or kernel path."""
import numpy as np
import pytest

import rnnfast
from rnnfast import _kernels

from conftest import ARCHS, make_problem

CASES = [("lstm", True, {}), ("gru", True, {}), ("gru", False, {}), ("rnn", True, {})]
ACTS = {"lstm": (0, 2, 2), "gru": (0, 2, 2), "rnn": (2, 2, 2)}


def run(cell, p, lbr, nthreads, packed=None):
    fw = _kernels.forward(cell, p["x"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], p["h0"],
                          p.get("c0"), None, p["seq_lengths"], reverse=True, clip=0.0,
                          acts=ACTS[cell], lbr=lbr, training=True, nthreads=nthreads,
                          packed=packed)
    bw = _kernels.backward(cell, p["x"], p["w_ih"], p["w_hh"], None, p["seq_lengths"], p["dy"],
                           p["dh_n"], p.get("dc_n"), fw[3], reverse=True, clip=0.0,
                           acts=ACTS[cell], lbr=lbr, nthreads=nthreads, packed=packed)
    return [a for a in (*fw[:3], *bw) if a is not None]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("cell,lbr,_", CASES)
def test_prepacked_weights_give_the_same_bits(cell, lbr, _, arch):
    _kernels.set_arch(arch)
    for B in (1, 2, 5):  # batch 1-2 use the fused all-gates product
        p = make_problem(cell, 6, B, 19, 37, np.float32, seed=B, lengths=[6, 2, 5, 0, 3][:B])
        packed = _kernels.pack(cell, p["w_ih"], p["w_hh"], training=True, nthreads=1)
        want = run(cell, p, lbr, 1)
        for n in (1, 2, 3):  # one pack serves every thread count
            for a, b in zip(want, run(cell, p, lbr, n, packed)):
                np.testing.assert_array_equal(a, b)


def test_packed_weights_are_checked():
    p = make_problem("lstm", 3, 2, 4, 5, np.float64)
    infer = _kernels.pack("lstm", p["w_ih"], p["w_hh"], training=False, nthreads=2)
    with pytest.raises(ValueError, match="packed weights were made for another"):
        run("lstm", p, True, 2, infer)  # an inference pack has no backward panels
    q = make_problem("lstm", 3, 2, 4, 6, np.float64)
    train = _kernels.pack("lstm", q["w_ih"], q["w_hh"], training=True, nthreads=2)
    with pytest.raises(ValueError, match="packed weights were made for another"):
        run("lstm", p, True, 2, train)  # other sizes
    if len(ARCHS) > 1:
        packed = _kernels.pack("lstm", p["w_ih"], p["w_hh"], training=True, nthreads=2)
        _kernels.set_arch(ARCHS[0] if _kernels.arch_name() != ARCHS[0] else ARCHS[1])
        with pytest.raises(ValueError, match="packed weights were made for another"):
            run("lstm", p, True, 2, packed)  # another kernel path


def test_layer_keeps_its_pack_until_something_changes():
    m = rnnfast.LSTM(4, 8, 2, bidirectional=True, seed=0).eval()
    x = np.random.default_rng(0).standard_normal((3, 2, 4)).astype(np.float32)
    y0 = m(x)[0]
    packs = {k: v[4] for k, v in m._packs.items()}
    assert len(packs) == 4
    np.testing.assert_array_equal(m(x)[0], y0)
    assert all(m._packs[k][4] is v for k, v in packs.items())  # reused
    m.parameters()["weight_hh_l1_reverse"][0, 0] += 1.0
    y1 = m(x)[0]
    assert m._packs[(1, 1)][4] is not packs[(1, 1)]  # repacked
    assert all(m._packs[k][4] is packs[k] for k in [(0, 0), (0, 1), (1, 0)])
    assert not np.array_equal(y0, y1)
    m.train()
    y, _ = m(x)  # training needs the backward panels too: repacked for training
    assert all(v[3] for v in m._packs.values())
    np.testing.assert_array_equal(y, y1)
    m.backward(np.ones_like(y))
