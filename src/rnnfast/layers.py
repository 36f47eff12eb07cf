"""Stacked, bidirectional, trainable LSTM, GRU and Elman RNN layers.

Parameter names, shapes and initialisation are PyTorch's, so the state_dict
of a torch ``nn.LSTM``, ``nn.GRU`` or ``nn.RNN`` loads as it is. Each layer
and direction is one call of the sequence kernels (rnnfast.lstm, gru, rnn).

Shapes (time-major; batch_first=True swaps T and B in x, y, dy and dx):
x (T, B, I); y (T, B, D*H) with D = 2 when bidirectional, the forward
direction's half first; h_n, c_n and hx (num_layers*D, B, H), row l*D + d
for layer l and direction d.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from . import _checks, _kernels, _threads, functional
from ._module import Module, as_float, checked, positive_int
from ._types import SequenceOutput

__all__ = ["LSTM", "GRU", "RNN", "JordanRNN"]

_NAMES: dict = {}  # (layer, direction, bias, peephole) -> the parameters' names, made once


class _Recurrent(Module):
    _cell = ""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 bias: bool = True, batch_first: bool = False, bidirectional: bool = False,
                 dropout: float = 0.0, dtype: Any = np.float32, seed: Optional[int] = None,
                 peephole: bool = False):
        super().__init__(dtype, seed)
        self.input_size = positive_int(input_size, "input_size")
        self.hidden_size = positive_int(hidden_size, "hidden_size")
        self.num_layers = positive_int(num_layers, "num_layers")
        self.bias = _checks.flag(bias, "bias")
        self.batch_first = _checks.flag(batch_first, "batch_first")
        self.bidirectional = _checks.flag(bidirectional, "bidirectional")
        if isinstance(dropout, (bool, np.bool_)) or not isinstance(dropout, numbers.Real) \
                or not 0 <= dropout <= 1:
            raise ValueError(f"dropout: expected a number in [0, 1], got {dropout!r}")
        self.dropout = float(dropout)
        self.peephole = _checks.flag(peephole, "peephole")
        H, G, D = self.hidden_size, _checks.GATES[self._cell], self.num_directions
        bound = 1.0 / math.sqrt(H)
        for l in range(self.num_layers):
            for d in range(D):
                sfx = self._suffix(l, d)
                I = self.input_size if l == 0 else D * H
                self._add(f"weight_ih{sfx}", (G * H, I), bound)
                self._add(f"weight_hh{sfx}", (G * H, H), bound)
                if self.bias:
                    self._add(f"bias_ih{sfx}", (G * H,), bound)
                    self._add(f"bias_hh{sfx}", (G * H,), bound)
                if self.peephole:
                    self._add(f"peephole{sfx}", (3, H), bound)
        self.dhx = None

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @staticmethod
    def _suffix(l: int, d: int) -> str:
        return f"_l{l}" + ("_reverse" if d == 1 else "")

    def _weights(self, l: int, d: int, trust: bool = False) -> tuple:
        """Snapshots of layer l, direction d's w_ih, w_hh, b_ih, b_hh and
        peephole (None for those the layer has not), compared in one call,
        and None; or, with trust and all of them kept, the kept ones
        uncompared and what the kernel is to compare while it runs (the
        snapshots and the live arrays, _kernels.forward's verify)."""
        key = (l, d, self.bias, self.peephole)
        names = _NAMES.get(key)
        if names is None:
            sfx = self._suffix(l, d)
            names = _NAMES[key] = [f"weight_ih{sfx}", f"weight_hh{sfx}"] + \
                ([f"bias_ih{sfx}", f"bias_hh{sfx}"] if self.bias else []) + \
                ([f"peephole{sfx}"] if self.peephole else [])
        verify = None
        if trust:
            snaps = [self._snap.get(n) for n in names]
            if all(a is not None for a in snaps):
                verify = (snaps, [self._params[n] for n in names])
        if verify is None:
            snaps = self._snapshots(names)
        out = list(snaps)
        if not self.bias:
            out[2:2] = [None, None]
        if not self.peephole:
            out.append(None)
        return out, verify

    def __repr__(self) -> str:
        parts = [str(self.input_size), str(self.hidden_size)]
        if self.num_layers != 1:
            parts.append(f"num_layers={self.num_layers}")
        parts += [f"{k}=True" for k in ("bidirectional", "batch_first") if getattr(self, k)]
        if self.dropout:
            parts.append(f"dropout={self.dropout}")
        return f"{type(self).__name__}({', '.join(parts)}, dtype={self.dtype.name})"

    # -- what differs between cells ----------------------------------------
    def _options(self) -> dict:
        """Call fields of this cell: acts, clip, linear_before_reset."""
        raise NotImplementedError

    def _split_hx(self, hx) -> Tuple[Any, Any]:
        return hx, None

    def _split_dh(self, dh_n) -> Tuple[Any, Any]:
        return dh_n, None

    def _pack_state(self, h, c):
        return h

    # -- forward -------------------------------------------------------------
    def _states(self, v: Any, name: str, B: int) -> Optional[np.ndarray]:
        if v is None:
            return None
        shape = (self.num_layers * self.num_directions, B, self.hidden_size)
        return checked(v, name, self.dtype, shape, "(num_layers*D, B, H)")

    def _inputs(self, x, hx, seq_lengths) -> tuple:
        """The call's arguments checked: x time-major (T, B, I), T, B, the
        initial states h0 and c0 ((num_layers*D, B, H) or None) and the
        lengths."""
        x = self._time_major(x, "x", self.input_size, "I")
        T, B, _ = x.shape
        h0, c0 = self._split_hx(hx)
        h0, c0 = self._states(h0, "hx[0]" if self._cell == "lstm" else "hx", B), \
            self._states(c0, "hx[1]", B)
        return x, T, B, h0, c0, _checks.lengths(seq_lengths, T, B)

    def _outputs(self, y: np.ndarray, outs: list) -> tuple:
        """What a call returns, from the last layer's y (T, B, D*H) and each
        layer and direction's output, in the order of h_n's rows."""
        if len(outs) == 1:  # h_n and c_n: views of the kernel's own
            h_n, c_n = outs[0].h_n[None], outs[0].c_n[None] if self._cell == "lstm" else None
        else:
            h_n = np.stack([o.h_n for o in outs])
            c_n = np.stack([o.c_n for o in outs]) if self._cell == "lstm" else None
        if self.batch_first:
            y = np.ascontiguousarray(y.transpose(1, 0, 2))
        return y, self._pack_state(h_n, c_n)

    def __call__(self, x, hx=None, seq_lengths=None):
        """Run the stack over x (T, B, I), or (B, T, I) with batch_first.

        hx: initial states (num_layers*D, B, H) or None (zeros); an LSTM takes
        a pair (h0, c0), either of which may be None. seq_lengths (B,):
        integers in [0, T]; padded steps give zero outputs. Returns
        ``y, h_n`` (GRU, RNN) or ``y, (h_n, c_n)`` (LSTM).
        """
        plan = self._plan
        if plan is not None:
            out = self._planned(plan, x, hx, seq_lengths)
            if out is not None:
                return out
        self._plan = None
        x, T, B, h0, c0, lens = self._inputs(x, hx, seq_lengths)
        self._state = None  # the last call's tapes: free for reuse (rnnfast._tapes)
        D = self.num_directions
        train, opts = self.training, self._options()
        # In inference, after a call that found all the weights as they
        # were, the kernels run at once on the snapshots kept of them and
        # compare those with the live weights while they run: in the moments
        # a thread would wait at a step's barrier, the rest after the last
        # step, in the kernel's own threads. A direction whose weights turn
        # out changed runs again on new snapshots, and the next call compares
        # first. (Batch 1, H 128, 2 threads: GRU T 1 / 10 / 100 2 / 5 / 2 %
        # faster than comparing first in its own call, LSTM 3 / 4 / 1 %.)
        trust, copies = not train and self._trusted, self._copies
        tapes, masks, inp, preps, states = [], [], x, [], []
        for l in range(self.num_layers):
            args = (inp, h0, c0, lens, train, opts)
            prep = [self._direction(l, d, *args, trust) for d in range(D)]
            outs = _directions([self._runner(l, p, trust) for p in prep], B)
            if trust:
                outs = [self._runner(l, self._direction(l, d, *args, False), False)(
                    _threads.for_call()) if stale else out
                    for d, (out, stale) in enumerate(outs)]
            y = outs[0].y if D == 1 else np.concatenate([o.y for o in outs], axis=2)
            mask = None
            if l < self.num_layers - 1 and train and self.dropout > 0:
                mask = self._dropout_mask(y.shape)
                y = y * mask
            tapes.append(outs)
            masks.append(mask)
            preps += prep
            states += outs
            inp = y
        self._state = (tapes, masks, T, B) if train else None
        self._trusted = self._copies == copies  # no snapshot had to be replaced
        if trust and self._trusted and D == 1 and all(v is not None for _, _, v in preps):
            self._plan = (_kernels.arch_name(), [
                (dataclasses.replace(c, x=None, h0=None, c0=None, seq_lengths=None), pk, v)
                for c, pk, v in preps])
        return self._outputs(y, states)

    # A trusted inference call leaves a plan of the next ones: each layer's
    # Call (weights, options), packed panels and verify, which a call runs
    # with its own arrays, with none of the Python work of making them
    # again. Setting any public attribute (training, clip, activations, a
    # parameter, ...) drops it (_module); a change inside the weights shows
    # in the verify, and a changed kernel path in the plan's arch; either
    # way the call goes the whole way instead. (Batch 1, H 128, 2 threads:
    # a T 1 call, GRU 22.6 -> 14.1 us, LSTM 26.4 -> 18.8; a loop of T 1
    # calls feeding the state back, a step LSTM 30 -> 21 us, GRU 24-28 ->
    # 16; T 100, 9 alternating processes, LSTM 0.219-0.228 against
    # 0.231-0.255 ms where its threads sat on near cores, GRU 8 %, RNN 7 %.)
    def _planned(self, plan: tuple, x, hx, seq_lengths) -> Optional[tuple]:
        """The call's result from the plan, or None where the plan no
        longer holds (the caller drops it and goes the whole way)."""
        arch, layers_ = plan
        if _kernels.arch_name() != arch:
            return None
        x, T, B, h0, c0, lens = self._inputs(x, hx, seq_lengths)
        n, inp, outs = _threads.for_call(), x, []
        for l, (c, packed, verify) in enumerate(layers_):
            y, h_n, c_n, _, stale = functional._run(
                c, inp, None if h0 is None else h0[l], None if c0 is None else c0[l], lens,
                packed, n, verify)
            if stale:  # a weight changed: compared first from now on
                self._trusted = False
                return None
            outs.append(SequenceOutput(y, h_n, c_n, None))
            inp = y
        return self._outputs(inp, outs)

    def _direction(self, l: int, d: int, inp: np.ndarray, h0, c0, lens, train: bool,
                   opts: dict, trust: bool) -> tuple:
        """Layer l, direction d's Call, packed weights and verify (_weights)."""
        k = l * self.num_directions + d
        (w_ih, w_hh, b_ih, b_hh, peep), verify = self._weights(l, d, trust)
        call = _checks.Call(
            cell=self._cell, dtype=self.dtype, T=inp.shape[0], B=inp.shape[1], I=inp.shape[2],
            H=self.hidden_size, x=inp, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh,
            h0=None if h0 is None else h0[k], c0=None if c0 is None else c0[k],
            peephole=peep, seq_lengths=lens, reverse=d == 1, keep_tape=train, **opts)
        return call, self._packed((l, d), self._cell, call.w_ih, call.w_hh), verify

    @staticmethod
    def _runner(l: int, prep: tuple, trust: bool):
        """_direction's call as a function of its thread count; with trust,
        it returns (output, stale bits)."""
        call, packed, verify = prep
        # Layer 0's x belongs to the caller: the tape copies it. Later inputs
        # are this call's own outputs, zero at padded steps.
        run = lambda n: functional._forward(  # noqa: E731
            call, copy_x=l == 0, copy_w=False, packed=packed, nthreads=n, verify=verify)
        if trust and verify is None:  # a snapshot was missing: compared now
            return lambda n: (run(n), 0)
        return run

    def _dropout_mask(self, shape) -> np.ndarray:
        keep = 1.0 - self.dropout
        if keep == 0:
            return np.zeros(shape, dtype=self.dtype)
        return ((self._rng.random(shape) < keep) / keep).astype(self.dtype)

    # -- backward ------------------------------------------------------------
    def backward(self, dy=None, dh_n=None) -> np.ndarray:
        """Backward through the last training forward.

        dy: gradient of y, shaped like y, or None (zero). dh_n: gradient of
        h_n (num_layers*D, B, H), or None; an LSTM takes a pair (dh_n, dc_n),
        either of which may be None. Parameter gradients are added into
        ``.grads``; the gradient of hx is left in ``.dhx``. Returns dx, shaped
        like x.
        """
        tapes, masks, T, B = self._need_state("backward")
        H, D, lstm = self.hidden_size, self.num_directions, self._cell == "lstm"
        dy = self._like_output(dy, "dy", T, B, D * H, "D*H")
        dh, dc = self._split_dh(dh_n)
        dh = self._states(dh, "dh_n[0]" if lstm else "dh_n", B)
        dc = self._states(dc, "dh_n[1]", B)
        dh0 = np.zeros((self.num_layers * D, B, H), dtype=self.dtype)
        dc0 = np.zeros_like(dh0) if lstm else None
        fname = f"{self._cell}_backward"
        dout = dy
        for l in reversed(range(self.num_layers)):
            calls = []
            for d in range(D):
                k = l * D + d
                part = None if dout is None else np.ascontiguousarray(dout[:, :, d * H:(d + 1) * H])
                calls.append(lambda n, t=tapes[l][d], dy_=part, k=k: functional._backward(
                    t, self._cell, fname, dy_, None if dh is None else dh[k],
                    None if dc is None else dc[k], nthreads=n))
            dinp = None
            for d, g in enumerate(_directions(calls, B)):
                k, sfx = l * D + d, self._suffix(l, d)
                self._accumulate([(f"weight_ih{sfx}", g.dw_ih), (f"weight_hh{sfx}", g.dw_hh),
                                  (f"bias_ih{sfx}", g.db_ih), (f"bias_hh{sfx}", g.db_hh),
                                  (f"peephole{sfx}", g.dpeephole)])
                dinp = g.dx if dinp is None else dinp + g.dx
                dh0[k] = g.dh0
                if lstm:
                    dc0[k] = g.dc0
            dout = dinp if l == 0 or masks[l - 1] is None else dinp * masks[l - 1]
        self.dhx = self._pack_state(dh0, dc0)
        return np.ascontiguousarray(dout.transpose(1, 0, 2)) if self.batch_first else dout


# Batches up to this size run a bidirectional layer's two directions at once,
# each on half the threads: with little work per step, two independent
# sequences scale better than one split across threads with a barrier per
# step. Measured on 2 cores, T=100, f32, sequential time / concurrent time,
# medians of 3 rounds: LSTM inference 1.06 (B=1, H=128) and 1.10 (B=16,
# H=256); LSTM training 1.12, 1.07, and 1.05 at B=64, H=512; GRU inference
# 1.01 and 1.07.
CONCURRENT_DIRECTIONS_MAX_BATCH = 32
_pool_state: dict = {}


def _pool() -> ThreadPoolExecutor:
    """One helper thread per process (made again after a fork)."""
    if _pool_state.get("pid") != os.getpid():
        _pool_state.update(pid=os.getpid(), pool=ThreadPoolExecutor(1, "rnnfast-direction"))
    return _pool_state["pool"]


def _directions(calls, B: int) -> list:
    """Results of one kernel call per direction; call(n) runs on n threads.
    Two directions of a small batch run concurrently (the kernels release
    the GIL), the reverse one on a helper thread. Results do not depend on
    thread counts, so this changes no bits."""
    n = _threads.for_call()
    if len(calls) == 1 or n < 2 or B > CONCURRENT_DIRECTIONS_MAX_BATCH:
        return [c(n) for c in calls]
    half = n // 2
    fut = _pool().submit(calls[1], half)
    try:
        first = calls[0](n - half)
    finally:
        second = fut.result()
    return [first, second]


def _pair(v, name: str):
    if v is None:
        return None, None
    if not isinstance(v, (tuple, list)) or len(v) != 2:
        raise TypeError(f"{name}: expected a pair (h, c) or None, got {type(v).__name__}")
    return v[0], v[1]


class LSTM(_Recurrent):
    """Stacked, optionally bidirectional LSTM (PyTorch nn.LSTM's parameters).

    Parameters per layer l and direction (suffix ``_l{l}`` or
    ``_l{l}_reverse``): weight_ih (4H, I_l), weight_hh (4H, H), bias_ih and
    bias_hh (4H,) when bias, peephole (3, H) rows i, f, o when peephole; gate
    rows in order i, f, g, o; I_l = input_size for l = 0, else D*H.
    ``layer(x, (h0, c0))`` with x (T, B, I) returns ``y, (h_n, c_n)``: y
    (T, B, D*H), h_n and c_n (num_layers*D, B, H); batch_first swaps T and B.
    """

    _cell = "lstm"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 bias: bool = True, batch_first: bool = False, bidirectional: bool = False,
                 dropout: float = 0.0, peephole: bool = False, clip: Optional[float] = None,
                 activations: Optional[Sequence[str]] = None, dtype: Any = np.float32,
                 seed: Optional[int] = None):
        super().__init__(input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first,
                         bidirectional=bidirectional, dropout=dropout, dtype=dtype, seed=seed,
                         peephole=peephole)
        self.clip = None if _checks.clip_value(clip) == 0 else float(clip)
        self.activations = _checks.activations(activations, "lstm")

    def _options(self) -> dict:
        return dict(acts=self.activations, clip=_checks.clip_value(self.clip),
                    linear_before_reset=True)

    def _split_hx(self, hx):
        return _pair(hx, "hx")

    def _split_dh(self, dh_n):
        return _pair(dh_n, "dh_n")

    def _pack_state(self, h, c):
        return h, c


