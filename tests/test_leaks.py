"""No growth over 100,000 calls of every entry point, forward and backward:
resident memory and the number of live Python objects stay flat."""
import gc

import numpy as np
import pytest

import rnnfast
from rnnfast import _kernels, convert, optim

CALLS = 100_000


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def entry_points():
    """One call (or forward + backward pair) of each public entry point."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 2))
    w4, u4 = rng.standard_normal((8, 2)) * 0.3, rng.standard_normal((8, 2)) * 0.3
    w3, u3 = w4[:6], u4[:6]
    w1, u1 = w4[:2], u4[:2]
    jw, ju, jv = w1, rng.standard_normal((2, 3)), rng.standard_normal((3, 2))
    lengths = np.array([3, 1])
    lstm = rnnfast.LSTM(2, 2, bidirectional=True, dtype=np.float64, seed=0)
    jordan = rnnfast.JordanRNN(2, 2, 3, dtype=np.float64, seed=0)
    opt = optim.Adam(lstm, lr=1e-6)

    def functional():
        o = rnnfast.lstm(x, w4, u4, keep_tape=True, peephole=np.ones((3, 2)))
        rnnfast.lstm_backward(o, o.y)
        o = rnnfast.gru(x, w3, u3, keep_tape=True, linear_before_reset=False)
        rnnfast.gru_backward(o, None, o.h_n)
        o = rnnfast.rnn(x, w1, u1, seq_lengths=lengths, reverse=True, keep_tape=True)
        rnnfast.rnn_backward(o, o.y)
        rnnfast.lstm(x, w4, u4)  # inference
        o = rnnfast.jordan(x, jw, ju, jv, seq_lengths=lengths, keep_tape=True)
        rnnfast.jordan_backward(o, o.y)

    def cells():
        h = np.zeros((2, 2))
        rnnfast.lstm_cell(x[0], h, h, w4, u4)
        rnnfast.gru_cell(x[0], h, w3, u3)
        rnnfast.rnn_cell(x[0], h, w1, u1)

    def layers():
        y, _ = lstm(x, seq_lengths=lengths)
        lstm.backward(y)
        opt.step()
        lstm.zero_grad()
        y, _ = jordan(x)
        jordan.backward(y)

    def helpers():
        _kernels.pack("gru", w3, u3, training=True, nthreads=1)
        convert.from_onnx_lstm(**convert.to_onnx_lstm(w4, u4))
        rnnfast.clip_grad_norm(lstm.grads, 1.0)
        try:
            rnnfast.lstm(x, w3, u4)  # an error path
        except ValueError:
            pass

    return [functional, cells, layers, helpers]


@pytest.mark.leak
def test_no_growth_over_a_hundred_thousand_calls():
    rnnfast.set_num_threads(1)
    fns = entry_points()
    samples = []
    for i in range(CALLS):
        for f in fns:
            f()
        if (i + 1) % (CALLS // 10) == 0:
            gc.collect()
            samples.append((rss_bytes(), len(gc.get_objects())))
    base_rss, base_objs = samples[1]  # after warm-up (caches, lazy imports)
    growth = [r - base_rss for r, _ in samples[2:]]
    # A leak of one small array or one 16-byte malloc per call would add
    # more than 1.4 MB over the last 80,000 calls.
    assert max(growth) < 1_400_000, f"RSS growth by sample: {growth}"
    assert max(abs(n - base_objs) for _, n in samples[2:]) < 50, samples
