"""The slow NumPy oracle: forward and backward written straight from the
equations of API.md, in float64, one sequence and one step at a time.

It shares no arithmetic with the fast path (only the argument checks, so both
reject the same inputs with the same errors). Results are float64 whatever
the input dtype. Tests hold the C kernels to it. (The tests also run it in
extended precision, through _REAL, to measure its own rounding error.)

Notation per step, for one sequence: x (I,), h and c (H,); "a_*" are gate
pre-activations before clipping, as in API.md.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from . import _checks
from ._types import Gradients, JordanGradients, SequenceOutput

__all__ = ["lstm", "gru", "rnn", "lstm_backward", "gru_backward", "rnn_backward", "jordan",
           "jordan_backward",
           "activation", "activation_grad"]


def activation(name: str, a: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-a))
    if name == "hard_sigmoid":
        return np.clip(0.2 * a + 0.5, 0.0, 1.0)
    if name == "tanh":
        return np.tanh(a)
    if name == "relu":
        return np.maximum(a, 0.0)
    if name == "identity":
        return a
    raise ValueError(name)


def activation_grad(name: str, a: np.ndarray) -> np.ndarray:
    """d activation(a) / d a, in forms that keep their relative precision where
    the activation saturates (s (1 - s) and 1 - tanh^2 lose it there)."""
    if name == "sigmoid":
        e = np.exp(-np.abs(a))
        return e / (1.0 + e) ** 2
    if name == "hard_sigmoid":
        return np.where((0.2 * a + 0.5 > 0.0) & (0.2 * a + 0.5 < 1.0), 0.2, 0.0)
    if name == "tanh":
        return 1.0 / np.cosh(a) ** 2  # sech^2
    if name == "relu":
        return np.where(a > 0.0, 1.0, 0.0)
    if name == "identity":
        return np.ones_like(a)
    raise ValueError(name)


def _clipped(a, clip):
    return np.clip(a, -clip, clip) if clip > 0 else a


def _gate(name, a, clip):
    return activation(name, _clipped(a, clip))


def _gate_grad(name, a, clip):
    """Gradient of act(clip(a)): zero where clip clamps."""
    g = activation_grad(name, _clipped(a, clip))
    return np.where((a > clip) | (a < -clip), 0.0, g) if clip > 0 else g


# The working precision: float64; tests set np.longdouble for a while
# (tests/conftest.py, extended) to see how far float64 rounding moved an answer.
_REAL = np.float64


def _real(a: Optional[np.ndarray], shape) -> np.ndarray:
    """a (or zeros of shape for None) in the working precision"""
    return _zeros(shape) if a is None else np.asarray(a, dtype=_REAL)


def _zeros(shape) -> np.ndarray:
    return np.zeros(shape, dtype=_REAL)


def _steps(c: _checks.Call, b: int):
    """Time indices sequence b processes, in order."""
    L = c.T if c.seq_lengths is None else int(c.seq_lengths[b])
    return list(reversed(range(L))) if c.reverse else list(range(L))


class _OracleTape:
    """Per (b, t) what the forward saw, for the backward."""

    def __init__(self, call, params):
        self.call, self.params, self.steps = call, params, {}


def _params(c: _checks.Call):
    G = _checks.GATES[c.cell]
    return dict(
        W=_real(c.w_ih, (G * c.H, c.I)), U=_real(c.w_hh, (G * c.H, c.H)),
        bi=_real(c.b_ih, (G * c.H,)), bh=_real(c.b_hh, (G * c.H,)),
        P=_real(c.peephole, (3, c.H)) if c.peephole is not None else None,
        x=_real(c.x, None),
        h0=_real(c.h0, (c.B, c.H)), c0=_real(c.c0, (c.B, c.H)),
    )


# ------------------------------------------------------------------ LSTM

def lstm(x, w_ih, w_hh, b_ih=None, b_hh=None, h0=None, c0=None, *, peephole=None,
         seq_lengths=None, reverse=False, clip=None,
         activations: Sequence[str] = ("sigmoid", "tanh", "tanh"), keep_tape=False):
    c = _checks.sequence_call("lstm", x, w_ih, w_hh, b_ih, b_hh, h0, c0, peephole=peephole,
                              seq_lengths=seq_lengths, reverse=reverse, clip=clip,
                              activations_=activations, keep_tape=keep_tape)
    p = _params(c)
    fa, ga, ha = c.acts
    H = c.H
    tape = _OracleTape(c, p)
    y = _zeros((c.T, c.B, H))
    h_n, c_n = p["h0"].copy(), p["c0"].copy()
    for b in range(c.B):
        h, cell = p["h0"][b], p["c0"][b]
        for t in _steps(c, b):
            a = p["W"] @ p["x"][t, b] + p["bi"] + p["U"] @ h + p["bh"]
            a_i, a_f, a_g, a_o = a[:H].copy(), a[H:2 * H].copy(), a[2 * H:3 * H], a[3 * H:].copy()
            if p["P"] is not None:
                a_i += p["P"][0] * cell
                a_f += p["P"][1] * cell
            i = _gate(fa, a_i, c.clip)
            f = _gate(fa, a_f, c.clip)
            g = _gate(ga, a_g, c.clip)
            c_new = f * cell + i * g
            if p["P"] is not None:
                a_o += p["P"][2] * c_new
            o = _gate(fa, a_o, c.clip)
            h_new = o * activation(ha, c_new)
            tape.steps[b, t] = dict(h=h, c=cell, a_i=a_i, a_f=a_f, a_g=a_g, a_o=a_o,
                                    i=i, f=f, g=g, o=o, c_new=c_new)
            h, cell = h_new, c_new
            y[t, b] = h
        h_n[b], c_n[b] = h, cell
    return SequenceOutput(y, h_n, c_n, tape if c.keep_tape else None)


def lstm_backward(out, dy=None, dh_n=None, dc_n=None) -> Gradients:
    tape = _tape_of(out, "lstm")
    c, p = tape.call, tape.params
    fa, ga, ha = c.acts
    dy, dh_n, dc_n = _upstream(c, dy, dh_n, dc_n)
    gr = _zero_grads(c, p)
    dP = _zeros((3, c.H))
    for b in range(c.B):
        dh, dc = dh_n[b].copy(), dc_n[b].copy()
        for t in reversed(_steps(c, b)):
            s = tape.steps[b, t]
            dh = dh + dy[t, b]
            d_o = dh * activation(ha, s["c_new"])
            da_o = d_o * _gate_grad(fa, s["a_o"], c.clip)
            dc_new = dc + dh * s["o"] * activation_grad(ha, s["c_new"])
            if p["P"] is not None:
                dc_new = dc_new + p["P"][2] * da_o
            da_i = dc_new * s["g"] * _gate_grad(fa, s["a_i"], c.clip)
            da_f = dc_new * s["c"] * _gate_grad(fa, s["a_f"], c.clip)
            da_g = dc_new * s["i"] * _gate_grad(ga, s["a_g"], c.clip)
            dc = dc_new * s["f"]
            if p["P"] is not None:
                dc = dc + p["P"][0] * da_i + p["P"][1] * da_f
                dP[0] += da_i * s["c"]
                dP[1] += da_f * s["c"]
                dP[2] += da_o * s["c_new"]
            da = np.concatenate([da_i, da_f, da_g, da_o])
            dh = _accumulate(gr, p, b, t, da, da, s["h"])
        gr.dh0[b], gr.dc0[b] = dh, dc
    gr.dpeephole = dP if p["P"] is not None else None
    return _finish(gr, c)


# ------------------------------------------------------------------ GRU

def gru(x, w_ih, w_hh, b_ih=None, b_hh=None, h0=None, *, linear_before_reset=True,
        seq_lengths=None, reverse=False, clip=None,
        activations: Sequence[str] = ("sigmoid", "tanh"), keep_tape=False):
    c = _checks.sequence_call("gru", x, w_ih, w_hh, b_ih, b_hh, h0, seq_lengths=seq_lengths,
                              reverse=reverse, clip=clip, activations_=activations,
                              linear_before_reset=linear_before_reset, keep_tape=keep_tape)
    p = _params(c)
    fa, ga = c.acts
    H = c.H
    W, U, bi, bh = p["W"], p["U"], p["bi"], p["bh"]
    tape = _OracleTape(c, p)
    y = _zeros((c.T, c.B, H))
    h_n = p["h0"].copy()
    for b in range(c.B):
        h = p["h0"][b]
        for t in _steps(c, b):
            xt = p["x"][t, b]
            a_r = W[:H] @ xt + bi[:H] + U[:H] @ h + bh[:H]
            a_z = W[H:2 * H] @ xt + bi[H:2 * H] + U[H:2 * H] @ h + bh[H:2 * H]
            r = _gate(fa, a_r, c.clip)
            z = _gate(fa, a_z, c.clip)
            if c.linear_before_reset:
                hn = U[2 * H:] @ h + bh[2 * H:]
                a_n = W[2 * H:] @ xt + bi[2 * H:] + r * hn
            else:
                hn = None
                a_n = W[2 * H:] @ xt + bi[2 * H:] + U[2 * H:] @ (r * h) + bh[2 * H:]
            n = _gate(ga, a_n, c.clip)
            h_new = (1.0 - z) * n + z * h
            tape.steps[b, t] = dict(h=h, a_r=a_r, a_z=a_z, a_n=a_n, r=r, z=z, n=n, hn=hn)
            h = h_new
            y[t, b] = h
        h_n[b] = h
    return SequenceOutput(y, h_n, None, tape if c.keep_tape else None)


def gru_backward(out, dy=None, dh_n=None) -> Gradients:
    tape = _tape_of(out, "gru")
    c, p = tape.call, tape.params
    fa, ga = c.acts
    H = c.H
    U = p["U"]
    dy, dh_n, _ = _upstream(c, dy, dh_n, None)
    gr = _zero_grads(c, p)
    for b in range(c.B):
        dh = dh_n[b].copy()
        for t in reversed(_steps(c, b)):
            s = tape.steps[b, t]
            dh = dh + dy[t, b]
            dn = dh * (1.0 - s["z"])
            dz = dh * (s["h"] - s["n"])
            da_n = dn * _gate_grad(ga, s["a_n"], c.clip)
            da_z = dz * _gate_grad(fa, s["a_z"], c.clip)
            if c.linear_before_reset:
                dr = da_n * s["hn"]
                da_r = dr * _gate_grad(fa, s["a_r"], c.clip)
                da_x = np.concatenate([da_r, da_z, da_n])
                da_h = np.concatenate([da_r, da_z, da_n * s["r"]])
                dh = _accumulate(gr, p, b, t, da_x, da_h, s["h"]) + dh * s["z"]
            else:
                d_rh = U[2 * H:].T @ da_n
                da_r = d_rh * s["h"] * _gate_grad(fa, s["a_r"], c.clip)
                da = np.concatenate([da_r, da_z, da_n])
                rh = s["r"] * s["h"]
                gr.dx[t, b] += p["W"].T @ da
                gr.dw_ih += np.outer(da, p["x"][t, b])
                gr.dw_hh[:2 * H] += np.outer(da[:2 * H], s["h"])
                gr.dw_hh[2 * H:] += np.outer(da_n, rh)
                gr.db_ih += da
                gr.db_hh += da
                dh = U[:2 * H].T @ da[:2 * H] + d_rh * s["r"] + dh * s["z"]
        gr.dh0[b] = dh
    return _finish(gr, c)


# ------------------------------------------------------------------ RNN

def rnn(x, w_ih, w_hh, b_ih=None, b_hh=None, h0=None, *, nonlinearity="tanh",
        seq_lengths=None, reverse=False, keep_tape=False):
    act = (_checks.activation(nonlinearity, "nonlinearity"),)
    c = _checks.sequence_call("rnn", x, w_ih, w_hh, b_ih, b_hh, h0, seq_lengths=seq_lengths,
                              reverse=reverse, activations_=act, keep_tape=keep_tape)
    p = _params(c)
    tape = _OracleTape(c, p)
    y = _zeros((c.T, c.B, c.H))
    h_n = p["h0"].copy()
    for b in range(c.B):
        h = p["h0"][b]
        for t in _steps(c, b):
            a = p["W"] @ p["x"][t, b] + p["bi"] + p["U"] @ h + p["bh"]
            tape.steps[b, t] = dict(h=h, a=a)
            h = activation(act[0], a)
            y[t, b] = h
        h_n[b] = h
    return SequenceOutput(y, h_n, None, tape if c.keep_tape else None)


def rnn_backward(out, dy=None, dh_n=None) -> Gradients:
    tape = _tape_of(out, "rnn")
    c, p = tape.call, tape.params
    dy, dh_n, _ = _upstream(c, dy, dh_n, None)
    gr = _zero_grads(c, p)
    for b in range(c.B):
        dh = dh_n[b].copy()
        for t in reversed(_steps(c, b)):
            s = tape.steps[b, t]
            da = (dh + dy[t, b]) * activation_grad(c.acts[0], s["a"])
            dh = _accumulate(gr, p, b, t, da, da, s["h"])
        gr.dh0[b] = dh
    return _finish(gr, c)


# ------------------------------------------------------------------ Jordan

def jordan(x, w_ih, w_yh, w_ho, b_h=None, b_o=None, y0=None, *, seq_lengths=None,
           hidden_activation="tanh", output_activation="identity", keep_tape=False):
    c = _checks.jordan_call(x, w_ih, w_yh, w_ho, b_h, b_o, y0, seq_lengths=seq_lengths,
                            hidden_activation=hidden_activation,
                            output_activation=output_activation, keep_tape=keep_tape)
    p = dict(W=_real(c.w_ih, None), U=_real(c.w_yh, None), V=_real(c.w_ho, None),
             bh=_real(c.b_h, (c.H,)), bo=_real(c.b_o, (c.O,)), y0=_real(c.y0, (c.B, c.O)),
             x=_real(c.x, None))
    tape = _OracleTape(c, p)
    y = _zeros((c.T, c.B, c.O))
    y_n = p["y0"].copy()
    for b in range(c.B):
        y_prev = p["y0"][b]
        L = c.T if c.seq_lengths is None else int(c.seq_lengths[b])
        for t in range(L):
            a = p["W"] @ p["x"][t, b] + p["U"] @ y_prev + p["bh"]
            h = activation(c.act_h, a)
            o = p["V"] @ h + p["bo"]
            tape.steps[b, t] = dict(a=a, h=h, o=o, y_prev=y_prev)
            y_prev = activation(c.act_o, o)
            y[t, b] = y_prev
        y_n[b] = y_prev
    return SequenceOutput(y, y_n, None, tape if c.keep_tape else None)


def jordan_backward(out, dy=None, dy_n=None) -> JordanGradients:
    tape = _tape_of(out, "jordan")
    c, p = tape.call, tape.params
    dy, dy_n = _checks.jordan_upstream(c, dy, dy_n)
    dy, dy_n = _real(dy, (c.T, c.B, c.O)), _real(dy_n, (c.B, c.O))
    g = JordanGradients(dx=_zeros((c.T, c.B, c.I)), dw_ih=np.zeros_like(p["W"]),
                        dw_yh=np.zeros_like(p["U"]), dw_ho=np.zeros_like(p["V"]),
                        db_h=_zeros(c.H), db_o=_zeros(c.O), dy0=_zeros((c.B, c.O)))
    for b in range(c.B):
        d_y = dy_n[b].copy()  # gradient reaching y_t from later steps
        L = c.T if c.seq_lengths is None else int(c.seq_lengths[b])
        for t in reversed(range(L)):
            s = tape.steps[b, t]
            do = (d_y + dy[t, b]) * activation_grad(c.act_o, s["o"])
            da = (p["V"].T @ do) * activation_grad(c.act_h, s["a"])
            g.dw_ho += np.outer(do, s["h"])
            g.db_o += do
            g.dw_ih += np.outer(da, p["x"][t, b])
            g.dw_yh += np.outer(da, s["y_prev"])
            g.db_h += da
            g.dx[t, b] = p["W"].T @ da
            d_y = p["U"].T @ da
        g.dy0[b] = d_y
    if c.b_h is None:
        g.db_h = None
    if c.b_o is None:
        g.db_o = None
    return g


# ------------------------------------------------------------------ shared by the oracle

def _tape_of(out, cell):
    return _checks.tape_of(out, cell, f"{cell}_backward", _OracleTape)


def _upstream(c, dy, dh_n, dc_n):
    dy, dh_n, dc_n = _checks.upstream((c.T, c.B, c.I, c.H), c.dtype, dy, dh_n, dc_n)
    return (_real(dy, (c.T, c.B, c.H)), _real(dh_n, (c.B, c.H)), _real(dc_n, (c.B, c.H)))


def _zero_grads(c, p):
    return Gradients(dx=_zeros((c.T, c.B, c.I)), dw_ih=np.zeros_like(p["W"]),
                     dw_hh=np.zeros_like(p["U"]), db_ih=np.zeros_like(p["bi"]),
                     db_hh=np.zeros_like(p["bh"]), dh0=_zeros((c.B, c.H)),
                     dc0=_zeros((c.B, c.H)) if c.cell == "lstm" else None)


def _accumulate(gr, p, b, t, da_x, da_h, h_prev):
    """Add one step's weight gradients; return the gradient reaching h_prev
    through U (da_x: input-side pre-activations, da_h: recurrent side)."""
    gr.dx[t, b] += p["W"].T @ da_x
    gr.dw_ih += np.outer(da_x, p["x"][t, b])
    gr.dw_hh += np.outer(da_h, h_prev)
    gr.db_ih += da_x
    gr.db_hh += da_h
    return p["U"].T @ da_h


def _finish(gr, c):
    if c.b_ih is None:
        gr.db_ih = None
    if c.b_hh is None:
        gr.db_hh = None
    return gr