class GRU(_Recurrent):
    """Stacked, optionally bidirectional GRU (PyTorch nn.GRU's parameters).

    weight_ih (3H, I_l), weight_hh (3H, H), bias_ih, bias_hh (3H,); gate rows
    r, z, n. linear_before_reset=True is PyTorch's form; False is the original
    (ONNX default, Keras reset_after=False). ``layer(x, h0)`` with x
    (T, B, I) returns ``y, h_n``: y (T, B, D*H), h_n (num_layers*D, B, H).
    """

    _cell = "gru"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 bias: bool = True, batch_first: bool = False, bidirectional: bool = False,
                 dropout: float = 0.0, linear_before_reset: bool = True,
                 clip: Optional[float] = None, activations: Optional[Sequence[str]] = None,
                 dtype: Any = np.float32, seed: Optional[int] = None):
        super().__init__(input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first,
                         bidirectional=bidirectional, dropout=dropout, dtype=dtype, seed=seed)
        self.linear_before_reset = _checks.flag(linear_before_reset, "linear_before_reset")
        self.clip = None if _checks.clip_value(clip) == 0 else float(clip)
        self.activations = _checks.activations(activations, "gru")

    def _options(self) -> dict:
        return dict(acts=self.activations, clip=_checks.clip_value(self.clip),
                    linear_before_reset=self.linear_before_reset)


