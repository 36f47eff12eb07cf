"""The kernels' sigmoid and tanh, read out exactly and held to their ulp bounds.

An Elman RNN with W_ih = I, W_hh = 0 and no bias gives y = act(x) exactly:
each product element is a chain of multiply-adds whose terms are all zero
but x_k * 1. So y is the vectorised activation itself (the polynomial exp,
tanh's e^x - 1, the reciprocal), and is compared with the same function in
extended precision. The bounds are the README's; a tanh whose e^x - 1 series
stopped one term short (4.8 ulp in double, 5.8-6.6 in float) fails.
"""
import numpy as np
import pytest

import rnnfast
from rnnfast import functional as F
from conftest import ARCHS

# ulp bounds, README "How it is built"
BOUND = {(np.float32, "sigmoid"): 3, (np.float32, "tanh"): 4,
         (np.float64, "sigmoid"): 3, (np.float64, "tanh"): 4}

pytestmark = pytest.mark.skipif(np.finfo(np.longdouble).eps > 1e-18,
                                reason="needs an extended-precision long double")


def _points(dtype):
    """Dense and random points, points about 1/16 (where tanh took a series
    before it took e^x - 1), tiny and huge ones."""
    rng = np.random.default_rng(7)
    lo = -740.0 if dtype == np.float64 else -100.0
    edge = np.linspace(0.055, 0.07, 2000)
    tiny = np.geomspace(1e-30, 0.1, 3000)
    x = np.concatenate([np.linspace(-30, 30, 20000), rng.standard_normal(20000) * 3,
                        rng.standard_normal(6000) * 0.05, edge, -edge, tiny, -tiny,
                        np.linspace(lo, -30, 2000), [0.0, -0.0, 30.0, -30.0, lo]])
    return x.astype(dtype)


def _reference(name, x):
    xl = x.astype(np.longdouble)
    return np.tanh(xl) if name == "tanh" else 1 / (1 + np.exp(-xl))


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_activation_within_its_ulp_bound(arch, dtype, name):
    rnnfast._kernels.set_arch(arch)
    H = 256
    x = _points(dtype)
    x = np.concatenate([x, np.zeros(-len(x) % H, dtype)]).reshape(-1, 1, H)
    eye, zero = np.eye(H, dtype=dtype), np.zeros((H, H), dtype)
    y = F.rnn(x, eye, zero, nonlinearity=name)[0]
    ref = _reference(name, x)
    ulp = np.spacing(np.abs(ref).astype(dtype)).astype(np.longdouble)
    err = (np.abs(y.astype(np.longdouble) - ref) / ulp).astype(np.float64)
    worst = int(err.argmax())
    assert err.max() <= BOUND[dtype, name], (
        f"{name} {np.dtype(dtype).name} on {arch}: {err.max():.2f} ulp at "
        f"x = {x.ravel()[worst]!r} (bound {BOUND[dtype, name]})")
    # the odd function keeps its sign and zero; the sigmoid stays in [0, 1]
    if name == "tanh":
        assert np.array_equal(np.signbit(y[x != 0]), np.signbit(x[x != 0]))
    else:
        assert y.min() >= 0 and y.max() <= 1


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_at_special_values(arch, dtype):
    """Infinities, NaN, zeros and subnormals, read out through the bias (zero
    weights and input: each pre-activation is exactly b, which a product with
    x = inf could not give), with the derivative from the backward pass."""
    rnnfast._kernels.set_arch(arch)
    tiny = np.finfo(dtype).tiny
    b = np.array([np.inf, -np.inf, np.nan, 0.0, tiny, -tiny, tiny / 8, -tiny / 8,
                  1e3, -1e3], dtype=dtype)
    H = len(b)
    zero_x, zero_w = np.zeros((1, 1, H), dtype), np.zeros((H, H), dtype)
    one = np.ones((1, 1, H), dtype)
    for name in ("tanh", "sigmoid"):
        out = F.rnn(zero_x, zero_w, zero_w, b, None, nonlinearity=name, keep_tape=True)
        y = out.y.ravel()
        d = F.rnn_backward(out, one).db_ih
        assert np.isnan(y[2]) and np.isnan(d[2]), f"{name}: NaN in, {y[2]}, {d[2]} out"
        if name == "tanh":
            want = np.array([1, -1, 0, tiny, -tiny, tiny / 8, -tiny / 8, 1, -1], dtype)
            dwant = np.array([0, 0, 1, 1, 1, 1, 1, 0, 0], dtype)
            # subnormals come back unchanged, with their sign
            assert np.array_equal(np.signbit(y[[4, 6]]), [False, False])
            assert np.array_equal(np.signbit(y[[5, 7]]), [True, True])
        else:
            want = np.array([1, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 1, 0], dtype)
            dwant = np.array([0, 0, 0.25, 0.25, 0.25, 0.25, 0.25, 0, 0], dtype)
        keep = np.arange(H) != 2
        assert np.array_equal(y[keep], want), f"{name} on {arch}: {y[keep]} != {want}"
        assert np.array_equal(d[keep], dwant), f"{name}' on {arch}: {d[keep]} != {dwant}"
