"""Central differences in float64: the fast backward (and the oracle's own
backward) against the derivative of the forward, for every input of every
cell and option set, at rtol 1e-6."""
import numpy as np
import pytest

import rnnfast
from rnnfast import reference as ref

from conftest import assert_close, backward, forward, make_problem

CONFIGS = [
    ("lstm", {}, {}),
    ("lstm", {"reverse": True}, {"peephole": True, "lengths": [4, 0, 2]}),
    ("lstm", {"clip": 0.7, "activations": ("hard_sigmoid", "relu", "tanh")}, {"peephole": True}),
    ("lstm", {"activations": ("sigmoid", "identity", "identity")}, {"lengths": [3, 4, 1]}),
    ("gru", {"linear_before_reset": True}, {"lengths": [4, 2, 0]}),
    ("gru", {"linear_before_reset": False, "reverse": True}, {"lengths": [1, 4, 3]}),
    ("gru", {"linear_before_reset": False, "clip": 0.6,
             "activations": ("hard_sigmoid", "tanh")}, {}),
    ("gru", {"linear_before_reset": True, "activations": ("sigmoid", "relu")}, {}),
    ("rnn", {"nonlinearity": "tanh"}, {"lengths": [4, 3, 0]}),
    ("rnn", {"nonlinearity": "relu", "reverse": True}, {}),
    ("rnn", {"nonlinearity": "sigmoid"}, {}),
    ("rnn", {"nonlinearity": "identity", "reverse": True}, {"lengths": [2, 4, 4]}),
]
INPUTS = ("x", "w_ih", "w_hh", "b_ih", "b_hh", "h0", "c0", "peephole")
GRAD_OF = {"x": "dx", "w_ih": "dw_ih", "w_hh": "dw_hh", "b_ih": "db_ih", "b_hh": "db_hh",
           "h0": "dh0", "c0": "dc0", "peephole": "dpeephole"}


def loss(mod, cell, p, opts):
    """<dy, y> + <dh_n, h_n> (+ <dc_n, c_n>): its gradient is what backward returns."""
    out = forward(mod, cell, p, opts, keep_tape=False)
    total = np.sum(p["dy"] * out.y) + np.sum(p["dh_n"] * out.h_n)
    if cell == "lstm":
        total += np.sum(p["dc_n"] * out.c_n)
    return total


def numeric_grad(mod, cell, p, opts, name, step=1e-6):
    a = p[name]
    g = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        orig = a[idx]
        a[idx] = orig + step
        up = loss(mod, cell, p, opts)
        a[idx] = orig - step
        down = loss(mod, cell, p, opts)
        a[idx] = orig
        g[idx] = (up - down) / (2 * step)
    return g


@pytest.mark.parametrize("mod", [rnnfast, ref], ids=["fast", "oracle"])
@pytest.mark.parametrize("cell,opts,extra", CONFIGS)
def test_central_differences(mod, cell, opts, extra):
    p = make_problem(cell, T=4, B=3, I=3, H=5, seed=7, **extra)
    grads = backward(mod, cell, forward(mod, cell, p, opts), p).as_dict()
    checked = 0
    for name in INPUTS:
        if p.get(name) is None:
            continue
        num = numeric_grad(mod, cell, p, opts, name)
        assert_close(grads[GRAD_OF[name]], num, 1e-6, f"{cell} {opts} d{name}")
        checked += 1
    assert checked >= 6
