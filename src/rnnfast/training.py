"""Training helpers."""
from __future__ import annotations

import math
import numbers
from typing import Dict, Iterable, Union

import numpy as np

from ._types import Gradients

__all__ = ["clip_grad_norm"]


def clip_grad_norm(grads: Union[Dict[str, np.ndarray], Iterable[np.ndarray], Gradients],
                   max_norm: float) -> float:
    """Scale gradients in place so their joint L2 norm is at most max_norm.

    grads: a dict of arrays, a list of arrays, or a Gradients; None entries are
    skipped. Returns the norm before clipping (accumulated in float64). When
    that norm is NaN or inf the arrays are left as they are, since no finite
    scale would help, and the caller sees the non-finite norm.
    """
    if isinstance(max_norm, (bool, np.bool_)) or not isinstance(max_norm, numbers.Real):
        raise TypeError(f"max_norm: expected a number > 0, got {max_norm!r}")
    if not (max_norm > 0) or math.isinf(max_norm):
        raise ValueError(f"max_norm: expected a finite number > 0, got {max_norm!r}")
    if isinstance(grads, Gradients):
        items = list(grads.as_dict().items())
    elif isinstance(grads, dict):
        items = list(grads.items())
    else:
        items = list(enumerate(grads))
    arrays = []
    for name, g in items:
        if g is None:
            continue
        if not isinstance(g, np.ndarray) or g.dtype.kind != "f":
            got = f"dtype {g.dtype}" if isinstance(g, np.ndarray) else type(g).__name__
            raise TypeError(f"grads[{name!r}]: expected a float numpy array, got {got}")
        if not g.flags.writeable:
            raise ValueError(f"grads[{name!r}]: is read-only; clipping scales in place")
        arrays.append(g)
    total = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in arrays))
    if math.isfinite(total) and total > max_norm:
        scale = max_norm / total
        for g in arrays:
            g *= scale
    return total
