"""Functional API: one layer, one direction, a whole sequence.

Shapes (time-major): x (T, B, I); weights in PyTorch's layout, w_ih (G*H, I),
w_hh (G*H, H), biases (G*H,), with G = 4 (LSTM, gates i, f, g, o), 3 (GRU,
gates r, z, n) or 1 (RNN); states (B, H). The dtype (float32 or float64) is
x's; every array must share it.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from . import _checks, _kernels, _packs, _tapes, _threads
from ._types import Gradients, JordanGradients, SequenceOutput

__all__ = ["lstm", "gru", "rnn", "lstm_backward", "gru_backward", "rnn_backward", "jordan",
           "jordan_backward"]


class _Tape:
    """What backward needs from a training forward. By default it holds its
    own copies of x (padded steps zeroed, so NaN there cannot reach the weight
    gradients) and of the weights, so later changes to the caller's arrays
    cannot skew it. Layers hand over arrays nobody else writes to (their
    read-only weight snapshots, their own intermediate outputs, which are
    already zero at padded steps) and skip the copies."""

    __slots__ = ("call", "raw", "packed")

    def __init__(self, call, raw: np.ndarray, copy_x: bool = True,
                 copy_w: bool = True, packed: Optional[np.ndarray] = None):
        if copy_x:  # a recycled buffer: a fresh one faulted in every page (_tapes)
            x = _tapes.array(call.x.shape, call.x.dtype, "tape")
            np.copyto(x, call.x)
            if call.seq_lengths is not None:
                x[np.arange(call.T)[:, None] >= call.seq_lengths[None, :]] = 0
            call.x = x
        if copy_w:
            for name in ("w_ih", "w_hh", "w_yh", "w_ho", "peephole"):
                v = getattr(call, name, None)
                if v is not None:
                    setattr(call, name, v.copy())
        self.call, self.raw, self.packed = call, raw, packed


_codes_of: dict = {}  # activation names -> the kernels' three codes, made once per tuple


def _act_codes(acts: Sequence[str]) -> tuple:
    key = tuple(acts)
    codes = _codes_of.get(key)
    if codes is None:
        codes = tuple(_kernels.ACT_CODES[a] for a in key)
        codes += (_kernels.ACT_CODES["tanh"],) * (3 - len(codes))
        _codes_of[key] = codes
    return codes


def _run(c: _checks.Call, x: np.ndarray, h0, c0, seq_lengths, packed: np.ndarray,
         nthreads: int, verify) -> tuple:
    """The kernel call of c's weights and options on the arrays given (c's
    own, from _forward; a layer's later calls pass theirs with the Call it
    kept, rnnfast.layers). Returns _kernels.forward's tuple."""
    return _kernels.forward(
        c.cell, x, c.w_ih, c.w_hh, c.b_ih, c.b_hh, h0, c0 if c.cell == "lstm" else None,
        c.peephole, seq_lengths, reverse=c.reverse, clip=c.clip, acts=_act_codes(c.acts),
        lbr=c.linear_before_reset, training=c.keep_tape, nthreads=nthreads, packed=packed,
        verify=verify)


def _forward(c: _checks.Call, copy_x: bool = True, copy_w: bool = True,
             packed: Optional[np.ndarray] = None, nthreads: Optional[int] = None,
             verify=None) -> SequenceOutput:
    """Run a validated call. packed: the weights as _kernels.pack made them
    (packed for training when c.keep_tape), kept by the tape for backward;
    None: the panels _packs keeps for c's weights, or the call packs.
    nthreads: None for the current setting (_threads.for_call()). verify:
    None, or (snapshots, live arrays) that the kernel compares while it runs
    (_kernels.forward); then returns (output, stale bits)."""
    if packed is None:
        packed, c.w_ih, c.w_hh = _packs.prepared(c)
    y, h_n, c_n, raw, stale = _run(c, c.x, c.h0, c.c0, c.seq_lengths, packed,
                                   nthreads or _threads.for_call(), verify)
    tape = _Tape(c, raw, copy_x, copy_w, packed) if c.keep_tape else None
    out = SequenceOutput(y, h_n, c_n, tape)
    return out if verify is None else (out, stale)


