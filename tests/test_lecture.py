"""The seed lecture's worked examples, with the lecture's numbers."""
import numpy as np
import pytest

import rnnfast


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elman_all_ones(dtype):
    ones = np.ones((2, 2), dtype)
    x = np.array([[1, 1], [1, 1], [2, 2]], dtype)[:, None, :]
    y, h_n = rnnfast.rnn(x, ones, ones, nonlinearity="identity")
    np.testing.assert_array_equal(y[:, 0], [[2, 2], [6, 6], [16, 16]])
    out = y[:, 0] @ ones.T  # all-ones output layer
    np.testing.assert_array_equal(out, [[4, 4], [12, 12], [32, 32]])
    y2, _ = rnnfast.rnn(x[[2, 0, 1]], ones, ones, nonlinearity="identity")
    assert not np.array_equal(y2[:, 0] @ ones.T, out)  # order matters


def lecture_lstm_weights():
    """Gates i, f, g, o; input (x1, x2, x3); one cell, no recurrence."""
    w_ih = np.array([[0, 100, 0],    # i = sigmoid(100 x2 - 10)
                     [0, 100, 0],    # f = sigmoid(100 x2 + 10)
                     [1, 0, 0],      # z = x1
                     [0, 0, 100]],   # o = sigmoid(100 x3 - 10)
                    dtype=float)
    b_ih = np.array([-10.0, 10.0, 0.0, -10.0])
    return w_ih, np.zeros((4, 1)), b_ih


def test_lstm_memory_cell():
    seq = [(1, 0, 0), (3, 1, 0), (2, 0, 0), (4, 1, 0), (2, 0, 0), (1, 0, 1), (3, -1, 0),
           (6, 1, 0), (1, 0, 1)]
    x = np.array(seq, dtype=float)[:, None, :]
    w_ih, w_hh, b_ih = lecture_lstm_weights()
    y, h_n, c_n = rnnfast.lstm(x, w_ih, w_hh, b_ih,
                               activations=("sigmoid", "identity", "identity"))
    np.testing.assert_allclose(y[:, 0, 0], [0, 0, 0, 0, 0, 7, 0, 0, 6], atol=1e-2)
    np.testing.assert_allclose(c_n[0, 0], 6, atol=1e-2)


@pytest.mark.parametrize("w,final,digits", [(1.0, 1.0, 1), (1.01, 2.08e4, 3), (0.99, 4.4e-5, 2)])
def test_exploding_gradients_linear_unit(w, final, digits):
    x = np.zeros((1000, 1, 1))
    x[0] = 1
    out = rnnfast.rnn(x, [[1.0]], [[w]], nonlinearity="identity", keep_tape=True)
    np.testing.assert_allclose(out.h_n[0, 0], w ** 999, rtol=1e-12)
    # "about": the lecture's figure is the value rounded to its digits
    assert float(f"{out.h_n[0, 0]:.{digits}g}") == final
    g = rnnfast.rnn_backward(out, dh_n=np.ones((1, 1)))
    np.testing.assert_allclose(g.dw_hh[0, 0], 999 * w ** 998, rtol=1e-10)  # d w^999 / dw


def test_clip_grad_norm_tames_the_gradient():
    x = np.zeros((1000, 1, 1))
    x[0] = 1
    out = rnnfast.rnn(x, [[1.0]], [[1.01]], nonlinearity="identity", keep_tape=True)
    g = rnnfast.rnn_backward(out, dh_n=np.ones((1, 1)))
    grads = {"w_hh": g.dw_hh, "w_ih": g.dw_ih}
    assert g.dw_hh[0, 0] > 1e6  # huge
    total = rnnfast.clip_grad_norm(grads, 15.0)
    assert total > 1e6
    after = np.sqrt(sum(np.sum(v ** 2) for v in grads.values()))
    np.testing.assert_allclose(after, 15.0, rtol=1e-12)
