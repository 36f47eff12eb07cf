"""Argument validation shared by the fast path and the NumPy oracle.

Both run every argument through here first, so they accept and reject the
same inputs with the same messages. Messages name the argument and give the
expected and the actual shape or type. Arrays come back C-contiguous, of the
call's dtype in native byte order; inputs are never modified (a copy is made
only when needed).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from ._types import SequenceOutput

ACTIVATIONS = ("sigmoid", "hard_sigmoid", "tanh", "relu", "identity")
GATES = {"lstm": 4, "gru": 3, "rnn": 1}
DEFAULT_ACTIVATIONS = {
    "lstm": ("sigmoid", "tanh", "tanh"),
    "gru": ("sigmoid", "tanh"),
}
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def c_array(a: np.ndarray, dtype) -> np.ndarray:
    """a as a C-contiguous, aligned array of dtype in native byte order,
    copied only when it is not one already (pickled or shared-memory buffers
    can arrive unaligned)."""
    if a.dtype == dtype:  # the usual case, answered without np.require's overhead
        flags = a.flags
        if flags.c_contiguous and flags.aligned:
            return a
    return np.require(a, dtype=dtype, requirements=["C_CONTIGUOUS", "ALIGNED"])


def as_array(a: Any, name: str) -> np.ndarray:
    """np.asarray with a clear TypeError for objects that are not numeric arrays."""
    if isinstance(a, np.ndarray):
        arr = a
    else:
        try:
            arr = np.asarray(a)
        except Exception as e:  # ragged lists and the like
            raise TypeError(f"{name}: expected an array, got {type(a).__name__} ({e})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    return arr


def call_dtype(x: Any, name: str = "x") -> np.dtype:
    """The dtype of a call: float32 or float64, decided by x."""
    if type(x) is np.ndarray and x.dtype in FLOAT_DTYPES:
        return x.dtype
    arr = as_array(x, name)
    if arr.dtype.kind != "f" or arr.dtype.itemsize not in (4, 8):
        raise TypeError(f"{name}: dtype must be float32 or float64, got {arr.dtype}")
    return np.dtype(np.float32) if arr.dtype.itemsize == 4 else np.dtype(np.float64)


def same_dtype(a: Any, name: str, dtype: np.dtype, ref: str = "x") -> np.ndarray:
    """a as an array of exactly the call's dtype (else TypeError naming both)."""
    if type(a) is np.ndarray and a.dtype == dtype:
        return a
    arr = as_array(a, name)
    if arr.dtype.kind != "f" or arr.dtype.itemsize != dtype.itemsize:
        raise TypeError(
            f"{name} has dtype {arr.dtype} but {ref} has dtype {dtype}: "
            "every array in one call must share one float dtype"
        )
    return arr


def shaped(
    a: Any, name: str, dtype: np.dtype, shape: Tuple[int, ...], spec: str, ref: str = "x"
) -> np.ndarray:
    """a checked against shape (described symbolically by spec), contiguous."""
    if type(a) is np.ndarray and a.dtype == dtype and a.shape == shape:
        return c_array(a, dtype)  # the usual case, past same_dtype's and as_array's tests
    arr = same_dtype(a, name, dtype, ref)
    if arr.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {spec} = {tuple(shape)}, got {arr.shape}")
    return c_array(arr, dtype)


def optional(
    a: Any, name: str, dtype: np.dtype, shape: Tuple[int, ...], spec: str, ref: str = "x"
) -> Optional[np.ndarray]:
    return None if a is None else shaped(a, name, dtype, shape, spec, ref)


def flag(v: Any, name: str) -> bool:
    if v is True or v is False:
        return v
    if isinstance(v, (bool, np.bool_)) or (isinstance(v, numbers.Integral) and v in (0, 1)):
        return bool(v)
    raise TypeError(f"{name}: expected a bool, got {v!r}")


def clip_value(clip: Any) -> float:
    """None -> 0.0 (off); a number > 0 -> itself (inf -> off)."""
    if clip is None:
        return 0.0
    if isinstance(clip, (bool, np.bool_)) or not isinstance(clip, numbers.Real):
        raise TypeError(f"clip: expected None or a number > 0, got {clip!r}")
    c = float(clip)
    if math.isnan(c) or c <= 0:
        raise ValueError(f"clip: expected None or a number > 0, got {clip!r}")
    return 0.0 if math.isinf(c) else c


def activation(name: Any, what: str) -> str:
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"{what}: expected one of {', '.join(ACTIVATIONS)}; got {name!r}")
    return name


