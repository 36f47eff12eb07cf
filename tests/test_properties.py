"""Hypothesis: every kernel and option combination against the NumPy oracle.

float64 is held to rtol 1e-10 and float32 to rtol 1e-4 (see assert_close).
In float64 an array may cancel to rounding noise altogether: a GRU whose
relu gates keep n equal to h has dL/dz = dh (h - n) = 0 exactly, which
rnnfast gives and the float64 oracle, whose (1 - z) n + z h rounds one ulp
off, gives as -3e-17 (rtol times that array's own scale is 3e-27). Each
float64 array is therefore also allowed NOISE_MULT times the float64
oracle's own rounding error, measured by running the oracle again in
extended precision; for any array not at noise level this is far below
rtol times its scale.
In float32, gradients are compared only for smooth gates: where relu,
hard_sigmoid or clip has a kink, a float32 pre-activation within rounding of
the kink may fall on the other side than the oracle's float64 one, and the
derivative there legitimately jumps. float64 checks those gradients too.
float32 is also held only to problems float32 can answer to 1e-4: the
problem, solved exactly (float64), must not move by more than 1e-5 when its
inputs are perturbed by float32 rounding (identity or relu gates can grow the
state doubly exponentially, amplifying rounding a thousandfold, or past
float32's range). float64 checks every case.
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import rnnfast
from rnnfast import _checks, _kernels

from conftest import (ARCHS, RTOL, answers_to_f32, assert_close, backward, extended, forward,
                      make_problem, ref, rounding_error, run_both)

ACTS = _checks.ACTIVATIONS
SMOOTH = ("sigmoid", "tanh", "identity")
# two float64 computations of one answer, each off by about the oracle's
# rounding error, with margin for different orders of summation
NOISE_MULT = 8


def f32_conditioned(cell, p, opts):
    """Does the exact answer stay within F32_SENSITIVITY (relative to each
    array's scale) when every input, clip included, is perturbed by float32
    rounding?"""
    def solve(q, bump):
        o = dict(opts)
        if bump is not None and opts.get("clip") is not None:  # clip is an input too
            o["clip"] = float(bump(np.float64(opts["clip"])))
        out = forward(rnnfast, cell, q, o)
        return [*out, *backward(rnnfast, cell, out, q).as_dict().values()]
    return answers_to_f32(solve, p)


@st.composite
def cases(draw, cell):
    T = draw(st.integers(0, 6))
    B = draw(st.integers(0, 5))
    I = draw(st.integers(0, 9))
    H = draw(st.one_of(st.integers(0, 5), st.sampled_from([7, 15, 17, 31, 33, 40])))
    opts = {"reverse": draw(st.booleans())}
    peephole = False
    if cell == "lstm":
        peephole = draw(st.booleans())
        opts["activations"] = tuple(draw(st.sampled_from(ACTS)) for _ in range(3))
    if cell == "gru":
        opts["linear_before_reset"] = draw(st.booleans())
        opts["activations"] = tuple(draw(st.sampled_from(ACTS)) for _ in range(2))
    if cell in ("lstm", "gru"):
        opts["clip"] = draw(st.one_of(st.none(), st.floats(0.05, 4.0)))
    if cell == "rnn":
        opts["nonlinearity"] = draw(st.sampled_from(ACTS))
    lengths = None
    if draw(st.booleans()):
        lengths = draw(st.lists(st.integers(0, T), min_size=B, max_size=B))
    flags = draw(st.lists(st.booleans(), min_size=6, max_size=6))
    prob = dict(cell=cell, T=T, B=B, I=I, H=H, seed=draw(st.integers(0, 2**32 - 1)),
                bias=flags[0], h0=flags[1], c0=flags[2], peephole=peephole, lengths=lengths,
                scale=draw(st.sampled_from([0.3, 1.0, 2.5])), upstream=tuple(flags[3:]))
    runtime = dict(arch=draw(st.sampled_from(ARCHS)), threads=draw(st.integers(1, 3)))
    return prob, opts, runtime


def smooth(opts):
    acts = opts.get("activations", (opts.get("nonlinearity"),))
    return opts.get("clip") is None and all(a in SMOOTH for a in acts)


def check(case, dtype):
    prob, opts, runtime = case
    _kernels.set_arch(runtime["arch"])
    rnnfast.set_num_threads(runtime["threads"])
    cell = prob.pop("cell")
    p = make_problem(cell, dtype=dtype, **prob)
    # Unbounded activations (relu, identity; an LSTM's c through relu gates
    # grows doubly exponentially) can take a 6-step problem past the largest
    # double: the oracle's NumPy then overflows to inf, and its backward
    # meets inf * 0 (NaN), as the kernels do; the comparison below holds
    # them to the same infinities and NaNs.
    with np.errstate(over="ignore", invalid="ignore"):
        fo, fg, ro, rg = run_both(cell, p, opts)
        if dtype == np.float32:
            assume(f32_conditioned(cell, p, opts))
        noise = {}
        if dtype == np.float64:
            with extended():
                xo = forward(ref, cell, p, opts)
                xg = backward(ref, cell, xo, p).as_dict()
            noise = {name: rounding_error(e, x) for name, e, x in zip(("y", "h_n", "c_n"), ro, xo)}
            noise.update({k: rounding_error(v, xg[k]) for k, v in rg.as_dict().items()})
    rtol = RTOL[dtype]
    for name, a, e in zip(("y", "h_n", "c_n"), fo, ro):
        assert a.dtype == dtype
        assert_close(a, e, rtol, name, noise=NOISE_MULT * noise.get(name, 0.0))
    # Inference streams the input projection in chunks; every element is the
    # same arithmetic as the training forward's, so the bits must agree.
    for a, b in zip(fo, forward(rnnfast, cell, p, opts, keep_tape=False)):
        assert a.tobytes() == b.tobytes()
    if dtype == np.float32 and not smooth(opts):
        return
    fd, rd = fg.as_dict(), rg.as_dict()
    assert fd.keys() == rd.keys()
    for k in fd:
        assert fd[k].dtype == dtype
        assert_close(fd[k], rd[k], rtol, k, noise=NOISE_MULT * noise.get(k, 0.0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@given(data=st.data())
def test_against_oracle(cell, dtype, data):
    check(data.draw(cases(cell), label="case"), dtype)
