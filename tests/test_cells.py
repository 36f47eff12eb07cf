"""Single-step cells: equal to a hand-written NumPy step, and a loop of cells
gives the same bits as one sequence call."""
import numpy as np
import pytest

import rnnfast

from conftest import make_problem


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


def test_cell_errors_name_the_state():
    p = make_problem("lstm", T=1, B=2, I=3, H=4)
    with pytest.raises(ValueError, match=r"^c: expected shape \(B, H\) = \(2, 4\), got \(2, 5\)"):
        rnnfast.lstm_cell(p["x"][0], p["h0"], np.zeros((2, 5)), p["w_ih"], p["w_hh"])
    with pytest.raises(ValueError, match=r"^x: expected a 2-D array"):
        rnnfast.lstm_cell(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"])