def activations(acts: Any, cell: str) -> Tuple[str, ...]:
    n = len(DEFAULT_ACTIVATIONS[cell])
    if acts is None:
        return DEFAULT_ACTIVATIONS[cell]
    if isinstance(acts, str) or not isinstance(acts, Sequence) or len(acts) != n:
        raise ValueError(f"activations: expected a sequence of {n} names for {cell}, got {acts!r}")
    return tuple(activation(a, f"activations[{k}]") for k, a in enumerate(acts))


def lengths(seq_lengths: Any, T: int, B: int) -> Optional[np.ndarray]:
    if seq_lengths is None:
        return None
    arr = as_array(seq_lengths, "seq_lengths")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"seq_lengths: expected integers, got dtype {arr.dtype}")
    if arr.shape != (B,):
        raise ValueError(f"seq_lengths: expected shape (B,) = ({B},), got {arr.shape}")
    bad = (arr < 0) | (arr > T)
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"seq_lengths: entries must lie in [0, T] = [0, {T}]; "
                         f"seq_lengths[{k}] = {int(arr[k])}")
    return c_array(arr, np.int64)


def sequence_input(x: Any) -> Tuple[np.dtype, np.ndarray, Tuple[int, int, int]]:
    """A sequence call's x (T, B, I): its dtype (the call's), the array and
    its sizes."""
    dtype = call_dtype(x)
    xa = same_dtype(x, "x", dtype)
    if xa.ndim != 3:
        raise ValueError(f"x: expected a 3-D array of shape (T, B, I), got shape {xa.shape}")
    return dtype, xa, xa.shape


def matrix(a: Any, name: str, dtype: np.dtype, spec: str) -> np.ndarray:
    """A 2-D array of the call's dtype whose sizes define the call (w_hh, w_ho)."""
    arr = same_dtype(a, name, dtype)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array of shape {spec}, got shape {arr.shape}")
    return arr


@dataclass
class Call:
    """A validated sequence call: contiguous arrays of one dtype, sizes, options."""

    cell: str
    dtype: np.dtype
    T: int
    B: int
    I: int
    H: int
    x: np.ndarray
    w_ih: np.ndarray
    w_hh: np.ndarray
    b_ih: Optional[np.ndarray]
    b_hh: Optional[np.ndarray]
    h0: Optional[np.ndarray]
    c0: Optional[np.ndarray]
    peephole: Optional[np.ndarray]
    seq_lengths: Optional[np.ndarray]
    reverse: bool
    clip: float
    acts: Tuple[str, ...]
    linear_before_reset: bool
    keep_tape: bool


# the shapes of w_ih, w_hh and a bias, as error messages write them
_SPECS = {cell: (f"({g}, I)", f"({g}, H)", f"({g},)")
          for cell, g in ((cell, f"{G}*H" if G > 1 else "H") for cell, G in GATES.items())}


def sequence_call(
    cell: str, x, w_ih, w_hh, b_ih, b_hh, h0, c0=None, *, peephole=None, seq_lengths=None,
    reverse=False, clip=None, activations_=None, linear_before_reset=True, keep_tape=False,
) -> Call:
    """Validate the arguments of lstm / gru / rnn."""
    dtype, xa, (T, B, I) = sequence_input(x)
    G = GATES[cell]
    s_ih, s_hh, s_b = _SPECS[cell]
    whh = matrix(w_hh, "w_hh", dtype, s_hh)
    H = int(whh.shape[1])
    call = Call(
        cell=cell, dtype=dtype, T=T, B=B, I=I, H=H,
        x=c_array(xa, dtype),
        w_ih=shaped(w_ih, "w_ih", dtype, (G * H, I), s_ih),
        w_hh=shaped(whh, "w_hh", dtype, (G * H, H), s_hh),
        b_ih=optional(b_ih, "b_ih", dtype, (G * H,), s_b),
        b_hh=optional(b_hh, "b_hh", dtype, (G * H,), s_b),
        h0=optional(h0, "h0", dtype, (B, H), "(B, H)"),
        c0=optional(c0, "c0", dtype, (B, H), "(B, H)"),
        peephole=optional(peephole, "peephole", dtype, (3, H), "(3, H)"),
        seq_lengths=lengths(seq_lengths, T, B),
        reverse=flag(reverse, "reverse"),
        clip=clip_value(clip),
        acts=activations_ if cell == "rnn" else activations(activations_, cell),
        linear_before_reset=flag(linear_before_reset, "linear_before_reset"),
        keep_tape=flag(keep_tape, "keep_tape"),
    )
    return call


