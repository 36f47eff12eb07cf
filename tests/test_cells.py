"""Single-step cells: equal to a hand-written NumPy step, and a loop of cells
gives the same bits as one sequence call."""
import os
import signal
import time

import numpy as np
import pytest

import rnnfast

from conftest import ARCHS, make_problem


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def test_lstm_cell_matches_handwritten_step():
    p = make_problem("lstm", T=1, B=4, I=3, H=5, seed=2)
    x, h, c = p["x"][0], p["h0"], p["c0"]
    a = x @ p["w_ih"].T + p["b_ih"] + h @ p["w_hh"].T + p["b_hh"]
    i, f, g, o = np.split(a, 4, axis=1)
    c1 = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    h1 = sigmoid(o) * np.tanh(c1)
    got_h, got_c = rnnfast.lstm_cell(x, h, c, p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"])
    np.testing.assert_allclose(got_h, h1, rtol=1e-12)
    np.testing.assert_allclose(got_c, c1, rtol=1e-12)


@pytest.mark.parametrize("lbr", [True, False])
def test_gru_cell_matches_handwritten_step(lbr):
    p = make_problem("gru", T=1, B=3, I=4, H=6, seed=4)
    x, h, W, U, bi, bh = p["x"][0], p["h0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"]
    gi = x @ W.T + bi
    r = sigmoid(gi[:, :6] + h @ U[:6].T + bh[:6])
    z = sigmoid(gi[:, 6:12] + h @ U[6:12].T + bh[6:12])
    if lbr:
        n = np.tanh(gi[:, 12:] + r * (h @ U[12:].T + bh[12:]))
    else:
        n = np.tanh(gi[:, 12:] + (r * h) @ U[12:].T + bh[12:])
    want = (1 - z) * n + z * h
    got = rnnfast.gru_cell(x, h, W, U, bi, bh, linear_before_reset=lbr)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_rnn_cell_matches_handwritten_step():
    p = make_problem("rnn", T=1, B=2, I=3, H=4)
    x, h = p["x"][0], p["h0"]
    want = np.maximum(x @ p["w_ih"].T + p["b_ih"] + h @ p["w_hh"].T + p["b_hh"], 0)
    got = rnnfast.rnn_cell(x, h, p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], nonlinearity="relu")
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loop_of_cells_equals_sequence(dtype):
    p = make_problem("lstm", T=6, B=3, I=4, H=5, dtype=dtype)
    y, h_n, c_n = rnnfast.lstm(p["x"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], p["h0"], p["c0"])
    h, c = p["h0"], p["c0"]
    for t in range(6):
        h, c = rnnfast.lstm_cell(p["x"][t], h, c, p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"])
        assert h.tobytes() == y[t].tobytes()
    assert h.tobytes() == h_n.tobytes() and c.tobytes() == c_n.tobytes()


@pytest.mark.parametrize("layout", ["strided", "fortran", "big_endian", "unaligned", "readonly",
                                    "float_subclass"])
def test_cells_take_any_layout_with_the_same_bits_and_leave_it_untouched(layout):
    """The checks answer the usual arrays on a short path; every other
    layout still goes the long way, to the same bits."""
    import test_inputs
    p = make_problem("lstm", T=1, B=3, I=4, H=5, seed=6)
    args = [p["x"][0], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"]]
    want = rnnfast.lstm_cell(*args)
    sub = type("Sub", (np.ndarray,), {})  # a subclass is not taken as is
    q = [a.view(sub) if layout == "float_subclass" else getattr(test_inputs, layout)(a)
         for a in args]
    before = [a.copy() for a in q]
    got = rnnfast.lstm_cell(*q)
    for a, b in zip(want, got):
        assert type(b) is np.ndarray and a.tobytes() == b.tobytes()
    for a, b in zip(before, q):
        assert a.tobytes() == np.asarray(b).tobytes()


def test_cell_errors_name_the_state():
    p = make_problem("lstm", T=1, B=2, I=3, H=4)
    with pytest.raises(ValueError, match=r"^c: expected shape \(B, H\) = \(2, 4\), got \(2, 5\)"):
        rnnfast.lstm_cell(p["x"][0], p["h0"], np.zeros((2, 5)), p["w_ih"], p["w_hh"])
    with pytest.raises(ValueError, match=r"^x: expected a 2-D array"):
        rnnfast.lstm_cell(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"])


# -- the panels a loop of cells reuses (rnnfast/_packs.py) -----------------------

def _gru_step(p, h, W, U):
    return rnnfast.gru_cell(p["x"][0], h, W, U, p["b_ih"], p["b_hh"])


def _fresh(a):
    """The same values in a new array: a step on it cannot reuse kept panels."""
    return np.array(a, copy=True)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cells_reuse_panels_and_see_weights_changed_in_place(arch, dtype):
    rnnfast._kernels.set_arch(arch)
    p = make_problem("gru", T=1, B=3, I=40, H=36, dtype=dtype, seed=5)
    W, U, h = p["w_ih"].copy(), p["w_hh"].copy(), p["h0"]
    first = _gru_step(p, h, W, U)
    again = _gru_step(p, h, W, U)                   # the kept panels
    assert again.tobytes() == first.tobytes()
    assert again.tobytes() == _gru_step(p, h, _fresh(W), _fresh(U)).tobytes()
    for w in (U, W):                                 # each weight, in place
        kept = w[5, 7]
        w[5, 7] = kept + 0.25
        changed = _gru_step(p, h, W, U)
        assert changed.tobytes() == _gru_step(p, h, _fresh(W), _fresh(U)).tobytes()
        assert changed.tobytes() != first.tobytes()
        w[5, 7] = kept
        assert _gru_step(p, h, W, U).tobytes() == first.tobytes()


def test_cells_keep_few_panels_and_hold_no_weights():
    import gc
    import weakref
    from rnnfast import _packs
    p = make_problem("rnn", T=1, B=2, I=8, H=8, seed=1)
    refs = []
    for k in range(3 * _packs._PACK_ENTRIES):
        W, U = p["w_ih"] + k, p["w_hh"].copy()
        rnnfast.rnn_cell(p["x"][0], p["h0"], W, U)
        refs.append(weakref.ref(W))
        assert len(_packs._PACKS) <= _packs._PACK_ENTRIES
        del W, U
    gc.collect()
    assert all(r() is None for r in refs)            # the cache kept none alive
    # and an entry whose arrays are gone has let its copies go
    assert all(not e or (e[0]() is not None and e[1]() is not None)
               for e in _packs._PACKS.values())


def test_sequence_calls_reuse_panels_yet_each_tape_keeps_its_weights():
    """Functional calls keep panels too (training panels with keep_tape);
    a tape's backward still uses the weights its forward ran with."""
    p = make_problem("lstm", T=5, B=3, I=7, H=6, seed=8)
    W, U = p["w_ih"].copy(), p["w_hh"].copy()
    args = lambda W, U: (p["x"], W, U, p["b_ih"], p["b_hh"], p["h0"], p["c0"])  # noqa: E731
    first = rnnfast.lstm(*args(W, U), keep_tape=True)
    again = rnnfast.lstm(*args(W, U), keep_tape=True)   # the kept panels
    assert again.y.tobytes() == first.y.tobytes()
    U[2, 3] += 0.5                                      # in place
    changed = rnnfast.lstm(*args(W, U), keep_tape=True)
    fresh = rnnfast.lstm(*args(_fresh(W), _fresh(U)), keep_tape=True)
    assert changed.y.tobytes() == fresh.y.tobytes() != first.y.tobytes()
    g_first = rnnfast.lstm_backward(first, p["dy"])
    g_orig = rnnfast.lstm_backward(
        rnnfast.lstm(*args(p["w_ih"].copy(), p["w_hh"].copy()), keep_tape=True), p["dy"])
    g_changed, g_fresh = (rnnfast.lstm_backward(o, p["dy"]) for o in (changed, fresh))
    for name in ("dx", "dw_ih", "dw_hh", "dh0", "dc0"):
        assert getattr(g_first, name).tobytes() == getattr(g_orig, name).tobytes()
        assert getattr(g_changed, name).tobytes() == getattr(g_fresh, name).tobytes()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_forked_while_the_panel_lock_is_held_still_steps():
    from rnnfast import _packs
    p = make_problem("gru", T=1, B=2, I=5, H=4, dtype=np.float32, seed=3)
    step = lambda: rnnfast.gru_cell(p["x"][0], p["h0"], p["w_ih"], p["w_hh"])  # noqa: E731
    want = step()
    with _packs._PACKS_LOCK:  # as if another thread held it when the process forked
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the child)
            os._exit(0 if step().tobytes() == want.tobytes() else 3)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung on the panel cache's lock")


def test_kept_panels_stay_within_their_byte_budget(monkeypatch):
    from rnnfast import _packs
    p = make_problem("lstm", T=1, B=1, I=16, H=16, dtype=np.float64, seed=2)
    monkeypatch.setattr(_packs, "_PACKS", {})
    one = 2 * p["w_ih"].nbytes + 2 * p["w_hh"].nbytes  # about an entry: copies and panels
    monkeypatch.setattr(_packs, "_PACK_MAX_BYTES", int(2.5 * one))
    pairs = [(p["w_ih"] * (k + 1), p["w_hh"].copy()) for k in range(4)]
    for W, U in pairs:
        rnnfast.lstm_cell(p["x"][0], p["h0"], p["c0"], W, U)
        assert 0 < _packs._kept_bytes() <= _packs._PACK_MAX_BYTES
    assert len(_packs._PACKS) == 2                  # the oldest made room
    big = make_problem("lstm", T=1, B=1, I=40, H=40, dtype=np.float64, seed=2)
    rnnfast.lstm_cell(big["x"][0], big["h0"], big["c0"], big["w_ih"], big["w_hh"])
    assert all(id(big["w_ih"]) not in k for k in _packs._PACKS)  # too large: not kept
