"""Weight converters between Keras, ONNX and rnnfast (PyTorch's layout).

rnnfast's layout: w_ih (G*H, I), w_hh (G*H, H), b_ih and b_hh (G*H,), with
gate blocks LSTM i, f, g, o; GRU r, z, n; RNN one block.

- Keras LSTM: kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H,); gates
  i, f, c, o (c is rnnfast's g). One bias, added on the input side.
- Keras GRU: kernel (I, 3H), recurrent_kernel (H, 3H); gates z, r, h.
  reset_after=True (Keras 2.3+ default) is rnnfast's linear_before_reset=True,
  with bias (2, 3H): row 0 input side, row 1 recurrent side. reset_after=False
  is the original form, bias (3H,).
- Keras activations are not weights and are not converted: Keras 2's
  ``hard_sigmoid`` is clip(0.2x + 0.5), rnnfast's "hard_sigmoid"; Keras 3's
  is clip(x/6 + 0.5, 0, 1), which rnnfast does not have.
- ONNX LSTM: W [D, 4H, I], R [D, 4H, H], B [D, 8H] (W's bias, then R's), P
  [D, 3H]; gates i, o, f, c; peepholes i, o, f. ONNX GRU: W [D, 3H, I],
  gates z, r, h, B [D, 6H], linear_before_reset attribute (default 0).
  ONNX RNN: W [D, H, I], R [D, H, H], B [D, 2H].

``from_*`` functions return a dict to splat into the matching rnnfast
function (``rnnfast.lstm(x, **from_onnx_lstm(W, R, B))``); ``to_*``
functions go the other way and raise ValueError for what the target cannot
express. Every result is a fresh array; inputs are never modified.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np

from . import _checks

__all__ = ["from_keras_lstm", "from_keras_gru", "from_onnx_lstm", "from_onnx_gru",
           "from_onnx_rnn", "to_keras_lstm", "to_keras_gru", "to_onnx_lstm", "to_onnx_gru",
           "to_onnx_rnn"]

# Gate orders: rnnfast's block j comes from the other format's block order[j].
_ONNX_LSTM = (0, 2, 3, 1)  # rnnfast i, f, g, o from ONNX i, o, f, c
_ONNX_PEEP = (0, 2, 1)     # peephole rows i, f, o from ONNX P's i, o, f
_ZRH = (1, 0, 2)           # GRU r, z, n from Keras / ONNX z, r, h


def _blocks(a: np.ndarray, order: Sequence[int], axis: int = 0) -> np.ndarray:
    """Gate blocks of a along axis taken in `order` (a permutation)."""
    parts = np.split(a, len(order), axis=axis)
    return np.concatenate([parts[k] for k in order], axis=axis)


def _inverse(order: Sequence[int]) -> tuple:
    inv = [0] * len(order)
    for pos, k in enumerate(order):
        inv[k] = pos
    return tuple(inv)


def _float(a: Any, name: str, ndim: int, spec: str, dtype=None) -> np.ndarray:
    arr = _checks.as_array(a, name)
    if arr.dtype.kind != "f" or arr.dtype.itemsize not in (4, 8):
        raise TypeError(f"{name}: dtype must be float32 or float64, got {arr.dtype}")
    if dtype is not None and arr.dtype != dtype:
        raise TypeError(f"{name} has dtype {arr.dtype} but the weights have dtype {dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array of shape {spec}, got shape "
                         f"{arr.shape}")
    return arr


def _gates_of(a: np.ndarray, name: str, G: int, axis: int, spec: str) -> int:
    """H, from a dimension that holds G gate blocks."""
    n = a.shape[axis]
    if n % G:
        raise ValueError(f"{name}: expected shape {spec} with {G}*H along axis {axis}, got "
                         f"{a.shape}")
    return n // G


def _shape(a: Optional[np.ndarray], name: str, shape: tuple, spec: str) -> None:
    if a is not None and a.shape != shape:
        raise ValueError(f"{name}: expected shape {spec} = {shape}, got {a.shape}")


def _copy(a: np.ndarray) -> np.ndarray:
    return np.array(a, order="C", copy=True)


# ------------------------------------------------------------------ Keras

def _from_keras(kernel, recurrent_kernel, G: int, order, spec_k: str, spec_r: str):
    k = _float(kernel, "kernel", 2, spec_k)
    r = _float(recurrent_kernel, "recurrent_kernel", 2, spec_r, k.dtype)
    H = _gates_of(k, "kernel", G, 1, spec_k)
    _shape(r, "recurrent_kernel", (H, G * H), spec_r)
    return k, H, _copy(_blocks(k.T, order)), _copy(_blocks(r.T, order))


def from_keras_lstm(kernel, recurrent_kernel, bias=None) -> Dict[str, np.ndarray]:
    """Keras LSTM weights -> rnnfast.lstm arguments.

    kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H,) or None; gates
    i, f, c, o, which is rnnfast's order. Returns w_ih (4H, I), w_hh (4H, H),
    b_ih (the Keras bias) and b_hh (zeros), or both None without a bias."""
    k, H, w_ih, w_hh = _from_keras(kernel, recurrent_kernel, 4, (0, 1, 2, 3), "(I, 4H)",
                                   "(H, 4H)")
    out = dict(w_ih=w_ih, w_hh=w_hh, b_ih=None, b_hh=None)
    if bias is not None:
        b = _float(bias, "bias", 1, "(4H,)", k.dtype)
        _shape(b, "bias", (4 * H,), "(4H,)")
        out.update(b_ih=_copy(b), b_hh=np.zeros_like(b))
    return out


def from_keras_gru(kernel, recurrent_kernel, bias=None, reset_after: bool = True
                   ) -> Dict[str, Any]:
    """Keras GRU weights -> rnnfast.gru arguments.

    kernel (I, 3H), recurrent_kernel (H, 3H), gates z, r, h. bias is (2, 3H)
    with reset_after=True (input-side row, then recurrent-side row) and
    (3H,) with reset_after=False, or None. Returns w_ih, w_hh, b_ih, b_hh
    in gate order r, z, n and linear_before_reset = reset_after."""
    reset_after = _checks.flag(reset_after, "reset_after")
    k, H, w_ih, w_hh = _from_keras(kernel, recurrent_kernel, 3, _ZRH, "(I, 3H)", "(H, 3H)")
    out: Dict[str, Any] = dict(w_ih=w_ih, w_hh=w_hh, b_ih=None, b_hh=None,
                               linear_before_reset=reset_after)
    if bias is not None:
        if reset_after:
            b = _float(bias, "bias", 2, "(2, 3H)", k.dtype)
            _shape(b, "bias", (2, 3 * H), "(2, 3H)")
            out.update(b_ih=_copy(_blocks(b[0], _ZRH)), b_hh=_copy(_blocks(b[1], _ZRH)))
        else:
            b = _float(bias, "bias", 1, "(3H,)", k.dtype)
            _shape(b, "bias", (3 * H,), "(3H,)")
            out.update(b_ih=_copy(_blocks(b, _ZRH)), b_hh=np.zeros_like(b))
    return out


def _weights(w_ih, w_hh, G: int, gs: str):
    w = _float(w_ih, "w_ih", 2, f"({gs}, I)")
    u = _float(w_hh, "w_hh", 2, f"({gs}, H)", w.dtype)
    H = u.shape[1]
    _shape(u, "w_hh", (G * H, H), f"({gs}, H)")
    _shape(w, "w_ih", (G * H, w.shape[1]), f"({gs}, I)")
    return w, u, H


def _bias(b, name: str, n: int, gs: str, dtype) -> Optional[np.ndarray]:
    if b is None:
        return None
    arr = _float(b, name, 1, f"({gs},)", dtype)
    _shape(arr, name, (n,), f"({gs},)")
    return arr


def _sum(a: Optional[np.ndarray], b: Optional[np.ndarray], n: int, dtype) -> np.ndarray:
    out = np.zeros(n, dtype=dtype)
    for v in (a, b):
        if v is not None:
            out += v
    return out


def to_keras_lstm(w_ih, w_hh, b_ih=None, b_hh=None, peephole=None) -> Dict[str, np.ndarray]:
    """rnnfast LSTM weights -> Keras: {"kernel" (I, 4H), "recurrent_kernel"
    (H, 4H), "bias" (4H,) = b_ih + b_hh}, in the order layer.set_weights
    takes them. Peepholes have no Keras form (ValueError)."""
    if peephole is not None:
        raise ValueError("peephole: Keras LSTM has no peephole connections")
    w, u, H = _weights(w_ih, w_hh, 4, "4*H")
    bi, bh = _bias(b_ih, "b_ih", 4 * H, "4*H", w.dtype), _bias(b_hh, "b_hh", 4 * H, "4*H", w.dtype)
    return dict(kernel=_copy(w.T), recurrent_kernel=_copy(u.T),
                bias=_sum(bi, bh, 4 * H, w.dtype))


def to_keras_gru(w_ih, w_hh, b_ih=None, b_hh=None, linear_before_reset: bool = True
                 ) -> Dict[str, Any]:
    """rnnfast GRU weights -> Keras: {"kernel" (I, 3H), "recurrent_kernel"
    (H, 3H), "bias", "reset_after"}, gates z, r, h. linear_before_reset=True
    gives reset_after=True and bias (2, 3H); False gives reset_after=False and
    bias (3H,) = b_ih + b_hh (in the original form b_hh only adds)."""
    lbr = _checks.flag(linear_before_reset, "linear_before_reset")
    w, u, H = _weights(w_ih, w_hh, 3, "3*H")
    bi, bh = _bias(b_ih, "b_ih", 3 * H, "3*H", w.dtype), _bias(b_hh, "b_hh", 3 * H, "3*H", w.dtype)
    zrh = _inverse(_ZRH)
    out: Dict[str, Any] = dict(kernel=_copy(_blocks(w, zrh).T),
                               recurrent_kernel=_copy(_blocks(u, zrh).T), reset_after=lbr)
    if lbr:
        zero = np.zeros(3 * H, dtype=w.dtype)
        out["bias"] = np.stack([_blocks(zero if bi is None else bi, zrh),
                                _blocks(zero if bh is None else bh, zrh)])
    else:
        out["bias"] = _copy(_blocks(_sum(bi, bh, 3 * H, w.dtype), zrh))
    return out


# ------------------------------------------------------------------ ONNX

def _onnx_direction(direction: Any, D: int, name: str = "W") -> int:
    if isinstance(direction, (bool, np.bool_)) or not isinstance(direction, (int, np.integer)):
        raise TypeError(f"direction: expected 0 or 1, got {direction!r}")
    if not 0 <= direction < D:
        raise ValueError(f"direction: {name} holds {D} direction(s), got direction={direction}")
    return int(direction)


def _from_onnx(W, R, B, G: int, order, direction, gs: str):
    w = _float(W, "W", 3, f"[D, {gs}, I]")
    r = _float(R, "R", 3, f"[D, {gs}, H]", w.dtype)
    D, H = w.shape[0], r.shape[2]
    _shape(r, "R", (D, G * H, H), f"[D, {gs}, H]")
    _shape(w, "W", (D, G * H, w.shape[2]), f"[D, {gs}, I]")
    d = _onnx_direction(direction, D)
    out: Dict[str, Any] = dict(w_ih=_copy(_blocks(w[d], order)), w_hh=_copy(_blocks(r[d], order)),
                               b_ih=None, b_hh=None)
    if B is not None:
        b = _float(B, "B", 2, f"[D, 2*{gs}]", w.dtype)
        _shape(b, "B", (D, 2 * G * H), f"[D, 2*{gs}]")
        out.update(b_ih=_copy(_blocks(b[d, :G * H], order)),
                   b_hh=_copy(_blocks(b[d, G * H:], order)))
    return out, w.dtype, D, H, d


def from_onnx_lstm(W, R, B=None, P=None, direction: int = 0) -> Dict[str, np.ndarray]:
    """ONNX LSTM initialisers -> rnnfast.lstm arguments for one direction.

    W [D, 4H, I], R [D, 4H, H], B [D, 8H] or None, P [D, 3H] or None; gates
    i, o, f, c, peepholes i, o, f. direction 0 is forward, 1 the reverse half
    of a bidirectional node (run it with reverse=True)."""
    out, dtype, D, H, d = _from_onnx(W, R, B, 4, _ONNX_LSTM, direction, "4*H")
    if P is not None:
        p = _float(P, "P", 2, "[D, 3*H]", dtype)
        _shape(p, "P", (D, 3 * H), "[D, 3*H]")
        out["peephole"] = _copy(p[d].reshape(3, H)[list(_ONNX_PEEP)])
    return out


def from_onnx_gru(W, R, B=None, direction: int = 0, linear_before_reset: bool = False
                  ) -> Dict[str, Any]:
    """ONNX GRU initialisers -> rnnfast.gru arguments for one direction.

    W [D, 3H, I], R [D, 3H, H], B [D, 6H] or None; gates z, r, h. Pass the
    node's linear_before_reset attribute (ONNX default 0); it is returned
    with the weights."""
    out, *_ = _from_onnx(W, R, B, 3, _ZRH, direction, "3*H")
    out["linear_before_reset"] = _checks.flag(linear_before_reset, "linear_before_reset")
    return out


def from_onnx_rnn(W, R, B=None, direction: int = 0) -> Dict[str, np.ndarray]:
    """ONNX RNN initialisers -> rnnfast.rnn arguments for one direction:
    W [D, H, I], R [D, H, H], B [D, 2H] or None."""
    out, *_ = _from_onnx(W, R, B, 1, (0,), direction, "H")
    return out


def _to_onnx(w_ih, w_hh, b_ih, b_hh, G: int, order, gs: str):
    w, u, H = _weights(w_ih, w_hh, G, gs)
    bi = _bias(b_ih, "b_ih", G * H, gs, w.dtype)
    bh = _bias(b_hh, "b_hh", G * H, gs, w.dtype)
    inv = _inverse(order)
    out = dict(W=_blocks(w, inv)[None].copy(), R=_blocks(u, inv)[None].copy())
    if bi is not None or bh is not None:
        zero = np.zeros(G * H, dtype=w.dtype)
        out["B"] = np.concatenate([_blocks(zero if bi is None else bi, inv),
                                   _blocks(zero if bh is None else bh, inv)])[None]
    return out, w.dtype, H


def to_onnx_lstm(w_ih, w_hh, b_ih=None, b_hh=None, peephole=None) -> Dict[str, np.ndarray]:
    """rnnfast LSTM weights -> ONNX LSTM initialisers of one direction:
    {"W" [1, 4H, I], "R" [1, 4H, H], "B" [1, 8H] (when a bias is given),
    "P" [1, 3H] (when peephole is given)}. For a bidirectional node,
    np.concatenate the forward and reverse results along axis 0."""
    out, dtype, H = _to_onnx(w_ih, w_hh, b_ih, b_hh, 4, _ONNX_LSTM, "4*H")
    if peephole is not None:
        p = _float(peephole, "peephole", 2, "(3, H)", dtype)
        _shape(p, "peephole", (3, H), "(3, H)")
        out["P"] = p[list(_inverse(_ONNX_PEEP))].reshape(1, 3 * H).copy()
    return out


def to_onnx_gru(w_ih, w_hh, b_ih=None, b_hh=None) -> Dict[str, np.ndarray]:
    """rnnfast GRU weights -> ONNX GRU initialisers of one direction:
    {"W" [1, 3H, I], "R" [1, 3H, H], "B" [1, 6H]}, gates z, r, h. Set the
    node's linear_before_reset attribute to the form the weights were
    trained with."""
    return _to_onnx(w_ih, w_hh, b_ih, b_hh, 3, _ZRH, "3*H")[0]


def to_onnx_rnn(w_ih, w_hh, b_ih=None, b_hh=None) -> Dict[str, np.ndarray]:
    """rnnfast RNN weights -> ONNX RNN initialisers of one direction:
    {"W" [1, H, I], "R" [1, H, H], "B" [1, 2H]}."""
    return _to_onnx(w_ih, w_hh, b_ih, b_hh, 1, (0,), "H")[0]