def _backward(out, cell: str, fname: str, dy, dh_n, dc_n=None,
              nthreads: Optional[int] = None) -> Gradients:
    tape = _checks.tape_of(out, cell, fname, _Tape)
    c = tape.call
    dy, dh_n, dc_n = _checks.upstream((c.T, c.B, c.I, c.H), c.dtype, dy, dh_n, dc_n)
    dx, dw_ih, dw_hh, db_ih, db_hh, dh0, dc0, dpeep = _kernels.backward(
        cell, c.x, c.w_ih, c.w_hh, c.peephole, c.seq_lengths, dy, dh_n, dc_n, tape.raw,
        reverse=c.reverse, clip=c.clip, acts=_act_codes(c.acts), lbr=c.linear_before_reset,
        nthreads=nthreads or _threads.for_call(), packed=tape.packed,
    )
    return Gradients(
        dx=dx, dw_ih=dw_ih, dw_hh=dw_hh,
        db_ih=db_ih if c.b_ih is not None else None,
        db_hh=db_hh if c.b_hh is not None else None,
        dh0=dh0, dc0=dc0, dpeephole=dpeep,
    )


def lstm(x, w_ih, w_hh, b_ih=None, b_hh=None, h0=None, c0=None, *,
         peephole=None, seq_lengths=None, reverse: bool = False, clip: Optional[float] = None,
         activations: Sequence[str] = ("sigmoid", "tanh", "tanh"),
         keep_tape: bool = False) -> SequenceOutput:
    """LSTM over a whole sequence.

    x (T, B, I); w_ih (4H, I); w_hh (4H, H); b_ih, b_hh (4H,) or None; h0, c0
    (B, H) or None (zeros); peephole (3, H) rows i, f, o, or None;
    seq_lengths (B,) integers in [0, T] or None; reverse reads each sequence
    backwards from its last valid step; clip > 0 clamps gate pre-activations;
    activations (f, g, h). Returns ``y, h_n, c_n``: y (T, B, H), h_n and c_n
    (B, H). keep_tape=True keeps what lstm_backward needs.
    """
    c = _checks.sequence_call("lstm", x, w_ih, w_hh, b_ih, b_hh, h0, c0, peephole=peephole,
                              seq_lengths=seq_lengths, reverse=reverse, clip=clip,
                              activations_=activations, keep_tape=keep_tape)
    return _forward(c)


def gru(x, w_ih, w_hh, b_ih=None, b_hh=None, h0=None, *, linear_before_reset: bool = True,
        seq_lengths=None, reverse: bool = False, clip: Optional[float] = None,
        activations: Sequence[str] = ("sigmoid", "tanh"),
        keep_tape: bool = False) -> SequenceOutput:
    """GRU over a whole sequence.

    x (T, B, I); w_ih (3H, I); w_hh (3H, H); b_ih, b_hh (3H,) or None; h0
    (B, H) or None. linear_before_reset=True is PyTorch's form
    (n = g(W_n x + b_in + r * (U_n h + b_hn))); False is the original form
    (n = g(W_n x + b_in + U_n (r * h) + b_hn)). activations (f, g).
    Returns ``y, h_n``: y (T, B, H), h_n (B, H).
    """
    c = _checks.sequence_call("gru", x, w_ih, w_hh, b_ih, b_hh, h0, seq_lengths=seq_lengths,
                              reverse=reverse, clip=clip, activations_=activations,
                              linear_before_reset=linear_before_reset, keep_tape=keep_tape)
    return _forward(c)


def rnn(x, w_ih, w_hh, b_ih=None, b_hh=None, h0=None, *, nonlinearity: str = "tanh",
        seq_lengths=None, reverse: bool = False, keep_tape: bool = False) -> SequenceOutput:
    """Elman RNN over a whole sequence: h' = act(W x + b_ih + U h + b_hh).

    x (T, B, I); w_ih (H, I); w_hh (H, H); b_ih, b_hh (H,) or None; h0 (B, H)
    or None; nonlinearity one of tanh, relu, identity, sigmoid, hard_sigmoid.
    Returns ``y, h_n``: y (T, B, H), h_n (B, H).
    """
    act = (_checks.activation(nonlinearity, "nonlinearity"),)
    c = _checks.sequence_call("rnn", x, w_ih, w_hh, b_ih, b_hh, h0, seq_lengths=seq_lengths,
                              reverse=reverse, activations_=act, keep_tape=keep_tape)
    return _forward(c)


