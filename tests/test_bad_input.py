"""The bad-input catalogue: each case raises a clear error naming the
argument, and the fast path and the oracle raise the same one."""
import numpy as np
import pytest

import rnnfast
from rnnfast import reference as ref

T, B, I, H = 3, 2, 4, 5
R = np.random.default_rng(0)


def a(*shape, dtype=np.float64):
    return R.standard_normal(shape).astype(dtype)


X, W4, U4, W3, U3, W1, U1 = a(T, B, I), a(4 * H, I), a(4 * H, H), a(3 * H, I), a(3 * H, H), \
    a(H, I), a(H, H)

# (id, call taking the module, exception type, message pattern)
CASES = [
    ("x-2d", lambda m: m.lstm(X[0], W4, U4), ValueError, r"^x: expected a 3-D array of shape \(T, B, I\)"),
    ("x-int", lambda m: m.lstm(X.astype(int), W4, U4), TypeError, r"^x: dtype must be float32 or float64"),
    ("x-f16", lambda m: m.gru(X.astype(np.float16), W3, U3), TypeError, r"^x: dtype must be float32 or float64, got float16"),
    ("x-complex", lambda m: m.rnn(X.astype(complex), W1, U1), TypeError, r"^x: expected a numeric array"),
    ("x-str", lambda m: m.rnn("abc", W1, U1), TypeError, r"^x: expected a numeric array"),
    ("x-none", lambda m: m.rnn(None, W1, U1), TypeError, r"^x: expected a numeric array"),
    ("x-ragged", lambda m: m.rnn([[[1.0]], [[1.0, 2.0]]], W1, U1), TypeError, r"^x: expected an array"),
    ("x-object", lambda m: m.rnn(np.array([object()]), W1, U1), TypeError, r"^x: expected a numeric array"),
    ("w_ih-dtype", lambda m: m.lstm(X, W4.astype(np.float32), U4), TypeError, r"^w_ih has dtype float32 but x has dtype float64"),
    ("w_hh-dtype", lambda m: m.lstm(X.astype(np.float32), W4.astype(np.float32), U4), TypeError, r"^w_hh has dtype float64 but x has dtype float32"),
    ("w_ih-rows", lambda m: m.lstm(X, W3, U4), ValueError, r"^w_ih: expected shape \(4\*H, I\) = \(20, 4\), got \(15, 4\)"),
    ("w_ih-cols", lambda m: m.lstm(X, a(4 * H, I + 1), U4), ValueError, r"^w_ih: expected shape \(4\*H, I\) = \(20, 4\), got \(20, 5\)"),
    ("w_hh-1d", lambda m: m.gru(X, W3, U3.ravel()), ValueError, r"^w_hh: expected a 2-D array of shape \(3\*H, H\)"),
    ("w_hh-rows", lambda m: m.gru(X, W3, U4), ValueError, r"^w_hh: expected shape \(3\*H, H\) = \(15, 5\), got \(20, 5\)"),
    ("rnn-w_hh", lambda m: m.rnn(X, a(H + 1, I), a(H, H + 1)), ValueError, r"^w_hh: expected shape \(H, H\) = \(6, 6\), got \(5, 6\)"),
    ("b_ih-shape", lambda m: m.lstm(X, W4, U4, a(4 * H + 1)), ValueError, r"^b_ih: expected shape \(4\*H,\) = \(20,\), got \(21,\)"),
    ("b_hh-2d", lambda m: m.gru(X, W3, U3, None, a(1, 3 * H)), ValueError, r"^b_hh: expected shape \(3\*H,\) = \(15,\), got \(1, 15\)"),
    ("b_hh-dtype", lambda m: m.rnn(X, W1, U1, None, a(H).astype(np.float32)), TypeError, r"^b_hh has dtype float32 but x has dtype float64"),
    ("h0-shape", lambda m: m.lstm(X, W4, U4, h0=a(B + 1, H)), ValueError, r"^h0: expected shape \(B, H\) = \(2, 5\), got \(3, 5\)"),
    ("c0-shape", lambda m: m.lstm(X, W4, U4, c0=a(B, H - 1)), ValueError, r"^c0: expected shape \(B, H\) = \(2, 5\), got \(2, 4\)"),
    ("h0-dtype", lambda m: m.gru(X, W3, U3, h0=a(B, H).astype(np.float32)), TypeError, r"^h0 has dtype float32"),
    ("peephole-shape", lambda m: m.lstm(X, W4, U4, peephole=a(4, H)), ValueError, r"^peephole: expected shape \(3, H\) = \(3, 5\), got \(4, 5\)"),
    ("lengths-float", lambda m: m.lstm(X, W4, U4, seq_lengths=[1.0, 2.0]), TypeError, r"^seq_lengths: expected integers, got dtype float64"),
    ("lengths-bool", lambda m: m.gru(X, W3, U3, seq_lengths=[True, False]), TypeError, r"^seq_lengths: expected integers, got dtype bool"),
    ("lengths-neg", lambda m: m.lstm(X, W4, U4, seq_lengths=[-1, 2]), ValueError, r"^seq_lengths: entries must lie in \[0, T\] = \[0, 3\]; seq_lengths\[0\] = -1"),
    ("lengths-big", lambda m: m.rnn(X, W1, U1, seq_lengths=[3, 4]), ValueError, r"^seq_lengths\[1\] = 4|seq_lengths: entries must lie in \[0, T\] = \[0, 3\]; seq_lengths\[1\] = 4"),
    ("lengths-shape", lambda m: m.gru(X, W3, U3, seq_lengths=[1, 2, 3]), ValueError, r"^seq_lengths: expected shape \(B,\) = \(2,\), got \(3,\)"),
    ("lengths-huge", lambda m: m.gru(X, W3, U3, seq_lengths=np.array([2**62, 1])), ValueError, r"^seq_lengths: entries must lie in \[0, T\]"),
    ("act-unknown", lambda m: m.lstm(X, W4, U4, activations=("sigmoid", "tanh", "softsign")), ValueError, r"^activations\[2\]: expected one of sigmoid, hard_sigmoid, tanh, relu, identity; got 'softsign'"),
    ("act-count", lambda m: m.gru(X, W3, U3, activations=("sigmoid", "tanh", "tanh")), ValueError, r"^activations: expected a sequence of 2 names for gru"),
    ("act-string", lambda m: m.gru(X, W3, U3, activations="tanh"), ValueError, r"^activations: expected a sequence of 2 names"),
    ("nonlin-unknown", lambda m: m.rnn(X, W1, U1, nonlinearity="gelu"), ValueError, r"^nonlinearity: expected one of"),
    ("nonlin-none", lambda m: m.rnn(X, W1, U1, nonlinearity=None), ValueError, r"^nonlinearity: expected one of"),
    ("clip-zero", lambda m: m.lstm(X, W4, U4, clip=0), ValueError, r"^clip: expected None or a number > 0, got 0"),
    ("clip-neg", lambda m: m.gru(X, W3, U3, clip=-1.0), ValueError, r"^clip: expected None or a number > 0"),
    ("clip-nan", lambda m: m.gru(X, W3, U3, clip=float("nan")), ValueError, r"^clip: expected None or a number > 0"),
    ("clip-str", lambda m: m.lstm(X, W4, U4, clip="1"), TypeError, r"^clip: expected None or a number > 0"),
    ("clip-bool", lambda m: m.lstm(X, W4, U4, clip=True), TypeError, r"^clip: expected None"),
    ("reverse-str", lambda m: m.lstm(X, W4, U4, reverse="yes"), TypeError, r"^reverse: expected a bool"),
    ("keep_tape-2", lambda m: m.rnn(X, W1, U1, keep_tape=2), TypeError, r"^keep_tape: expected a bool"),
    ("lbr-none", lambda m: m.gru(X, W3, U3, linear_before_reset=None), TypeError, r"^linear_before_reset: expected a bool"),
    ("bwd-no-tape", lambda m: m.lstm_backward(m.lstm(X, W4, U4)), ValueError, r"^out: lstm_backward needs a tape"),
    ("bwd-wrong-cell", lambda m: m.gru_backward(m.lstm(X, W4, U4, keep_tape=True)), TypeError, r"^out: expected the result of rnnfast.gru"),
    ("bwd-not-output", lambda m: m.rnn_backward((X, X)), TypeError, r"^out: expected the result of rnnfast.rnn\(\.\.\., keep_tape=True\), got tuple"),
    ("bwd-dy-shape", lambda m: m.rnn_backward(m.rnn(X, W1, U1, keep_tape=True), a(T, B, H + 1)), ValueError, r"^dy: expected shape \(T, B, H\) = \(3, 2, 5\), got \(3, 2, 6\)"),
    ("bwd-dh-dtype", lambda m: m.gru_backward(m.gru(X, W3, U3, keep_tape=True), None, a(B, H).astype(np.float32)), TypeError, r"^dh_n has dtype float32 but the forward's x has dtype float64"),
    ("bwd-dc-shape", lambda m: m.lstm_backward(m.lstm(X, W4, U4, keep_tape=True), None, None, a(B)), ValueError, r"^dc_n: expected shape \(B, H\)"),
]


