"""The bad-input catalogue, continued: the Jordan network (fast path and
oracle alike), cells, layers, converters, optimisers and training helpers.
Each case raises a clear error naming the argument; the cases in VALID give
the correct result instead (NaN and inf propagate, aliased arguments work)."""
import pickle

import numpy as np
import pytest

import rnnfast
from rnnfast import convert, optim
from rnnfast import reference as ref

from test_bad_input import raise_alike

T, B, I, H, O = 3, 2, 4, 5, 2
R = np.random.default_rng(0)


def a(*shape, dtype=np.float64):
    return R.standard_normal(shape).astype(dtype)


X, W, U, V = a(T, B, I), a(H, I), a(H, O), a(O, H)
W4, U4, W3, U3 = a(4 * H, I), a(4 * H, H), a(3 * H, I), a(3 * H, H)

# ---------------------------------------------------------------- both implementations
JORDAN = [
    ("j-x-2d", lambda m: m.jordan(X[0], W, U, V), ValueError, r"^x: expected a 3-D array of shape \(T, B, I\)"),
    ("j-x-int", lambda m: m.jordan(X.astype(int), W, U, V), TypeError, r"^x: dtype must be float32 or float64"),
    ("j-x-none", lambda m: m.jordan(None, W, U, V), TypeError, r"^x: expected a numeric array"),
    ("j-w_ih-shape", lambda m: m.jordan(X, a(H, I + 1), U, V), ValueError, r"^w_ih: expected shape \(H, I\) = \(5, 4\), got \(5, 5\)"),
    ("j-w_ih-dtype", lambda m: m.jordan(X, W.astype(np.float32), U, V), TypeError, r"^w_ih has dtype float32 but x has dtype float64"),
    ("j-w_yh-shape", lambda m: m.jordan(X, W, U.T, V), ValueError, r"^w_yh: expected shape \(H, O\) = \(5, 2\), got \(2, 5\)"),
    ("j-w_ho-1d", lambda m: m.jordan(X, W, U, V.ravel()), ValueError, r"^w_ho: expected a 2-D array of shape \(O, H\)"),
    ("j-w_ho-dtype", lambda m: m.jordan(X, W, U, V.astype(np.float32)), TypeError, r"^w_ho has dtype float32"),
    ("j-b_h-shape", lambda m: m.jordan(X, W, U, V, a(H + 1)), ValueError, r"^b_h: expected shape \(H,\) = \(5,\), got \(6,\)"),
    ("j-b_o-shape", lambda m: m.jordan(X, W, U, V, None, a(O, 1)), ValueError, r"^b_o: expected shape \(O,\) = \(2,\), got \(2, 1\)"),
    ("j-y0-shape", lambda m: m.jordan(X, W, U, V, y0=a(B, O + 1)), ValueError, r"^y0: expected shape \(B, O\) = \(2, 2\), got \(2, 3\)"),
    ("j-lengths-neg", lambda m: m.jordan(X, W, U, V, seq_lengths=[1, -2]), ValueError, r"^seq_lengths: entries must lie in \[0, T\] = \[0, 3\]; seq_lengths\[1\] = -2"),
    ("j-lengths-float", lambda m: m.jordan(X, W, U, V, seq_lengths=[1.5, 2]), TypeError, r"^seq_lengths: expected integers"),
    ("j-act-h", lambda m: m.jordan(X, W, U, V, hidden_activation="gelu"), ValueError, r"^hidden_activation: expected one of"),
    ("j-act-o", lambda m: m.jordan(X, W, U, V, output_activation=3), ValueError, r"^output_activation: expected one of"),
    ("j-keep_tape", lambda m: m.jordan(X, W, U, V, keep_tape="no"), TypeError, r"^keep_tape: expected a bool"),
    ("j-bwd-no-tape", lambda m: m.jordan_backward(m.jordan(X, W, U, V)), ValueError, r"^out: jordan_backward needs a tape"),
    ("j-bwd-other", lambda m: m.jordan_backward(m.rnn(X, a(H, I), a(H, H), keep_tape=True)), TypeError, r"^out: expected the result of rnnfast.jordan"),
    ("j-bwd-dy", lambda m: m.jordan_backward(m.jordan(X, W, U, V, keep_tape=True), a(T, B, H)), ValueError, r"^dy: expected shape \(T, B, O\) = \(3, 2, 2\), got \(3, 2, 5\)"),
    ("j-bwd-dy_n", lambda m: m.jordan_backward(m.jordan(X, W, U, V, keep_tape=True), None, a(B, O).astype(np.float32)), TypeError, r"^dy_n has dtype float32 but the forward's x"),
]