def upstream(call_shape: Tuple[int, int, int, int], dtype: np.dtype, dy, dh_n, dc_n=None):
    """Validate the gradients handed to a backward: dy (T, B, H), dh_n and dc_n (B, H)."""
    T, B, _, H = call_shape
    return (
        optional(dy, "dy", dtype, (T, B, H), "(T, B, H)", ref="the forward's x"),
        optional(dh_n, "dh_n", dtype, (B, H), "(B, H)", ref="the forward's x"),
        optional(dc_n, "dc_n", dtype, (B, H), "(B, H)", ref="the forward's x"),
    )


def cell_state(a, name: str, dtype: np.dtype, B: int, w_hh) -> np.ndarray:
    """A single-step state (h or c) of shape (B, H), H read from w_hh."""
    if type(a) is np.ndarray and type(w_hh) is np.ndarray and a.dtype == dtype \
            and a.ndim == 2 and w_hh.ndim == 2 and a.shape == (B, w_hh.shape[1]):
        return a
    H = as_array(w_hh, "w_hh").shape[-1] if np.ndim(w_hh) == 2 else None
    arr = same_dtype(a, name, dtype)
    if arr.ndim != 2 or arr.shape[0] != B or (H is not None and arr.shape[1] != H):
        want = f"(B, H) = ({B}, {H})" if H is not None else f"(B, H) with B = {B}"
        raise ValueError(f"{name}: expected shape {want}, got {arr.shape}")
    return arr


def cell_input(x) -> np.ndarray:
    """A single-step x (B, I), as a (1, B, I) sequence of one step."""
    dtype = call_dtype(x)
    xa = same_dtype(x, "x", dtype)
    if xa.ndim != 2:
        raise ValueError(f"x: expected a 2-D array of shape (B, I), got shape {xa.shape}")
    return xa[None]


@dataclass
class JordanCall:
    """A validated Jordan network call."""

    dtype: np.dtype
    T: int
    B: int
    I: int
    H: int
    O: int
    x: np.ndarray
    w_ih: np.ndarray
    w_yh: np.ndarray
    w_ho: np.ndarray
    b_h: Optional[np.ndarray]
    b_o: Optional[np.ndarray]
    y0: Optional[np.ndarray]
    seq_lengths: Optional[np.ndarray]
    act_h: str
    act_o: str
    keep_tape: bool


def jordan_call(x, w_ih, w_yh, w_ho, b_h, b_o, y0, *, seq_lengths, hidden_activation,
                output_activation, keep_tape) -> JordanCall:
    """Validate the arguments of jordan: x (T, B, I), w_ih (H, I), w_yh (H, O),
    w_ho (O, H), b_h (H,), b_o (O,), y0 (B, O)."""
    dtype, xa, (T, B, I) = sequence_input(x)
    who = matrix(w_ho, "w_ho", dtype, "(O, H)")
    O, H = (int(s) for s in who.shape)
    return JordanCall(
        dtype=dtype, T=T, B=B, I=I, H=H, O=O, x=c_array(xa, dtype),
        w_ih=shaped(w_ih, "w_ih", dtype, (H, I), "(H, I)"),
        w_yh=shaped(w_yh, "w_yh", dtype, (H, O), "(H, O)"),
        w_ho=c_array(who, dtype),
        b_h=optional(b_h, "b_h", dtype, (H,), "(H,)"),
        b_o=optional(b_o, "b_o", dtype, (O,), "(O,)"),
        y0=optional(y0, "y0", dtype, (B, O), "(B, O)"),
        seq_lengths=lengths(seq_lengths, T, B),
        act_h=activation(hidden_activation, "hidden_activation"),
        act_o=activation(output_activation, "output_activation"),
        keep_tape=flag(keep_tape, "keep_tape"),
    )


def jordan_upstream(c: JordanCall, dy, dy_n):
    """Validate the gradients handed to jordan_backward: dy (T, B, O), dy_n (B, O)."""
    return (optional(dy, "dy", c.dtype, (c.T, c.B, c.O), "(T, B, O)", ref="the forward's x"),
            optional(dy_n, "dy_n", c.dtype, (c.B, c.O), "(B, O)", ref="the forward's x"))


def tape_of(out: Any, cell: str, fname: str, kind: type):
    """The tape of a forward result, or a TypeError/ValueError naming `out`.
    kind is the implementation's tape class (fast path or oracle)."""
    if not isinstance(out, SequenceOutput):
        raise TypeError(f"out: expected the result of rnnfast.{cell}(..., keep_tape=True), "
                        f"got {type(out).__name__}")
    tape = out._tape
    if tape is None:
        raise ValueError(f"out: {fname} needs a tape; call rnnfast.{cell}(..., keep_tape=True)")
    if not isinstance(tape, kind) or getattr(tape.call, "cell", "jordan") != cell:
        raise TypeError(f"out: expected the result of rnnfast.{cell}(..., keep_tape=True)")
    return tape
