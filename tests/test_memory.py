"""Memory bounds, read off the C size query (exact, not timed):
inference workspace does not grow with T (the input projection streams in
chunks), and the training tape holds no more than the gates plus the states."""
import numpy as np
import pytest

from rnnfast import _kernels


@pytest.mark.parametrize("cell,lbr", [("lstm", True), ("gru", True), ("gru", False), ("rnn", True)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("B,I,H", [(1, 128, 128), (16, 256, 256), (256, 64, 1024)])
def test_inference_workspace_does_not_grow_with_T(cell, lbr, dtype, B, I, H):
    sizes = [_kernels.buffer_sizes(cell, dtype, T, B, I, H, lbr=lbr)[0] for T in (300, 3000, 30000)]
    assert sizes[0] == sizes[1] == sizes[2]
    # and it is far below one projection of the whole sequence
    G = _kernels.GATES[cell]
    assert sizes[2] < 30000 * B * G * H * np.dtype(dtype).itemsize / 10


# Per (t, b): the G*H gate pre-activations, plus the states backward needs:
# h (all), c (LSTM), and for linear_before_reset GRU the n gate's U_n h + b_hn.
STATES = {("lstm", True): 2, ("gru", True): 2, ("gru", False): 1, ("rnn", True): 1}


@pytest.mark.parametrize("cell,lbr", list(STATES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tape_is_gates_plus_states(cell, lbr, dtype):
    T, B, I, H = 50, 8, 16, 32
    tape = _kernels.buffer_sizes(cell, dtype, T, B, I, H, lbr=lbr, training=True)[2]
    per_row = _kernels.GATES[cell] * H + STATES[cell, lbr] * H
    bound = T * B * per_row * np.dtype(dtype).itemsize
    assert tape <= bound + 64 * 8  # alignment of each buffer to 64 bytes
    assert tape >= bound  # and nothing is left out


def test_no_tape_in_inference():
    assert _kernels.buffer_sizes("lstm", np.float32, 10, 2, 3, 4)[2] == 0
