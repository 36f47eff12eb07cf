"""The packed panels of the weights that calls without a layer pass.

A loop of cells, or of sequence calls, hands the same weight arrays to every
call, and packing them for the kernels cost more than a step (an LSTM cell,
B = 1, H = 128: about 17 of 42 us) and a fifth of a ten-step sequence call
(B = 16, H = 256). So the functional calls and the cells keep the panels
packed from the last few weight pairs they saw (_PACKS), with a read-only
copy of each pair; a call
whose weights are the same arrays holding the same bytes (compared in full,
so changes made in place are seen) reuses them. An entry holds its arrays
only weakly, and lets its copies go when they are collected. What is kept,
copies and panels of all entries together, stays within _PACK_MAX_BYTES:
the oldest entries make room, and a pair too large for it alone is packed
in every call, as before. Layers keep their own (_module.py).
"""
from __future__ import annotations

import os
import threading
import weakref
from typing import Dict, List, Optional, Tuple

import numpy as np

from . import _checks, _kernels, _threads
from ._module import snapshots_of

_PACK_ENTRIES = 4                # weight pairs kept packed at once
_PACK_MAX_BYTES = 256 << 20      # copies and panels kept, all entries together
_PACKS: Dict[tuple, List] = {}   # key -> [ref w_ih, ref w_hh, copy w_ih, copy w_hh, panels]
_PACKS_LOCK = threading.Lock()


def _after_fork_in_child() -> None:
    """A child forked while another thread held the lock would wait on it
    for ever: it starts with a free one (the kept panels stay valid)."""
    global _PACKS_LOCK
    _PACKS_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _entry_bytes(entry: List) -> int:
    """Bytes of an entry's copies and panels (0 once emptied)."""
    try:
        return entry[2].nbytes + entry[3].nbytes + entry[4].nbytes
    except IndexError:
        return 0


def _kept_bytes() -> int:
    return sum(_entry_bytes(e) for e in list(_PACKS.values()))


def prepared(call: _checks.Call) -> Tuple[Optional[np.ndarray], np.ndarray, np.ndarray]:
    """The packed panels of call's weights and the copies they were packed
    from, reused while the call passes the same arrays with the same bytes;
    (None, w_ih, w_hh) where the pair is not kept (the call packs)."""
    w_ih, w_hh = call.w_ih, call.w_hh
    # an entry's copies and panels: over twice the weights (panels are padded,
    # and with keep_tape hold backward's too)
    if 3 * (w_ih.nbytes + w_hh.nbytes) > _PACK_MAX_BYTES or w_ih.size == 0 or w_hh.size == 0:
        return None, w_ih, w_hh
    training = call.keep_tape  # backward's panels too
    key = (call.cell, training, id(w_ih), id(w_hh), _kernels.arch_name(), w_ih.dtype.str,
           w_ih.shape, w_hh.shape)
    with _PACKS_LOCK:
        entry = _PACKS.get(key)
    try:  # an entry is emptied once either array is gone
        ref_ih, ref_hh, kept_ih, kept_hh, panels = entry
    except (TypeError, ValueError):
        ref_ih = ref_hh = lambda: None
        kept_ih = kept_hh = None
    snap_ih, snap_hh = snapshots_of([w_ih, w_hh], [kept_ih, kept_hh])
    if ref_ih() is w_ih and ref_hh() is w_hh and snap_ih is kept_ih and snap_hh is kept_hh:
        return panels, snap_ih, snap_hh
    panels = _kernels.pack(call.cell, snap_ih, snap_hh, training=training,
                           nthreads=_threads.for_call())
    entry = [None, None, snap_ih, snap_hh, panels]
    try:
        # The callback only empties the entry (no dict change under a caller).
        entry[0] = weakref.ref(w_ih, lambda _r, e=entry: e.clear())
        entry[1] = weakref.ref(w_hh, lambda _r, e=entry: e.clear())
    except TypeError:  # not weakly referable: used once, not kept
        return panels, snap_ih, snap_hh
    size = _entry_bytes(entry)
    if size > _PACK_MAX_BYTES:
        return panels, snap_ih, snap_hh
    with _PACKS_LOCK:
        for k in [k for k, e in _PACKS.items() if not e]:
            del _PACKS[k]
        while _PACKS and (len(_PACKS) >= _PACK_ENTRIES or size + _kept_bytes() > _PACK_MAX_BYTES):
            del _PACKS[next(iter(_PACKS))]
        _PACKS[key] = entry
    return panels, snap_ih, snap_hh
