"""Tape buffers are recycled only when nothing refers to them."""
import numpy as np
import pytest

import rnnfast
from rnnfast import _kernels, _tapes


@pytest.fixture(autouse=True)
def _fresh_pool():
    _tapes.release()
    yield
    _tapes.release()


def test_idle_tape_is_reused_and_busy_one_is_not():
    a = _tapes.take(1000)
    b = _tapes.take(1000)
    assert not np.shares_memory(a, b)  # a is still held
    a_addr = a.__array_interface__["data"][0]
    del a
    c = _tapes.take(900)
    assert c.__array_interface__["data"][0] == a_addr  # a's buffer came back
    assert c.nbytes == 900 and c.flags.writeable
    assert not np.shares_memory(b, c)


def test_a_view_keeps_its_tape_busy():
    a = _tapes.take(1000)
    v = a[100:200][10:20]  # a view of a view
    del a
    for _ in range(3):
        assert not np.shares_memory(v, _tapes.take(1000))


def test_pool_is_bounded(monkeypatch):
    monkeypatch.setattr(_tapes, "POOL_COUNT", 3)
    monkeypatch.setattr(_tapes, "POOL_BYTES", 5000)
    held = [_tapes.take(1000) for _ in range(5)]  # all busy: 3 pooled, 2 not
    assert len(_tapes._pool()) == 3
    del held
    big = _tapes.take(4000)  # idle ones are dropped to make room
    assert sum(b.nbytes for b in _tapes._pool()) <= 5000
    assert big.nbytes == 4000
    _kernels.release_workspace()
    assert _tapes._pool() == []


def test_training_loop_recycles_tapes_and_gradients_repeat():
    """The second call writes over the first call's (now idle) tape; the
    gradients must come out the same each time."""
    rng = np.random.default_rng(0)
    layer = rnnfast.LSTM(5, 7, num_layers=2, bidirectional=True, seed=1)
    x = rng.standard_normal((6, 3, 5))
    dy = rng.standard_normal((6, 3, 14))
    grads, addresses = [], []
    for _ in range(3):
        layer.zero_grad()
        layer(x)
        layer.backward(dy)
        grads.append({k: v.copy() for k, v in layer.grads.items()})
        tapes = [o._tape.raw for outs in layer._state[0] for o in outs]
        addresses.append(sorted(t.__array_interface__["data"][0] for t in tapes))
        del tapes
    assert addresses[1] == addresses[0] == addresses[2]  # the same four buffers each call
    for g in grads[1:]:
        for k in g:
            np.testing.assert_array_equal(g[k], grads[0][k])


def test_functional_tape_held_by_output_survives_later_calls():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 2, 3))
    w_ih, w_hh = rng.standard_normal((28, 3)), rng.standard_normal((28, 7))
    out = rnnfast.lstm(x, w_ih, w_hh, keep_tape=True)
    g1 = rnnfast.lstm_backward(out, np.ones_like(out.y)).as_dict()
    for _ in range(3):  # other training calls must not take out's tape
        rnnfast.lstm(2 * x, w_ih, w_hh, keep_tape=True)
    g2 = rnnfast.lstm_backward(out, np.ones_like(out.y)).as_dict()
    for k in g1:
        np.testing.assert_array_equal(g1[k], g2[k])