@pytest.mark.parametrize("case", JORDAN, ids=[c[0] for c in JORDAN])
def test_jordan_fast_and_oracle_raise_alike(case):
    raise_alike(case)


# ---------------------------------------------------------------- fast path only
LSTM = rnnfast.LSTM(I, H, 2, bidirectional=True, dtype=np.float64, seed=0)
GRU = rnnfast.GRU(I, H, dtype=np.float64, seed=0)
JRNN = rnnfast.JordanRNN(I, H, O, dtype=np.float64, seed=0)


def trained(layer, x=X):
    layer.train()
    layer(x)
    return layer


ONLY_FAST = [
    # cells
    ("cell-x-3d", lambda: rnnfast.lstm_cell(X, a(B, H), a(B, H), W4, U4), ValueError, r"^x: expected a 2-D array of shape \(B, I\)"),
    ("cell-h-shape", lambda: rnnfast.lstm_cell(X[0], a(B, H + 1), a(B, H), W4, U4), ValueError, r"^h: expected shape \(B, H\) = \(2, 5\), got \(2, 6\)"),
    ("cell-c-batch", lambda: rnnfast.lstm_cell(X[0], a(B, H), a(B + 1, H), W4, U4), ValueError, r"^c: expected shape \(B, H\) = \(2, 5\), got \(3, 5\)"),
    ("cell-h-dtype", lambda: rnnfast.gru_cell(X[0], a(B, H).astype(np.float32), W3, U3), TypeError, r"^h has dtype float32 but x has dtype float64"),
    ("cell-w-shape", lambda: rnnfast.gru_cell(X[0], a(B, H), W4, U3), ValueError, r"^w_ih: expected shape \(3\*H, I\)"),
    ("cell-nonlin", lambda: rnnfast.rnn_cell(X[0], a(B, H), a(H, I), a(H, H), nonlinearity="elu"), ValueError, r"^nonlinearity: expected one of"),
    ("cell-x-str", lambda: rnnfast.rnn_cell("x", a(B, H), a(H, I), a(H, H)), TypeError, r"^x: expected a numeric array"),
    # layer construction
    ("L-input_size-0", lambda: rnnfast.LSTM(0, H), ValueError, r"^input_size: expected an integer >= 1, got 0"),
    ("L-hidden-float", lambda: rnnfast.GRU(I, 2.5), TypeError, r"^hidden_size: expected an integer >= 1, got 2.5"),
    ("L-layers-0", lambda: rnnfast.RNN(I, H, 0), ValueError, r"^num_layers: expected an integer >= 1, got 0"),
    ("L-dropout-big", lambda: rnnfast.LSTM(I, H, dropout=1.5), ValueError, r"^dropout: expected a number in \[0, 1\], got 1.5"),
    ("L-dropout-str", lambda: rnnfast.LSTM(I, H, dropout="0.1"), ValueError, r"^dropout: expected a number in \[0, 1\]"),
    ("L-dtype", lambda: rnnfast.GRU(I, H, dtype=np.float16), TypeError, r"^dtype: expected float32 or float64"),
    ("L-dtype-str", lambda: rnnfast.GRU(I, H, dtype="banana"), TypeError, r"^dtype: expected float32 or float64, got 'banana'"),
    ("L-dtype-none", lambda: rnnfast.GRU(I, H, dtype=None), TypeError, r"^dtype: expected float32 or float64, got None"),
    ("L-bidir-str", lambda: rnnfast.LSTM(I, H, bidirectional="yes"), TypeError, r"^bidirectional: expected a bool"),
    ("L-clip-neg", lambda: rnnfast.LSTM(I, H, clip=-1), ValueError, r"^clip: expected None or a number > 0"),
    ("L-acts", lambda: rnnfast.GRU(I, H, activations=("tanh",)), ValueError, r"^activations: expected a sequence of 2 names for gru"),
    ("L-nonlin", lambda: rnnfast.RNN(I, H, nonlinearity="softmax"), ValueError, r"^nonlinearity: expected one of"),
    ("L-lbr", lambda: rnnfast.GRU(I, H, linear_before_reset=None), TypeError, r"^linear_before_reset: expected a bool"),
    ("J-output-0", lambda: rnnfast.JordanRNN(I, H, 0), ValueError, r"^output_size: expected an integer >= 1, got 0"),
    ("J-act", lambda: rnnfast.JordanRNN(I, H, O, hidden_activation="swish"), ValueError, r"^hidden_activation: expected one of"),
    # layer calls
    ("L-x-2d", lambda: LSTM(X[0]), ValueError, r"^x: expected a 3-D array of shape \(T, B, I\), got shape \(2, 4\)"),
    ("L-x-features", lambda: LSTM(a(T, B, I + 1)), ValueError, r"^x: expected last dimension I = 4, got shape \(3, 2, 5\)"),
    ("L-x-int", lambda: LSTM(X.astype(np.int32)), TypeError, r"^x: expected a floating-point array, got dtype int32"),
    ("L-x-str", lambda: GRU("abc"), TypeError, r"^x: expected a numeric array"),
    ("L-x-complex", lambda: GRU(X.astype(complex)), TypeError, r"^x: expected a numeric array"),
    ("L-hx-not-pair", lambda: LSTM(X, a(4, B, H)), TypeError, r"^hx: expected a pair \(h, c\) or None, got ndarray"),
    ("L-hx-shape", lambda: LSTM(X, (a(2, B, H), None)), ValueError, r"^hx\[0\]: expected shape \(num_layers\*D, B, H\) = \(4, 2, 5\), got \(2, 2, 5\)"),
    ("L-hx-c-shape", lambda: LSTM(X, (None, a(4, B, H + 1))), ValueError, r"^hx\[1\]: expected shape \(num_layers\*D, B, H\)"),
    ("L-gru-hx", lambda: GRU(X, a(1, B + 1, H)), ValueError, r"^hx: expected shape \(num_layers\*D, B, H\) = \(1, 2, 5\), got \(1, 3, 5\)"),
    ("L-lengths", lambda: GRU(X, seq_lengths=[4, 1]), ValueError, r"^seq_lengths: entries must lie in \[0, T\] = \[0, 3\]"),
    ("L-lengths-shape", lambda: GRU(X, seq_lengths=[1]), ValueError, r"^seq_lengths: expected shape \(B,\) = \(2,\), got \(1,\)"),
    ("L-bwd-eval", lambda: GRU.eval() and GRU(X) and GRU.backward(a(T, B, H)), ValueError, r"^backward: nothing to go back through; run a forward in training mode"),
    ("L-bwd-dy-shape", lambda: trained(GRU).backward(a(T, B + 1, H)), ValueError, r"^dy: expected shape \(3, 2, 5\), like the output, got \(3, 3, 5\)"),
    ("L-bwd-dy-feat", lambda: trained(LSTM).backward(a(T, B, H)), ValueError, r"^dy: expected last dimension D\*H = 10"),
    ("L-bwd-dh-pair", lambda: trained(LSTM).backward(None, a(4, B, H)), TypeError, r"^dh_n: expected a pair"),
    ("L-bwd-dh-shape", lambda: trained(GRU).backward(None, a(B, H)), ValueError, r"^dh_n: expected shape \(num_layers\*D, B, H\)"),
    ("L-setattr-shape", lambda: setattr(GRU, "weight_hh_l0", a(H, H)), ValueError, r"^weight_hh_l0: expected shape as the parameter's = \(15, 5\), got \(5, 5\)"),
    ("L-setattr-int", lambda: setattr(GRU, "bias_ih_l0", np.zeros(15, int)), TypeError, r"^bias_ih_l0: expected a floating-point array"),
    ("L-load-missing", lambda: GRU.load_state_dict({}), KeyError, r"missing keys \['weight_ih_l0'"),
    ("L-load-extra", lambda: GRU.load_state_dict({**GRU.state_dict(), "x": 1}), KeyError, r"unexpected keys \['x'\]"),
    ("L-load-notdict", lambda: GRU.load_state_dict([1, 2]), TypeError, r"^state: expected a dict"),
    ("L-load-shape", lambda: GRU.load_state_dict({**GRU.state_dict(), "bias_hh_l0": np.zeros(3)}), ValueError, r"^state\['bias_hh_l0'\]: expected shape"),
    ("L-train-mode", lambda: GRU.train("yes"), TypeError, r"^mode: expected a bool"),
    ("L-no-attr", lambda: GRU.weight_xx, AttributeError, r"GRU has no attribute 'weight_xx'"),
    ("J-x-features", lambda: JRNN(a(T, B, I + 2)), ValueError, r"^x: expected last dimension I = 4"),
    ("J-y0-shape", lambda: JRNN(X, a(B, O + 1)), ValueError, r"^y0: expected shape \(B, O\) = \(2, 2\), got \(2, 3\)"),
    ("J-bwd-dyT", lambda: trained(JRNN).backward(None, a(B, H)), ValueError, r"^dy_T: expected shape \(B, O\) = \(2, 2\), got \(2, 5\)"),
    ("J-bwd-dy", lambda: trained(JRNN).backward(a(T, B, H)), ValueError, r"^dy: expected last dimension O = 2"),
    # converters
    ("cv-keras-kernel-1d", lambda: convert.from_keras_lstm(a(4 * H), a(H, 4 * H)), ValueError, r"^kernel: expected a 2-D array of shape \(I, 4H\)"),
    ("cv-keras-kernel-cols", lambda: convert.from_keras_lstm(a(I, 4 * H + 1), a(H, 4 * H)), ValueError, r"^kernel: expected shape \(I, 4H\) with 4\*H along axis 1"),
    ("cv-keras-rk", lambda: convert.from_keras_gru(a(I, 3 * H), a(H + 1, 3 * H)), ValueError, r"^recurrent_kernel: expected shape \(H, 3H\) = \(5, 15\), got \(6, 15\)"),
    ("cv-keras-bias", lambda: convert.from_keras_gru(a(I, 3 * H), a(H, 3 * H), a(3 * H)), ValueError, r"^bias: expected a 2-D array of shape \(2, 3H\)"),
    ("cv-keras-bias-dtype", lambda: convert.from_keras_lstm(a(I, 4 * H), a(H, 4 * H), a(4 * H).astype(np.float32)), TypeError, r"^bias has dtype float32 but the weights have dtype float64"),
    ("cv-keras-int", lambda: convert.from_keras_lstm(np.zeros((I, 4 * H), int), a(H, 4 * H)), TypeError, r"^kernel: dtype must be float32 or float64"),
    ("cv-keras-str", lambda: convert.from_keras_gru("k", a(H, 3 * H)), TypeError, r"^kernel: expected a numeric array"),
    ("cv-keras-reset", lambda: convert.from_keras_gru(a(I, 3 * H), a(H, 3 * H), reset_after="yes"), TypeError, r"^reset_after: expected a bool"),
    ("cv-to-keras-peep", lambda: convert.to_keras_lstm(W4, U4, peephole=a(3, H)), ValueError, r"^peephole: Keras LSTM has no peephole"),
    ("cv-to-keras-w_hh", lambda: convert.to_keras_lstm(W4, U3), ValueError, r"^w_hh: expected shape \(4\*H, H\)"),
    ("cv-to-keras-b", lambda: convert.to_keras_gru(W3, U3, a(3 * H + 1)), ValueError, r"^b_ih: expected shape \(3\*H,\) = \(15,\), got \(16,\)"),
    ("cv-onnx-W-2d", lambda: convert.from_onnx_lstm(W4, U4[None]), ValueError, r"^W: expected a 3-D array of shape \[D, 4\*H, I\]"),
    ("cv-onnx-R", lambda: convert.from_onnx_gru(W3[None], U4[None]), ValueError, r"^R: expected shape \[D, 3\*H, H\] = \(1, 15, 5\), got \(1, 20, 5\)"),
    ("cv-onnx-B", lambda: convert.from_onnx_rnn(a(1, H, I), a(1, H, H), a(1, H)), ValueError, r"^B: expected shape \[D, 2\*H\] = \(1, 10\), got \(1, 5\)"),
    ("cv-onnx-P", lambda: convert.from_onnx_lstm(W4[None], U4[None], None, a(1, 2 * H)), ValueError, r"^P: expected shape \[D, 3\*H\] = \(1, 15\), got \(1, 10\)"),
    ("cv-onnx-dir", lambda: convert.from_onnx_rnn(a(1, H, I), a(1, H, H), direction=1), ValueError, r"^direction: W holds 1 direction\(s\), got direction=1"),
    ("cv-onnx-dir-type", lambda: convert.from_onnx_rnn(a(1, H, I), a(1, H, H), direction="0"), TypeError, r"^direction: expected 0 or 1"),
    ("cv-onnx-dtype", lambda: convert.from_onnx_gru(W3[None], U3[None].astype(np.float32)), TypeError, r"^R has dtype float32 but the weights have dtype float64"),
    ("cv-to-onnx-peep", lambda: convert.to_onnx_lstm(W4, U4, peephole=a(H, 3)), ValueError, r"^peephole: expected shape \(3, H\) = \(3, 5\), got \(5, 3\)"),
    # optimisers and clipping
    ("opt-lr-neg", lambda: optim.SGD(GRU, lr=-1), ValueError, r"^lr: expected a finite number in \(0.0"),
    ("opt-lr-inf", lambda: optim.Adam(GRU, lr=float("inf")), ValueError, r"^lr: expected a finite number"),
    ("opt-lr-none", lambda: optim.Adam(GRU, lr=None), TypeError, r"^lr: expected a number, got None"),
    ("opt-betas", lambda: optim.Adam(GRU, betas=0.9), TypeError, r"^betas: expected a pair"),
    ("opt-eps", lambda: optim.Adam(GRU, eps=0), ValueError, r"^eps: expected a finite number in \(0.0"),
    ("opt-momentum", lambda: optim.SGD(GRU, momentum=float("nan")), ValueError, r"^momentum: expected a finite number"),
    ("opt-target", lambda: optim.SGD("layer"), TypeError, r"^params: expected a layer"),
    ("opt-pair", lambda: optim.SGD({"w": np.zeros(2)}), TypeError, r"^params\['w'\]: expected a \(parameter, gradient\) pair"),
    ("opt-readonly", lambda: optim.SGD({"w": (np.broadcast_to(np.zeros(1), (2,)), np.zeros(2))}), ValueError, r"^params\['w'\]: the parameter is read-only"),
    ("opt-int-grad", lambda: optim.Adam({"w": (np.zeros(2), np.zeros(2, int))}), TypeError, r"^params\['w'\]: the gradient must be a float numpy array"),
    ("clip-max-neg", lambda: rnnfast.clip_grad_norm([np.ones(2)], -1), ValueError, r"^max_norm: expected a finite number > 0"),
    ("clip-max-str", lambda: rnnfast.clip_grad_norm([np.ones(2)], "1"), TypeError, r"^max_norm: expected a number > 0"),
    ("clip-grads-list", lambda: rnnfast.clip_grad_norm([[1.0, 2.0]], 1.0), TypeError, r"^grads\[0\]: expected a float numpy array, got list"),
    ("clip-grads-int", lambda: rnnfast.clip_grad_norm({"g": np.ones(3, np.int64)}, 1.0), TypeError, r"^grads\['g'\]: expected a float numpy array, got dtype int64"),
    ("clip-readonly", lambda: rnnfast.clip_grad_norm({"g": np.broadcast_to(np.ones(1), (3,))}, 1.0), ValueError, r"^grads\['g'\]: is read-only"),
]


