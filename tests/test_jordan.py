"""The Jordan network: C kernels against the oracle, central differences,
thread-count determinism, and the JordanRNN layer."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import rnnfast
from rnnfast import _checks
from rnnfast import reference as ref

from conftest import ARCHS, RTOL, answers_to_f32, assert_close

NAMES = ("x", "w_ih", "w_yh", "w_ho", "b_h", "b_o", "y0")
GRAD_OF = {"x": "dx", "w_ih": "dw_ih", "w_yh": "dw_yh", "w_ho": "dw_ho", "b_h": "db_h",
           "b_o": "db_o", "y0": "dy0"}


def problem(T, B, I, H, O, dtype=np.float64, seed=0, scale=1.0, bias=True, y0=True):
    rng = np.random.default_rng(seed)
    ws = scale / np.sqrt(max(H + I + O, 1))

    def r(*shape, s=1.0):
        return (rng.standard_normal(shape) * s).astype(dtype)

    return dict(x=r(T, B, I), w_ih=r(H, I, s=ws), w_yh=r(H, O, s=ws), w_ho=r(O, H, s=ws),
                b_h=r(H, s=0.5) if bias else None, b_o=r(O, s=0.5) if bias else None,
                y0=r(B, O) if y0 else None, dy=r(T, B, O), dy_n=r(B, O))


def run(mod, p, lengths=None, acts=("tanh", "identity"), keep_tape=True):
    return mod.jordan(*(p[k] for k in NAMES), seq_lengths=lengths, hidden_activation=acts[0],
                      output_activation=acts[1], keep_tape=keep_tape)


def grads(mod, p, **kw):
    out = run(mod, p, **kw)
    return out, mod.jordan_backward(out, p["dy"], p["dy_n"])


@given(data=st.data())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_jordan_matches_oracle(dtype, data):
    T, B, I = data.draw(st.integers(0, 6)), data.draw(st.integers(0, 5)), data.draw(st.integers(0, 7))
    H = data.draw(st.one_of(st.integers(0, 5), st.sampled_from([17, 33, 40])))
    O = data.draw(st.one_of(st.integers(0, 4), st.sampled_from([16, 35])))
    smooth = ("sigmoid", "tanh")  # float32 is judged away from kinks, as in test_properties
    pool = _checks.ACTIVATIONS if dtype == np.float64 else smooth
    acts = (data.draw(st.sampled_from(pool)), data.draw(st.sampled_from(pool)))
    lengths = data.draw(st.one_of(st.none(), st.lists(st.integers(0, T), min_size=B, max_size=B)))
    lengths = None if lengths is None else np.array(lengths, dtype=np.int64)
    p = problem(T, B, I, H, O, dtype, seed=data.draw(st.integers(0, 2**32 - 1)),
                scale=data.draw(st.sampled_from([0.5, 1.0, 2.0])),
                bias=data.draw(st.booleans()), y0=data.draw(st.booleans()))
    rnnfast.set_num_threads(data.draw(st.integers(1, 3)))
    rnnfast._kernels.set_arch(data.draw(st.sampled_from(ARCHS)))
    fo, fg = grads(rnnfast, p, lengths=lengths, acts=acts)
    ro, rg = grads(ref, p, lengths=lengths, acts=acts)
    rtol = RTOL[dtype]
    if dtype == np.float32:  # only problems float32 can answer to rtol, as in test_properties
        def solve(q, bump):
            out, g = grads(rnnfast, q, lengths=lengths, acts=acts)
            return [out.y, out.h_n, *g.as_dict().values()]
        assume(answers_to_f32(solve, p))
    assert_close(fo.y, ro.y, rtol, "y")
    assert_close(fo.h_n, ro.h_n, rtol, "y_n")
    assert fg.as_dict().keys() == rg.as_dict().keys()
    for k, v in rg.as_dict().items():
        assert_close(fg.as_dict()[k], v, rtol, k)


@pytest.mark.parametrize("acts,lengths", [
    (("tanh", "identity"), None),
    (("sigmoid", "tanh"), [4, 0, 2]),
    (("tanh", "sigmoid"), [1, 4, 3]),
])
@pytest.mark.parametrize("mod", [rnnfast, ref], ids=["fast", "oracle"])
def test_jordan_gradients_by_central_differences(mod, acts, lengths):
    p = problem(4, 3, 3, 5, 2, seed=3)
    out, g = grads(mod, p, lengths=lengths, acts=acts)

    def loss(q):
        o = run(mod, q, lengths=lengths, acts=acts, keep_tape=False)
        return np.sum(p["dy"] * o.y) + np.sum(p["dy_n"] * o.h_n)

    eps = 1e-6
    for name in NAMES:
        num = np.zeros_like(p[name])
        for idx in np.ndindex(p[name].shape):
            for sgn in (1, -1):
                q = dict(p)
                q[name] = p[name].copy()
                q[name][idx] += sgn * eps
                num[idx] += sgn * loss(q) / (2 * eps)
        assert_close(getattr(g, GRAD_OF[name]), num, 1e-6, name)


def test_jordan_bits_do_not_depend_on_threads():
    p = problem(7, 9, 13, 70, 37, np.float32, seed=1)
    runs = []
    for n in (1, 2, 3, 4):
        rnnfast.set_num_threads(n)
        out, g = grads(rnnfast, p, lengths=[7, 3, 0, 7, 1, 5, 6, 2, 7])
        runs.append([out.y, out.h_n, *g.as_dict().values()])
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)


def test_jordan_layer_is_the_kernel_and_trains():
    m = rnnfast.JordanRNN(3, 6, 2, output_activation="sigmoid", batch_first=True,
                          dtype=np.float64, seed=0)
    assert {k: v.shape for k, v in m.parameters().items()} == {
        "weight_ih": (6, 3), "weight_yh": (6, 2), "bias_h": (6,), "weight_ho": (2, 6),
        "bias_o": (2,)}
    x = np.random.default_rng(0).standard_normal((4, 5, 3))  # (B, T, I)
    y0 = np.full((4, 2), 0.5)
    y, y_T = m(x, y0, seq_lengths=[5, 2, 3, 0])
    P = m.parameters()
    out = rnnfast.jordan(x.transpose(1, 0, 2), P["weight_ih"], P["weight_yh"], P["weight_ho"],
                         P["bias_h"], P["bias_o"], y0, seq_lengths=[5, 2, 3, 0],
                         output_activation="sigmoid", keep_tape=True)
    np.testing.assert_array_equal(y, out.y.transpose(1, 0, 2))
    np.testing.assert_array_equal(y_T, out.h_n)
    np.testing.assert_array_equal(y_T[3], y0[3])  # length 0 keeps y0
    dy = np.random.default_rng(1).standard_normal(y.shape)
    dx = m.backward(dy)
    g = rnnfast.jordan_backward(out, dy.transpose(1, 0, 2))
    np.testing.assert_array_equal(dx, g.dx.transpose(1, 0, 2))
    np.testing.assert_array_equal(m.grads["weight_yh"], g.dw_yh)
    np.testing.assert_array_equal(m.dy0, g.dy0)


def test_jordan_bad_input_names_the_argument():
    p = problem(3, 2, 4, 5, 2)
    with pytest.raises(ValueError, match=r"w_yh: expected shape \(H, O\) = \(5, 2\)"):
        rnnfast.jordan(p["x"], p["w_ih"], p["w_yh"].T, p["w_ho"])
    with pytest.raises(ValueError, match="output_activation"):
        rnnfast.jordan(p["x"], p["w_ih"], p["w_yh"], p["w_ho"], output_activation="softmax")
    out = rnnfast.jordan(p["x"], p["w_ih"], p["w_yh"], p["w_ho"])
    with pytest.raises(ValueError, match="needs a tape"):
        rnnfast.jordan_backward(out)
    lstm_out = rnnfast.lstm(np.zeros((2, 1, 1)), np.zeros((4, 1)), np.zeros((4, 1)),
                            keep_tape=True)
    with pytest.raises(TypeError, match="rnnfast.jordan"):
        rnnfast.jordan_backward(lstm_out)
    m = rnnfast.JordanRNN(4, 5, 2)
    with pytest.raises(ValueError, match="y0: expected shape"):
        m(p["x"], np.zeros((3, 2)))
