"""Result containers shared by the fast path and the oracle."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Dict, Iterator, Optional

import numpy as np


class SequenceOutput:
    """What a sequence forward returns: unpacks as ``y, h_n`` (GRU, RNN) or
    ``y, h_n, c_n`` (LSTM); the fields are also attributes.

    y: (T, B, H), zero at padded steps. h_n, c_n: (B, H), the state after the
    last step each sequence processed.
    """

    __slots__ = ("y", "h_n", "c_n", "_tape")

    def __init__(self, y: np.ndarray, h_n: np.ndarray, c_n: Optional[np.ndarray], tape: Any):
        self.y, self.h_n, self.c_n, self._tape = y, h_n, c_n, tape

    def _fields(self):
        return (self.y, self.h_n) if self.c_n is None else (self.y, self.h_n, self.c_n)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._fields())

    def __len__(self) -> int:
        return len(self._fields())

    def __getitem__(self, k):
        return self._fields()[k]

    @property
    def has_tape(self) -> bool:
        return self._tape is not None

    def __repr__(self) -> str:
        names = ("y", "h_n") if self.c_n is None else ("y", "h_n", "c_n")
        parts = ", ".join(f"{n}={getattr(self, n).shape}" for n in names)
        return f"{type(self).__name__}({parts}, tape={'kept' if self.has_tape else 'none'})"


class _GradientSet:
    def as_dict(self) -> Dict[str, np.ndarray]:
        """The gradients that exist, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}


@dataclass
class Gradients(_GradientSet):
    """Gradients of a sequence backward, shaped like the forward's inputs.

    dx (T, B, I); dw_ih (G*H, I); dw_hh (G*H, H); db_ih, db_hh (G*H,) or None
    when that bias was None; dh0 (B, H); dc0 (B, H) for LSTM, else None;
    dpeephole (3, H) for an LSTM with peepholes, else None.
    """

    dx: np.ndarray
    dw_ih: np.ndarray
    dw_hh: np.ndarray
    db_ih: Optional[np.ndarray]
    db_hh: Optional[np.ndarray]
    dh0: np.ndarray
    dc0: Optional[np.ndarray] = None
    dpeephole: Optional[np.ndarray] = None


@dataclass
class JordanGradients(_GradientSet):
    """Gradients of a Jordan network backward, shaped like the forward's
    inputs: dx (T, B, I); dw_ih (H, I); dw_yh (H, O); dw_ho (O, H); db_h (H,)
    and db_o (O,), or None when that bias was None; dy0 (B, O)."""

    dx: np.ndarray
    dw_ih: np.ndarray
    dw_yh: np.ndarray
    dw_ho: np.ndarray
    db_h: Optional[np.ndarray]
    db_o: Optional[np.ndarray]
    dy0: np.ndarray