@pytest.mark.parametrize("case", ONLY_FAST, ids=[c[0] for c in ONLY_FAST])
def test_clear_error_naming_the_argument(case):
    _, call, exc, pattern = case
    with pytest.raises(exc, match=pattern) as info:
        call()
    assert type(info.value) is exc


def test_failed_calls_change_nothing():
    """After every erroring call above, the shared layers are as they were."""
    before = {k: v.copy() for k, v in GRU.state_dict().items()}
    for _, call, exc, _ in ONLY_FAST:
        try:
            call()
        except exc:
            pass
    for k, v in GRU.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


# ---------------------------------------------------------------- inputs with a correct answer
def same(a_, b_):
    np.testing.assert_allclose(a_, b_, rtol=1e-10, atol=1e-12, equal_nan=True)


def _nan_x():
    x = X.copy()
    x[1, 0, 2] = np.nan
    y = rnnfast.lstm(x, W4, U4).y
    assert np.isnan(y[1:, 0]).all() and np.isfinite(y[:, 1]).all()  # row 1 untouched
    same(y, ref.lstm(x, W4, U4).y)


def _inf_weight():
    w = W3.copy()
    w[0, 0] = np.inf
    same(rnnfast.gru(X, w, U3).y, ref.gru(X, w, U3).y)


