"""Recycled tape and output buffers.

A training forward writes a tape (every step's gates and states) that only
its backward reads; a training loop makes one per call. Fresh pages from the
OS arrive zeroed by the kernel, which costs about 5 % of an LSTM training step
at T=100, B=64, H=512 on 2 cores. So each thread keeps a few tape buffers and
hands one out again once nothing refers to it any more: a buffer is idle when
its reference count is what the pool alone gives it (every NumPy view of it,
and every view of such a view, refers to it as its base), so a tape still
held by an output or a layer is never reused.

The large arrays a training call returns (the forward's y; the backward's dx
and weight gradients, which a layer adds to its own and drops) come from a
second pool, "out", the same way. Made fresh, they were a fault per page on
every call once the C library handed their memory back to the OS between
calls (LSTM T100 B16 H256 training, 2 threads: 1,700 page faults and about a
tenth of the time). A training call's copy of its input x, which its tape
keeps, comes from the tape pool (made fresh, it cost 537 page faults a call
at T50 B256 H1024). Inference outputs stay plain arrays, so that an inference
call keeps nothing whose size grows with T.
"""
from __future__ import annotations

import math
import sys
import threading

import numpy as np

# Limits of each pool, per thread:
POOL_BYTES = 1 << 30  # most bytes of buffers kept
POOL_COUNT = 8  # most buffers kept (the tapes of a 4-layer bidirectional stack)
_local = threading.local()
KINDS = {"tape": "tape", "out": "output"}  # pool: what its buffers hold


def _refs(pool: list, i: int) -> int:
    return sys.getrefcount(pool[i])


_IDLE = _refs([bytearray()], 0)  # the count of an object only a list holds


def _pool(kind: str = "tape") -> list:
    pools = getattr(_local, "pools", None)
    if pools is None:
        pools = _local.pools = {k: [] for k in KINDS}
    return pools[kind]


def take(n: int, kind: str = "tape") -> np.ndarray:
    """A writable uint8 array of n bytes from pool kind, contents undefined."""
    pool = _pool(kind)
    best = -1
    for i in range(len(pool)):
        if pool[i].nbytes >= n and _refs(pool, i) == _IDLE and (
                best < 0 or pool[i].nbytes < pool[best].nbytes):
            best = i
    if best >= 0:
        return pool[best][:n]
    try:
        buf = np.empty(n, dtype=np.uint8)
    except (MemoryError, ValueError) as e:
        raise MemoryError(f"cannot allocate {n} bytes of {KINDS[kind]}") from e
    # room for it: drop idle buffers until the pool's limits allow one more
    i = 0
    while i < len(pool) and (len(pool) >= POOL_COUNT
                             or sum(b.nbytes for b in pool) + n > POOL_BYTES):
        if _refs(pool, i) == _IDLE:
            del pool[i]
        else:
            i += 1
    if len(pool) < POOL_COUNT and sum(b.nbytes for b in pool) + n <= POOL_BYTES:
        pool.append(buf)
        return buf[:n]
    return buf


OUT_MIN = 1 << 17  # smaller outputs: plain arrays (glibc's heap, not fresh pages)


def array(shape: tuple, dtype: np.dtype, kind: str = "out") -> np.ndarray:
    """An uninitialised C-contiguous array of shape and dtype: from pool kind
    (a view of a recycled buffer) when it has OUT_MIN bytes or more."""
    dtype = np.dtype(dtype)
    n = dtype.itemsize * math.prod(shape)
    if n < OUT_MIN:
        return np.empty(shape, dtype=dtype)
    return take(n, kind).view(dtype).reshape(shape)


def release() -> None:
    """Forget this thread's tape and output buffers (those in use stay valid)."""
    _local.pools = None
