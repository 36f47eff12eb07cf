"""Single-step cells: the drop-in for one iteration of a hand-written loop.

x (B, I); h, c (B, H); weights as in the functional API. They run the
sequence kernels with T = 1, so a loop of cells gives the same bits as one
sequence call. A loop passes the same weights to every step: the panels
packed from them are kept between steps (rnnfast/_packs.py).
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from . import _checks
from .functional import _forward

__all__ = ["lstm_cell", "gru_cell", "rnn_cell"]


def _step(cell: str, x, h, w_ih, w_hh, b_ih, b_hh, c=None, **options):
    """One step of cell, validated as a sequence of one step."""
    x1 = _checks.cell_input(x)
    dtype, B = x1.dtype, x1.shape[1]
    h = _checks.cell_state(h, "h", dtype, B, w_hh)
    if c is not None:
        c = _checks.cell_state(c, "c", dtype, B, w_hh)
    return _forward(_checks.sequence_call(cell, x1, w_ih, w_hh, b_ih, b_hh, h, c, **options))


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None) -> Tuple[np.ndarray, np.ndarray]:
    """One LSTM step. x (B, I); h, c (B, H); w_ih (4H, I); w_hh (4H, H);
    b_ih, b_hh (4H,) or None. Returns (h1, c1), each (B, H)."""
    out = _step("lstm", x, h, w_ih, w_hh, b_ih, b_hh, c)
    return out.h_n, out.c_n


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, *,
             linear_before_reset: bool = True) -> np.ndarray:
    """One GRU step. x (B, I); h (B, H); w_ih (3H, I); w_hh (3H, H);
    b_ih, b_hh (3H,) or None. Returns h1 (B, H)."""
    return _step("gru", x, h, w_ih, w_hh, b_ih, b_hh,
                 linear_before_reset=linear_before_reset).h_n


def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, *, nonlinearity: str = "tanh") -> np.ndarray:
    """One Elman step. x (B, I); h (B, H); w_ih (H, I); w_hh (H, H);
    b_ih, b_hh (H,) or None. Returns h1 (B, H)."""
    act = (_checks.activation(nonlinearity, "nonlinearity"),)
    return _step("rnn", x, h, w_ih, w_hh, b_ih, b_hh, activations_=act).h_n