def raise_alike(case):
    """The fast path and the oracle raise exactly exc, with one message matching pattern."""
    _, call, exc, pattern = case
    messages = []
    for mod in (rnnfast, ref):
        with pytest.raises(exc, match=pattern) as info:
            call(mod)
        assert type(info.value) is exc
        messages.append(str(info.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fast_and_oracle_raise_alike(case):
    raise_alike(case)


def test_catalogue_is_substantial():
    assert len(CASES) >= 45


def test_zero_sizes_give_empty_results():
    for T_, B_, I_, H_ in [(0, 2, 3, 4), (3, 0, 3, 4), (3, 2, 0, 4), (3, 2, 3, 0), (0, 0, 0, 0)]:
        x = np.ones((T_, B_, I_))
        out = rnnfast.lstm(x, np.ones((4 * H_, I_)), np.ones((4 * H_, H_)), keep_tape=True)
        assert out.y.shape == (T_, B_, H_) and out.h_n.shape == (B_, H_)
        g = rnnfast.lstm_backward(out, np.ones((T_, B_, H_)))
        assert g.dx.shape == x.shape and g.dw_hh.shape == (4 * H_, H_)
        assert np.all(g.dx == 0) if H_ == 0 else True
        assert np.all(out.h_n == 0)  # zero initial state, and no step changes it or T = 0


def test_impossible_sizes_raise_memory_error():
    # A broadcast view is huge in its shape (8 TiB) but costs nothing to build.
    x = np.broadcast_to(np.zeros(1), (2**20, 2**20, 1))
    with pytest.raises(MemoryError):
        rnnfast.rnn(x, np.zeros((4, 1)), np.zeros((4, 4)))


@pytest.mark.parametrize("dims", [(2**40, 2**40, 1, 2**20), (1, 2**62, 1, 4), (2**62, 2, 2, 2)])
def test_size_overflow_is_caught_in_c(dims):
    from rnnfast import _kernels
    with pytest.raises(MemoryError, match="do not fit"):
        _kernels.buffer_sizes("lstm", np.float64, *dims, training=True)


def test_set_num_threads_rejects_bad_values():
    with pytest.raises(ValueError, match=r"^n: expected a positive int up to 1024 or None, got 0"):
        rnnfast.set_num_threads(0)
    with pytest.raises(ValueError, match=r"^n: expected a positive int up to 1024"):
        rnnfast.set_num_threads(10**6)
    with pytest.raises(TypeError, match=r"^n: expected a positive int or None"):
        rnnfast.set_num_threads(1.5)


@pytest.mark.parametrize("dims", [(2**20, 2**20, 1, 4, 4), (1, 2**58, 1, 4, 4),
                                  (2, 2, 2, 4, 2**57)])
def test_jordan_size_overflow_is_caught_before_allocating(dims):
    T_, B_, I_, H_, O_ = dims
    x = np.broadcast_to(np.zeros(1), (T_, B_, I_))  # huge shapes, no memory
    W_ = np.broadcast_to(np.zeros(1), (H_, I_))
    U_ = np.broadcast_to(np.zeros(1), (H_, O_))
    V_ = np.broadcast_to(np.zeros(1), (O_, H_))
    with pytest.raises(MemoryError):
        rnnfast.jordan(x, W_, U_, V_, keep_tape=True)

