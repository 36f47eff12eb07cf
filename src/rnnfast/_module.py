"""What every trainable layer shares: named parameters, accumulated
gradients, train/eval mode, PyTorch-style state dicts, and the weight
snapshots that let a layer reuse what it prepared from its weights until
they change."""
from __future__ import annotations

import numbers
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from . import _checks, _kernels, _threads


def snapshots_of(lives: Sequence[np.ndarray],
                 snaps: Sequence[Optional[np.ndarray]]) -> List[np.ndarray]:
    """snaps[i] where it still holds lives[i]'s bytes, else a new read-only
    copy of lives[i]. What a caller prepared from a snapshot (packed panels)
    stays valid while the same snapshot comes back, however the live array
    is changed, in place included. All pairs are compared in one C call."""
    out = list(snaps)
    for k in range(0, len(out), _kernels.STALE_MAX):
        part = lives[k:k + _kernels.STALE_MAX]
        stale = _kernels.stale(out[k:k + len(part)], part, _threads.for_call)
        i = k
        while stale:
            if stale & 1:
                snap = lives[i].copy()
                snap.flags.writeable = False
                out[i] = snap
            stale >>= 1
            i += 1
    return out


def positive_int(v: Any, name: str, minimum: int = 1) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name}: expected an integer >= {minimum}, got {v!r}")
    if v < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {v}")
    return int(v)


def layer_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dtype is None or dt is None or dt not in _checks.FLOAT_DTYPES:  # dtype(None) is float64
        raise TypeError(f"dtype: expected float32 or float64, got {dtype!r}")
    return dt


def as_float(a: Any, name: str, dtype: np.dtype) -> np.ndarray:
    """a as a C-contiguous array of dtype; any float input is cast, anything
    else is a TypeError naming the argument."""
    if type(a) is np.ndarray and a.dtype == dtype:
        return _checks.c_array(a, dtype)  # the usual case, past the tests below
    arr = a.detach() if hasattr(a, "detach") else a  # torch tensors and parameters
    arr = _checks.as_array(arr, name)
    if arr.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point array, got dtype {arr.dtype}")
    return _checks.c_array(arr, dtype)


def checked(a: Any, name: str, dtype: np.dtype, shape: Tuple[int, ...], spec: str) -> np.ndarray:
    arr = as_float(a, name, dtype)
    if arr.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {spec} = {tuple(shape)}, got {arr.shape}")
    return arr