def lstm_backward(out: SequenceOutput, dy=None, dh_n=None, dc_n=None) -> Gradients:
    """Backward through time for an lstm(..., keep_tape=True) result.

    dy (T, B, H), dh_n and dc_n (B, H); None means zero; dy at padded steps is
    ignored. Returns Gradients (dx, dw_ih, dw_hh, db_ih, db_hh, dh0, dc0,
    dpeephole), each shaped like its input. The tape can be used again.
    """
    return _backward(out, "lstm", "lstm_backward", dy, dh_n, dc_n)


def gru_backward(out: SequenceOutput, dy=None, dh_n=None) -> Gradients:
    """Backward through time for a gru(..., keep_tape=True) result.

    dy (T, B, H), dh_n (B, H); None means zero. Returns Gradients (dx, dw_ih,
    dw_hh, db_ih, db_hh, dh0)."""
    return _backward(out, "gru", "gru_backward", dy, dh_n)


def rnn_backward(out: SequenceOutput, dy=None, dh_n=None) -> Gradients:
    """Backward through time for an rnn(..., keep_tape=True) result.

    dy (T, B, H), dh_n (B, H); None means zero. Returns Gradients (dx, dw_ih,
    dw_hh, db_ih, db_hh, dh0)."""
    return _backward(out, "rnn", "rnn_backward", dy, dh_n)


def jordan(x, w_ih, w_yh, w_ho, b_h=None, b_o=None, y0=None, *, seq_lengths=None,
           hidden_activation: str = "tanh", output_activation: str = "identity",
           keep_tape: bool = False) -> SequenceOutput:
    """Jordan network over a whole sequence: the output is fed back.

        h_t = act_h(w_ih x_t + w_yh y_{t-1} + b_h),  y_t = act_o(w_ho h_t + b_o)

    x (T, B, I); w_ih (H, I); w_yh (H, O); w_ho (O, H); b_h (H,), b_o (O,)
    or None; y0 (B, O) or None (zeros); seq_lengths (B,) or None. Returns
    ``y, y_n``: y (T, B, O), zero at padded steps; y_n (B, O), each row's last
    output (also ``out.h_n``). keep_tape=True keeps what jordan_backward needs.
    """
    c = _checks.jordan_call(x, w_ih, w_yh, w_ho, b_h, b_o, y0, seq_lengths=seq_lengths,
                            hidden_activation=hidden_activation,
                            output_activation=output_activation, keep_tape=keep_tape)
    return _jordan_forward(c)


def _jordan_forward(c: _checks.JordanCall, copy_x: bool = True, copy_w: bool = True):
    codes = _kernels.ACT_CODES
    y, y_n, raw = _kernels.jordan_forward(
        c.x, c.w_ih, c.w_yh, c.b_h, c.w_ho, c.b_o, c.y0, c.seq_lengths, act_h=codes[c.act_h],
        act_o=codes[c.act_o], training=c.keep_tape, nthreads=_threads.for_call())
    tape = _Tape(c, raw, copy_x, copy_w) if c.keep_tape else None
    return SequenceOutput(y, y_n, None, tape)


def jordan_backward(out: SequenceOutput, dy=None, dy_n=None) -> JordanGradients:
    """Backward through time for a jordan(..., keep_tape=True) result.

    dy (T, B, O), dy_n (B, O); None means zero; dy at padded steps is
    ignored. Returns JordanGradients (dx, dw_ih, dw_yh, dw_ho, db_h, db_o,
    dy0), each shaped like its input."""
    c = _checks.tape_of(out, "jordan", "jordan_backward", _Tape).call
    dy, dy_n = _checks.jordan_upstream(c, dy, dy_n)
    codes = _kernels.ACT_CODES
    dx, dw_ih, dw_yh, db_h, dw_ho, db_o, dy0 = _kernels.jordan_backward(
        c.x, c.w_ih, c.w_yh, c.w_ho, c.seq_lengths, dy, dy_n, out._tape.raw,
        act_h=codes[c.act_h], act_o=codes[c.act_o], nthreads=_threads.for_call())
    return JordanGradients(dx=dx, dw_ih=dw_ih, dw_yh=dw_yh, dw_ho=dw_ho,
                           db_h=db_h if c.b_h is not None else None,
                           db_o=db_o if c.b_o is not None else None, dy0=dy0)
