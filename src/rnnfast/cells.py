"""Single-step cells: the drop-in for one iteration of a hand-written loop.

x (B, I); h, c (B, H); weights as in the functional API. They run the
sequence kernels with T = 1, so a loop of cells gives the same bits as one
sequence call.

A loop hands the same weight arrays to every step, and packing them for the
kernels cost more than the step itself (LSTM, B = 1, H = 128: 20 of 42 us).
So the cells keep the panels packed from the last few weight pairs they saw
(_PACKS), with a read-only copy of each pair; a step whose weights are the
same arrays holding the same bytes (compared in full, so changes made in
place are seen) reuses them. An entry holds its arrays only weakly, and lets
its copies go when they are collected; pairs over _PACK_MAX_BYTES are packed
at every step, as before, rather than kept twice more.
"""
from __future__ import annotations

import threading
import weakref
from typing import Dict, List, Optional, Tuple

import numpy as np

from . import _checks, _kernels, _threads
from ._module import snapshot_of
from .functional import _forward

__all__ = ["lstm_cell", "gru_cell", "rnn_cell"]

_PACK_ENTRIES = 4                # weight pairs kept packed at once
_PACK_MAX_BYTES = 256 << 20      # pairs larger than this are not kept
_PACKS: Dict[tuple, List] = {}   # key -> [ref w_ih, ref w_hh, copy w_ih, copy w_hh, panels]
_PACKS_LOCK = threading.Lock()


def _prepared(call: _checks.Call) -> Tuple[Optional[np.ndarray], np.ndarray, np.ndarray]:
    """The packed panels of call's weights and the copies they were packed
    from, reused while the call passes the same arrays with the same bytes;
    (None, w_ih, w_hh) where the pair is not kept (the call packs)."""
    w_ih, w_hh = call.w_ih, call.w_hh
    if w_ih.nbytes + w_hh.nbytes > _PACK_MAX_BYTES:
        return None, w_ih, w_hh
    key = (call.cell, id(w_ih), id(w_hh), _kernels.arch_name(), w_ih.dtype.str,
           w_ih.shape, w_hh.shape)
    with _PACKS_LOCK:
        entry = _PACKS.get(key)
    try:  # an entry is emptied once either array is gone
        ref_ih, ref_hh, kept_ih, kept_hh, panels = entry
    except (TypeError, ValueError):
        ref_ih = ref_hh = lambda: None
        kept_ih = kept_hh = None
    snap_ih, snap_hh = snapshot_of(w_ih, kept_ih), snapshot_of(w_hh, kept_hh)
    if ref_ih() is w_ih and ref_hh() is w_hh and snap_ih is kept_ih and snap_hh is kept_hh:
        return panels, snap_ih, snap_hh
    panels = _kernels.pack(call.cell, snap_ih, snap_hh, training=False,
                           nthreads=_threads.for_call())
    entry = [None, None, snap_ih, snap_hh, panels]
    try:
        # The callback only empties the entry (no dict change under a caller).
        entry[0] = weakref.ref(w_ih, lambda _r, e=entry: e.clear())
        entry[1] = weakref.ref(w_hh, lambda _r, e=entry: e.clear())
    except TypeError:  # not weakly referable: used once, not kept
        return panels, snap_ih, snap_hh
    with _PACKS_LOCK:
        for k in [k for k, e in _PACKS.items() if not e]:
            del _PACKS[k]
        while len(_PACKS) >= _PACK_ENTRIES:
            del _PACKS[next(iter(_PACKS))]
        _PACKS[key] = entry
    return panels, snap_ih, snap_hh


def _step(cell: str, x, h, w_ih, w_hh, b_ih, b_hh, c=None, **options):
    """One step of cell: validate as a T = 1 sequence, then run on the
    kept panels of the weights."""
    x1 = _checks.cell_input(x)
    dtype, B = x1.dtype, x1.shape[1]
    h = _checks.cell_state(h, "h", dtype, B, w_hh)
    if c is not None:
        c = _checks.cell_state(c, "c", dtype, B, w_hh)
    call = _checks.sequence_call(cell, x1, w_ih, w_hh, b_ih, b_hh, h, c, **options)
    panels, call.w_ih, call.w_hh = _prepared(call)
    return _forward(call, packed=panels)


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