def _nan_padding():
    x = X.copy()
    x[2:, 1] = np.nan  # beyond row 1's length: must not leak
    out = rnnfast.rnn(x, a(H, I), a(H, H), seq_lengths=[3, 2], keep_tape=True)
    assert np.isfinite(out.y).all()
    assert np.isfinite(rnnfast.rnn_backward(out, np.ones_like(out.y)).dw_ih).all()


def _aliased_weights():
    w = a(4 * H, H)  # the same array as w_ih and w_hh (I = H)
    x = a(T, B, H)
    same(rnnfast.lstm(x, w, w).y, ref.lstm(x, w, w).y)


def _aliased_states():
    s = a(B, H)  # h0 is c0
    same(rnnfast.lstm(X, W4, U4, h0=s, c0=s).c_n, ref.lstm(X, W4, U4, h0=s, c0=s).c_n)


def _aliased_upstream():
    out = rnnfast.gru(X, W3, U3, keep_tape=True)
    rout = ref.gru(X, W3, U3, keep_tape=True)
    same(rnnfast.gru_backward(out, out.y).dx, ref.gru_backward(rout, out.y).dx)  # dy is y


def _layer_x_is_hx_storage():
    m = rnnfast.GRU(H, H, dtype=np.float64, seed=1)
    buf = a(T, B, H)
    y, h = m(buf, buf[:1])  # x and hx share memory
    same(y, m(buf.copy(), buf[:1].copy())[0])


