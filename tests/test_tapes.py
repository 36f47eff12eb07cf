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


def _addr(a):
    return a.__array_interface__["data"][0]


def test_training_outputs_are_recycled_only_once_dropped():
    """A training call's y comes from the output pool: a later call never
    writes over one that is still held, and reuses it once it is dropped."""
    rng = np.random.default_rng(2)
    T, B, I, H = 64, 8, 5, 64  # y: 256 KB of doubles, above OUT_MIN
    x = rng.standard_normal((T, B, I))
    w_ih, w_hh = rng.standard_normal((4 * H, I)), rng.standard_normal((4 * H, H))
    out1 = rnnfast.lstm(x, w_ih, w_hh, keep_tape=True)
    assert out1.y.nbytes >= _tapes.OUT_MIN and not out1.y.flags.owndata
    y1, at = out1.y.copy(), _addr(out1.y)
    out2 = rnnfast.lstm(2 * x, w_ih, w_hh, keep_tape=True)
    assert not np.shares_memory(out1.y, out2.y)
    np.testing.assert_array_equal(out1.y, y1)  # untouched by the second call
    del out1
    out3 = rnnfast.lstm(x, w_ih, w_hh, keep_tape=True)
    assert _addr(out3.y) == at  # the dropped output's buffer came back
    np.testing.assert_array_equal(out3.y, y1)


def test_inference_outputs_are_plain_arrays():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 8, 5))
    y = rnnfast.lstm(x, rng.standard_normal((256, 5)), rng.standard_normal((256, 64))).y
    assert y.nbytes >= _tapes.OUT_MIN and y.flags.owndata


def test_held_gradients_survive_later_backward_calls():
    """dx and the weight gradients come from the output pool: ones the caller
    holds keep their values through later calls, which still give the same
    gradients for the same inputs."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 8, 64))  # dx: 256 KB; the weight gradients: 128 KB
    w_ih, w_hh = rng.standard_normal((256, 64)) / 8, rng.standard_normal((256, 64)) / 8
    dy = rng.standard_normal((64, 8, 64))
    g1 = rnnfast.lstm_backward(rnnfast.lstm(x, w_ih, w_hh, keep_tape=True), dy).as_dict()
    kept = {k: v.copy() for k, v in g1.items()}
    for _ in range(2):
        g = rnnfast.lstm_backward(rnnfast.lstm(x, w_ih, w_hh, keep_tape=True), dy).as_dict()
        for k in g:
            assert not np.shares_memory(g[k], g1[k])
            np.testing.assert_array_equal(g[k], kept[k])
            np.testing.assert_array_equal(g1[k], kept[k])


def test_tape_copy_of_x_is_recycled_only_once_its_tape_is_dropped():
    """A training call copies x into its tape from the tape pool (a fresh
    copy faulted in every page): a held tape keeps its copy through later
    calls with other inputs, padded steps are zero in it, the caller's x is
    neither shared nor changed, and a dropped tape's copy is used again."""
    rng = np.random.default_rng(5)
    T, B, I, H = 64, 8, 64, 8  # x: 256 KB of doubles, above OUT_MIN
    x = rng.standard_normal((T, B, I))
    x0 = x.copy()
    lens = np.array([T, 3, T, 0, 5, T, T, 1])
    w_ih, w_hh = rng.standard_normal((4 * H, I)) / 8, rng.standard_normal((4 * H, H)) / 8
    dy = rng.standard_normal((T, B, H))
    out1 = rnnfast.lstm(x, w_ih, w_hh, seq_lengths=lens, keep_tape=True)
    tx = out1._tape.call.x
    assert tx.nbytes >= _tapes.OUT_MIN and not tx.flags.owndata
    assert not np.shares_memory(tx, x)
    np.testing.assert_array_equal(x, x0)
    padded = np.arange(T)[:, None] >= lens[None, :]
    np.testing.assert_array_equal(tx, np.where(padded[:, :, None], 0, x))
    g1 = rnnfast.lstm_backward(out1, dy).as_dict()
    at = _addr(tx)
    out2 = rnnfast.lstm(-x, w_ih, w_hh, seq_lengths=lens, keep_tape=True)
    assert not np.shares_memory(out2._tape.call.x, tx)
    g2 = rnnfast.lstm_backward(out1, dy).as_dict()  # out1's tape, after out2's call
    for k in g1:
        np.testing.assert_array_equal(g1[k], g2[k])
    del out1, tx
    out3 = rnnfast.lstm(x, w_ih, w_hh, seq_lengths=lens, keep_tape=True)
    assert _addr(out3._tape.call.x) == at  # the dropped tape's copy came back
    g3 = rnnfast.lstm_backward(out3, dy).as_dict()
    for k in g1:
        np.testing.assert_array_equal(g1[k], g3[k])
