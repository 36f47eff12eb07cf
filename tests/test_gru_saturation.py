"""A GRU whose update gate z sits near 1 keeps the old state and lets in only
(1 - z) of the candidate. Formed as 1 - z from a float z = 1 - 6e-6, that
weight is rounded to the spacing of floats near 1 (6e-8), 1 % off; the
kernels take it from the pre-activation instead (act(-v) for the sigmoids,
tanh's own complement), so y and every gradient stay within float32's
tolerance of the float64 oracle on every kernel path, for both GRU forms,
with and without clipping."""
import numpy as np
import pytest

from rnnfast import _kernels

from conftest import ARCHS, RTOL, assert_close, make_problem, run_both

# the z pre-activation (bias), per gate activation: z = 1 - 6e-6, 1 - 1.2e-5,
# 1 - 2e-3 (the hard sigmoid reaches 1 at 2.5)
SATURATING = {"sigmoid": 12.0, "tanh": 6.0, "hard_sigmoid": 2.49}


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("act", sorted(SATURATING))
@pytest.mark.parametrize("lbr", [True, False])
@pytest.mark.parametrize("clip", [None, 50.0])
def test_update_gate_near_one(arch, act, lbr, clip):
    _kernels.set_arch(arch)
    T, B, I, H = 4, 3, 5, 20  # H = 20: a full vector and a masked tail
    p = make_problem("gru", T, B, I, H, dtype=np.float32, seed=3, h0=False, scale=0.1)
    p["b_ih"][H:2 * H] = SATURATING[act]  # z's block
    opts = dict(linear_before_reset=lbr, activations=(act, "tanh"), clip=clip)
    fo, fg, ro, rg = run_both("gru", p, opts)
    # the state starts at 0, so y is the candidate's small share throughout
    # (far from 1 - z = 1 as h builds up: below 1e-3 of the candidate's size)
    assert np.max(np.abs(ro[0])) < 0.05
    rtol = RTOL[np.float32]
    for name, a, e in (("y", fo[0], ro[0]), ("h_n", fo[1], ro[1])):
        assert_close(a, e, rtol, name)
    for name, e in rg.as_dict().items():
        assert_close(fg.as_dict()[name], e, rtol, name)
