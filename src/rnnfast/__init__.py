"""rnnfast: fused LSTM, GRU and Elman RNN kernels for NumPy, in C with OpenMP.

Functional API (one layer, one direction, a whole sequence, with
backward-through-time): lstm, gru, rnn and their *_backward. Single steps:
lstm_cell, gru_cell, rnn_cell. Layers (stacked, bidirectional, trainable,
PyTorch state_dicts): LSTM, GRU, RNN. The slow, readable oracle is
rnnfast.reference.
"""
from . import convert, optim
from ._threads import get_num_threads, set_num_threads, show_config
from ._types import Gradients, JordanGradients, SequenceOutput
from ._version import __version__
from .cells import gru_cell, lstm_cell, rnn_cell
from .layers import GRU, LSTM, RNN, JordanRNN
from .functional import (gru, gru_backward, jordan, jordan_backward, lstm, lstm_backward,
                         rnn, rnn_backward)
from .training import clip_grad_norm

__all__ = [
    "lstm", "gru", "rnn", "lstm_backward", "gru_backward", "rnn_backward", "jordan",
    "jordan_backward",
    "lstm_cell", "gru_cell", "rnn_cell", "LSTM", "GRU", "RNN", "JordanRNN",
    "clip_grad_norm", "set_num_threads", "get_num_threads", "show_config",
    "SequenceOutput", "Gradients", "JordanGradients", "convert", "optim", "__version__",
]
