"""Optimisers that update a layer's parameters in place from its ``.grads``.

    opt = rnnfast.optim.Adam(layer, lr=1e-3)
    y, _ = layer(x); layer.backward(dy); opt.step(); opt.zero_grad()

The target is a layer (anything with ``parameters()`` and ``grads``), a list
of layers, or a dict name -> (parameter array, gradient array) for weights
kept by hand (an output projection, say). The update rules are PyTorch's
(torch.optim.SGD and torch.optim.Adam with their defaults otherwise).
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Dict, List, Tuple

import numpy as np

__all__ = ["SGD", "Adam"]


def _number(v: Any, name: str, lo: float, hi: float = math.inf, lo_open: bool = False) -> float:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {v!r}")
    v = float(v)
    ok = (v > lo if lo_open else v >= lo) and v < hi and math.isfinite(v)
    if not ok:
        lo_s = "(" if lo_open else "["
        raise ValueError(f"{name}: expected a finite number in {lo_s}{lo}, {hi}), got {v!r}")
    return v


def _collect(target: Any) -> List[Tuple[str, np.ndarray, np.ndarray]]:
    """(name, parameter, gradient) triples of a layer, a dict or a list of them."""
    if hasattr(target, "parameters") and hasattr(target, "grads"):
        params, grads = target.parameters(), target.grads
        return [(k, p, grads[k]) for k, p in params.items()]
    if isinstance(target, dict):
        out = []
        for k, pg in target.items():
            if not isinstance(pg, (tuple, list)) or len(pg) != 2:
                raise TypeError(f"params[{k!r}]: expected a (parameter, gradient) pair")
            p, g = pg
            for what, a in (("parameter", p), ("gradient", g)):
                if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
                    raise TypeError(f"params[{k!r}]: the {what} must be a float numpy array, "
                                    f"got {type(a).__name__}")
            if p.shape != g.shape:
                raise ValueError(f"params[{k!r}]: parameter shape {p.shape} != gradient shape "
                                 f"{g.shape}")
            if not p.flags.writeable:
                raise ValueError(f"params[{k!r}]: the parameter is read-only; optimisers "
                                 "update in place")
            out.append((str(k), p, g))
        return out
    if isinstance(target, (list, tuple)):
        return [(f"{i}.{k}", p, g) for i, t in enumerate(target) for k, p, g in _collect(t)]
    raise TypeError("params: expected a layer, a dict name -> (parameter, gradient) or a list "
                    f"of those, got {type(target).__name__}")


class _Optimizer:
    def __init__(self, params: Any, lr: float):
        self._target = params
        _collect(params)  # fail now, not at the first step
        self.lr = _number(lr, "lr", 0.0, lo_open=True)
        self.state: Dict[str, Dict[str, np.ndarray]] = {}

    def zero_grad(self) -> None:
        """Set every gradient of the target to zero."""
        for _, _, g in _collect(self._target):
            g.fill(0)

    def step(self) -> None:
        """One update of every parameter from its current gradient."""
        for name, p, g in _collect(self._target):
            st = self.state.setdefault(name, {})
            p -= self._update(st, p, g).astype(p.dtype, copy=False)

    def _update(self, st: Dict[str, Any], p: np.ndarray, g: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class SGD(_Optimizer):
    """Stochastic gradient descent with optional momentum and weight decay.

    With momentum m the velocity is v = m v + (1 - dampening) g (v = g at the
    first step) and the step is lr * v (nesterov: lr * (g + m v))."""

    def __init__(self, params: Any, lr: float = 0.01, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, lr)
        self.momentum = _number(momentum, "momentum", 0.0)
        self.dampening = _number(dampening, "dampening", 0.0, 1.0 + 1e-12)
        self.weight_decay = _number(weight_decay, "weight_decay", 0.0)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError("nesterov: needs momentum > 0 and dampening = 0")

    def _update(self, st, p, g):
        d = g + self.weight_decay * p if self.weight_decay else g
        if self.momentum:
            if "v" not in st:
                st["v"] = np.array(d, dtype=p.dtype)
            else:
                st["v"] *= self.momentum
                st["v"] += (1 - self.dampening) * d
            d = d + self.momentum * st["v"] if self.nesterov else st["v"]
        return self.lr * d


class Adam(_Optimizer):
    """Adam (Kingma and Ba), with bias correction and optional L2 weight
    decay added to the gradient, as torch.optim.Adam."""

    def __init__(self, params: Any, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas: expected a pair of numbers in [0, 1), got {betas!r}")
        self.betas = (_number(betas[0], "betas[0]", 0.0, 1.0),
                      _number(betas[1], "betas[1]", 0.0, 1.0))
        self.eps = _number(eps, "eps", 0.0, lo_open=True)
        self.weight_decay = _number(weight_decay, "weight_decay", 0.0)

    def _update(self, st, p, g):
        b1, b2 = self.betas
        d = g + self.weight_decay * p if self.weight_decay else g
        if "m" not in st:
            st["t"], st["m"], st["v"] = 0, np.zeros_like(p), np.zeros_like(p)
        st["t"] += 1
        st["m"] *= b1
        st["m"] += (1 - b1) * d
        st["v"] *= b2
        st["v"] += (1 - b2) * d * d
        c1, c2 = 1 - b1 ** st["t"], 1 - b2 ** st["t"]
        return (self.lr / c1) * st["m"] / (np.sqrt(st["v"]) / math.sqrt(c2) + self.eps)