class RNN(_Recurrent):
    """Stacked, optionally bidirectional Elman RNN (PyTorch nn.RNN's
    parameters): h' = act(W x + b_ih + U h + b_hh), act = nonlinearity.
    weight_ih (H, I_l), weight_hh (H, H), bias_ih, bias_hh (H,).
    ``layer(x, h0)`` with x (T, B, I) returns ``y, h_n``: y (T, B, D*H), h_n
    (num_layers*D, B, H).
    """

    _cell = "rnn"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 bidirectional: bool = False, dropout: float = 0.0, dtype: Any = np.float32,
                 seed: Optional[int] = None):
        super().__init__(input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first,
                         bidirectional=bidirectional, dropout=dropout, dtype=dtype, seed=seed)
        self.nonlinearity = _checks.activation(nonlinearity, "nonlinearity")

    def _options(self) -> dict:
        return dict(acts=(self.nonlinearity,), clip=0.0, linear_before_reset=True)


class JordanRNN(Module):
    """Jordan network: the output, not the hidden state, is fed back.

        h_t = act_h(W x_t + U y_{t-1} + b_h),   y_t = act_o(V h_t + b_o)

    Parameters: weight_ih W (H, I), weight_yh U (H, O), bias_h (H,),
    weight_ho V (O, H), bias_o (O,) (biases only when bias=True), drawn from
    U(-1/sqrt(H), 1/sqrt(H)). ``layer(x, y0)`` with x (T, B, I) (or (B, T, I)
    with batch_first) and y0 (B, O) or None returns ``y, y_T``: y (T, B, O)
    and each sequence's last output (B, O). Forward and backward run in C.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, *,
                 bias: bool = True, hidden_activation: str = "tanh",
                 output_activation: str = "identity", batch_first: bool = False,
                 dtype: Any = np.float32, seed: Optional[int] = None):
        super().__init__(dtype, seed)
        self.input_size = positive_int(input_size, "input_size")
        self.hidden_size = positive_int(hidden_size, "hidden_size")
        self.output_size = positive_int(output_size, "output_size")
        self.bias = _checks.flag(bias, "bias")
        self.hidden_activation = _checks.activation(hidden_activation, "hidden_activation")
        self.output_activation = _checks.activation(output_activation, "output_activation")
        self.batch_first = _checks.flag(batch_first, "batch_first")
        I, H, O = self.input_size, self.hidden_size, self.output_size
        bound = 1.0 / math.sqrt(H)
        self._add("weight_ih", (H, I), bound)
        self._add("weight_yh", (H, O), bound)
        if self.bias:
            self._add("bias_h", (H,), bound)
        self._add("weight_ho", (O, H), bound)
        if self.bias:
            self._add("bias_o", (O,), bound)
        self.dy0 = None

    def __repr__(self) -> str:
        return (f"JordanRNN({self.input_size}, {self.hidden_size}, {self.output_size}, "
                f"hidden_activation={self.hidden_activation!r}, "
                f"output_activation={self.output_activation!r}, dtype={self.dtype.name})")

    def __call__(self, x, y0=None, seq_lengths=None):
        """x (T, B, I); y0 (B, O) or None (zeros); seq_lengths (B,) or None.
        Returns ``y, y_T``: y (T, B, O) (zero at padded steps), y_T (B, O)."""
        x = self._time_major(x, "x", self.input_size, "I")
        T, B, _ = x.shape
        y0 = None if y0 is None else checked(y0, "y0", self.dtype, (B, self.output_size),
                                             "(B, O)")
        w_ih, w_yh, w_ho, *b = self._snapshots(
            ["weight_ih", "weight_yh", "weight_ho"] + (["bias_h", "bias_o"] if self.bias else []))
        c = _checks.JordanCall(
            dtype=self.dtype, T=T, B=B, I=self.input_size, H=self.hidden_size,
            O=self.output_size, x=x, w_ih=w_ih, w_yh=w_yh, w_ho=w_ho,
            b_h=b[0] if b else None, b_o=b[1] if b else None, y0=y0,
            seq_lengths=_checks.lengths(seq_lengths, T, B), act_h=self.hidden_activation,
            act_o=self.output_activation, keep_tape=self.training)
        out = functional._jordan_forward(c, copy_x=True, copy_w=False)
        self._state = (out, T, B) if self.training else None
        y = np.ascontiguousarray(out.y.transpose(1, 0, 2)) if self.batch_first else out.y
        return y, out.h_n

    def backward(self, dy=None, dy_T=None) -> np.ndarray:
        """dy shaped like y, dy_T (B, O), None meaning zero. Adds parameter
        gradients into ``.grads``, leaves the gradient of y0 in ``.dy0`` and
        returns dx shaped like x."""
        out, T, B = self._need_state("backward")
        O = self.output_size
        dy = self._like_output(dy, "dy", T, B, O, "O")
        dy_T = None if dy_T is None else checked(dy_T, "dy_T", self.dtype, (B, O), "(B, O)")
        g = functional.jordan_backward(out, dy, dy_T)
        self._accumulate([("weight_ih", g.dw_ih), ("weight_yh", g.dw_yh),
                          ("weight_ho", g.dw_ho), ("bias_h", g.db_h), ("bias_o", g.db_o)])
        self.dy0 = g.dy0
        return np.ascontiguousarray(g.dx.transpose(1, 0, 2)) if self.batch_first else g.dx