class Module:
    """Base of the layers. Parameters live in one ordered dict of C-contiguous
    arrays of the layer's dtype, which are updated in place (by optimisers,
    load_state_dict or attribute assignment), so references stay valid."""

    _plan = None  # what the next inference call may run at once (layers); none yet

    def __init__(self, dtype: Any, seed: Optional[int]):
        object.__setattr__(self, "_params", {})
        self.dtype = layer_dtype(dtype)
        self.training = True
        self.grads: Dict[str, np.ndarray] = {}
        self._rng = np.random.default_rng(seed)
        self._snap: Dict[str, np.ndarray] = {}
        self._copies = 0  # snapshots made so far
        self._trusted = False  # the last call found every snapshot it compared current
        self._packs: Dict[Any, tuple] = {}
        self._state = None  # what the last training forward left for backward

    # -- parameters -------------------------------------------------------
    def _add(self, name: str, shape: Tuple[int, ...], bound: float) -> None:
        """A parameter drawn from U(-bound, bound), as PyTorch initialises."""
        self._params[name] = self._rng.uniform(-bound, bound, size=shape).astype(self.dtype)
        self.grads[name] = np.zeros(shape, dtype=self.dtype)

    def parameters(self) -> Dict[str, np.ndarray]:
        """name -> the live parameter array (update it in place to train)."""
        return dict(self._params)

    def zero_grad(self) -> None:
        """Set every accumulated gradient to zero (in place)."""
        for g in self.grads.values():
            g.fill(0)

    def train(self, mode: bool = True):
        """Training mode: forwards keep what backward needs, dropout is on."""
        self.training = _checks.flag(mode, "mode")
        if not self.training:
            self._state = None
        return self

    def eval(self):
        """Inference mode: no tape, no dropout."""
        return self.train(False)

    def state_dict(self) -> Dict[str, np.ndarray]:
        """name -> a copy of each parameter, with PyTorch's names and shapes."""
        return {k: v.copy() for k, v in self._params.items()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Copy parameters in from a dict whose values are anything
        np.asarray accepts (a torch state_dict loads as it is). The keys must
        be exactly the layer's; values are cast to the layer's dtype."""
        if not isinstance(state, dict) and not hasattr(state, "keys"):
            raise TypeError(f"state: expected a dict, got {type(state).__name__}")
        missing = [k for k in self._params if k not in state]
        unexpected = [k for k in state.keys() if k not in self._params]
        if missing or unexpected:
            raise KeyError(f"state: missing keys {missing}, unexpected keys {unexpected}")
        new = {k: checked(state[k], f"state[{k!r}]", self.dtype, v.shape, "as the layer's")
               for k, v in self._params.items()}
        for k, v in new.items():  # all checked first: a bad dict changes nothing
            np.copyto(self._params[k], v)

    def __getattr__(self, name: str):
        params = self.__dict__.get("_params")
        if params is not None and name in params:
            return params[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_params")
        if not name.startswith("_"):  # mode, options or a parameter: a plan may not hold
            object.__setattr__(self, "_plan", None)
        if params is not None and name in params:
            p = params[name]
            np.copyto(p, checked(value, name, self.dtype, p.shape, "as the parameter's"))
        else:
            object.__setattr__(self, name, value)

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_snap"], d["_packs"], d["_state"] = {}, {}, None  # caches and tapes: rebuilt
        d["_trusted"], d["_plan"] = False, None
        return d

    def __setstate__(self, d):
        self.__dict__.update(d)

    def _time_major(self, a: Any, name: str, last: int, last_name: str) -> np.ndarray:
        """a (T, B, last), or (B, T, last) when batch_first, as a time-major
        C-contiguous array of the layer's dtype."""
        arr = as_float(a, name, self.dtype)
        if arr.ndim != 3:
            want = "(B, T, " if self.batch_first else "(T, B, "
            raise ValueError(f"{name}: expected a 3-D array of shape {want}{last_name}), "
                             f"got shape {arr.shape}")
        if arr.shape[2] != last:
            raise ValueError(f"{name}: expected last dimension {last_name} = {last}, "
                             f"got shape {arr.shape}")
        return np.ascontiguousarray(arr.transpose(1, 0, 2)) if self.batch_first else arr

    def _like_output(self, a: Any, name: str, T: int, B: int, last: int,
                     last_name: str) -> Optional[np.ndarray]:
        """A gradient shaped like the last forward's output, time-major; None stays None."""
        if a is None:
            return None
        arr = self._time_major(a, name, last, last_name)
        if arr.shape[:2] != (T, B):
            want = (B, T, last) if self.batch_first else (T, B, last)
            got = (arr.shape[1], arr.shape[0], last) if self.batch_first else arr.shape
            raise ValueError(f"{name}: expected shape {want}, like the output, got {got}")
        return arr

    # -- prepared weights ---------------------------------------------------
    def _snapshots(self, names: Sequence[str]) -> List[np.ndarray]:
        """Read-only copies of the named parameters as they are now. A copy
        is kept while its parameter's bytes stay the same, so however a
        parameter is changed (assigned, loaded, or modified in place) the
        next call sees it, and tapes of earlier calls keep the weights they
        ran with."""
        kept = [self._snap.get(n) for n in names]
        snaps = snapshots_of([self._params[n] for n in names], kept)
        for name, snap, old in zip(names, snaps, kept):
            if snap is not old:
                self._snap[name] = snap
                self._copies += 1
        return snaps

    def _packed(self, key: Any, cell: str, w_ih: np.ndarray, w_hh: np.ndarray) -> np.ndarray:
        """The kernels' packed panels of two snapshots, made once and kept
        until a snapshot is replaced, the kernel path changes, or training
        needs the backward panels an inference pack lacks."""
        arch, training = _kernels.arch_name(), self.training
        hit = self._packs.get(key)
        if hit is not None and hit[0] is w_ih and hit[1] is w_hh and hit[2] == arch \
                and (hit[3] or not training):
            return hit[4]
        buf = _kernels.pack(cell, w_ih, w_hh, training=training, nthreads=_threads.for_call())
        self._packs[key] = (w_ih, w_hh, arch, training, buf)
        return buf

    def _accumulate(self, pairs: Iterable[Tuple[str, Optional[np.ndarray]]]) -> None:
        for name, g in pairs:
            if g is not None:
                self.grads[name] += g

    def _need_state(self, what: str):
        if self._state is None:
            raise ValueError(f"{what}: nothing to go back through; run a forward in training "
                             "mode (layer.train()) first")
        return self._state