def _inf_clip_means_off():
    same(rnnfast.lstm(X, W4, U4, clip=float("inf")).y, rnnfast.lstm(X, W4, U4).y)


def _float32_x_into_float64_layer():
    m = rnnfast.RNN(I, H, dtype=np.float64, seed=2)
    y32 = m(X.astype(np.float32))[0]
    assert y32.dtype == np.float64
    same(y32, m(X.astype(np.float32).astype(np.float64))[0])


def _zero_length_layer_rows():
    m = rnnfast.LSTM(I, H, bidirectional=True, dtype=np.float64, seed=3)
    h0 = a(2, B, H)
    y, (h, c) = m(X, (h0, None), seq_lengths=[0, 3])
    assert not y[:, 0].any()
    same(h[:, 0], h0[:, 0])  # a length-0 row keeps its initial state


def _layer_pickles_after_training():
    m = trained(rnnfast.GRU(I, H, seed=4))
    m2 = pickle.loads(pickle.dumps(m))
    with pytest.raises(ValueError, match="nothing to go back through"):
        m2.backward(np.zeros((T, B, H), np.float32))  # tapes are not pickled


VALID = [_nan_x, _inf_weight, _nan_padding, _aliased_weights, _aliased_states, _aliased_upstream,
         _layer_x_is_hx_storage, _inf_clip_means_off, _float32_x_into_float64_layer,
         _zero_length_layer_rows, _layer_pickles_after_training]


@pytest.mark.parametrize("case", VALID, ids=[f.__name__.strip("_") for f in VALID])
def test_odd_but_valid_inputs_give_the_right_answer(case):
    case()


def test_catalogue_has_over_a_hundred_cases():
    from test_bad_input import CASES

    assert len(CASES) + len(JORDAN) + len(ONLY_FAST) + len(VALID) >= 100
