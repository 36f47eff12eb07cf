"""Optimisers: PyTorch's update rules step for step, and a layer that learns."""
import numpy as np
import pytest

import rnnfast
from rnnfast import optim

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True)),
    ("Adam", dict(lr=1e-2)),
    ("Adam", dict(lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
]


@pytest.mark.parametrize("name,kw", CONFIGS)
def test_updates_match_torch(name, kw):
    torch = pytest.importorskip("torch")
    layer = rnnfast.GRU(3, 4, dtype=np.float64, seed=0)
    tparams = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in layer.parameters().items()}
    ours = getattr(optim, name)(layer, **kw)
    theirs = getattr(torch.optim, name)(list(tparams.values()), **kw)
    rng = np.random.default_rng(1)
    for _ in range(5):
        for k, g in layer.grads.items():
            g[...] = rng.standard_normal(g.shape)
            tparams[k].grad = torch.tensor(g.copy())
        ours.step()
        theirs.step()
    for k, p in layer.parameters().items():
        np.testing.assert_allclose(p, tparams[k].detach().numpy(), rtol=1e-12, atol=1e-14)


def test_dict_and_list_targets_and_zero_grad():
    W, dW = np.ones((2, 2)), np.full((2, 2), 0.5)
    layer = rnnfast.RNN(2, 2, dtype=np.float64, seed=0)
    before = layer.parameters()["weight_hh_l0"].copy()
    layer.grads["weight_hh_l0"][:] = 1.0
    opt = optim.SGD([layer, {"W": (W, dW)}], lr=0.1)
    opt.step()
    np.testing.assert_allclose(W, 0.95)
    np.testing.assert_allclose(layer.parameters()["weight_hh_l0"], before - 0.1)
    opt.zero_grad()
    assert not dW.any() and not layer.grads["weight_hh_l0"].any()


@pytest.mark.parametrize("bad,err,msg", [
    (dict(lr=0), ValueError, "lr: expected a finite number in \\(0.0"),
    (dict(lr="1"), TypeError, "lr: expected a number"),
    (dict(momentum=-1), ValueError, "momentum"),
    (dict(nesterov=True), ValueError, "nesterov: needs momentum"),
])
def test_sgd_rejects_bad_settings(bad, err, msg):
    with pytest.raises(err, match=msg):
        optim.SGD(rnnfast.RNN(2, 2), **{"lr": 0.1, **bad})


def test_adam_rejects_bad_settings_and_targets():
    with pytest.raises(ValueError, match="betas\\[1\\]"):
        optim.Adam(rnnfast.RNN(2, 2), betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="params: expected a layer"):
        optim.Adam(np.zeros(3))
    with pytest.raises(ValueError, match="parameter shape"):
        optim.Adam({"W": (np.zeros(3), np.zeros(2))})


def test_lstm_learns_to_echo_its_input_with_adam_and_clipping():
    """Train y_t = x_{t-1} (a one-step delay) and watch the loss fall tenfold."""
    rng = np.random.default_rng(0)
    layer = rnnfast.LSTM(1, 8, dtype=np.float64, seed=0)
    V, dV = rng.standard_normal((1, 8)) * 0.1, np.zeros((1, 8))
    opt = optim.Adam([layer, {"V": (V, dV)}], lr=0.02)
    losses = []
    for _ in range(300):
        x = rng.uniform(-1, 1, (12, 16, 1))
        target = np.concatenate([np.zeros((1, 16, 1)), x[:-1]])
        y, _ = layer(x)
        out = y @ V.T
        err = out - target
        losses.append(float(np.mean(err ** 2)))
        dout = 2 * err / err.size
        opt.zero_grad()
        dV += np.einsum("tbo,tbh->oh", dout, y)
        layer.backward(dout @ V)
        rnnfast.clip_grad_norm({**layer.grads, "V": dV}, 1.0)
        opt.step()
    assert np.mean(losses[-20:]) < 0.1 * np.mean(losses[:20])
