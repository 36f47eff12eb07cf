"""Fuzzing the C boundary: random descriptors, shapes, dtypes and options
straight into the Cython wrappers, bounded by hypothesis' example count.
Every call must return or raise a Python exception; none may crash (CI runs
this under AddressSanitizer and UndefinedBehaviorSanitizer too)."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnfast import _kernels

ALLOWED = (ValueError, TypeError, MemoryError, OverflowError)
DTYPES = (np.float32, np.float64, np.float16, np.int64)


@st.composite
def arrays(draw, shape, dtype, optional=False):
    """An array near the wanted one: sometimes None, of another dtype or
    shape, non-contiguous, or not an array at all."""
    kind = draw(st.sampled_from(["ok"] * 6 + ["none", "dtype", "shape", "rank", "strided",
                                              "list"]))
    if kind == "none" or (optional and draw(st.booleans()) and kind == "ok"):
        return None
    if kind == "dtype":
        dtype = draw(st.sampled_from(DTYPES))
    if kind == "shape" and shape:
        k = draw(st.integers(0, len(shape) - 1))
        shape = shape[:k] + (max(0, shape[k] + draw(st.sampled_from([-1, 1, 3]))),) + shape[k + 1:]
    if kind == "rank":
        shape = shape + (1,) if draw(st.booleans()) or not shape else shape[1:]
    a = np.random.default_rng(draw(st.integers(0, 9))).standard_normal(shape).astype(dtype)
    if kind == "strided" and a.ndim:
        a = np.repeat(a, 2, axis=-1)[..., ::2]
    if kind == "list":
        return a.tolist()
    return a


@st.composite
def problems(draw):
    cell = draw(st.sampled_from(["lstm", "gru", "rnn", "lstm", "bogus"]))
    dt = draw(st.sampled_from([np.float32, np.float64] * 3 + [np.float16, np.int64]))
    T, B, I, H = (draw(st.integers(0, 5)) for _ in range(4))
    G = {"lstm": 4, "gru": 3}.get(cell, 1)
    lengths = None
    if draw(st.booleans()):
        lengths = np.array(draw(st.lists(st.integers(-2, T + 2), min_size=B, max_size=B)),
                           dtype=draw(st.sampled_from([np.int64, np.int32, np.float64])))
    return dict(
        cell=cell, x=draw(arrays((T, B, I), dt)), w_ih=draw(arrays((G * H, I), dt)),
        w_hh=draw(arrays((G * H, H), dt)), b_ih=draw(arrays((G * H,), dt, True)),
        b_hh=draw(arrays((G * H,), dt, True)), h0=draw(arrays((B, H), dt, True)),
        c0=draw(arrays((B, H), dt, True)), peephole=draw(arrays((3, H), dt, True)),
        seq_lengths=lengths, reverse=draw(st.booleans()),
        clip=draw(st.sampled_from([0.0, 0.5, -1.0, float("nan"), float("inf"), 1e308])),
        acts=tuple(draw(st.integers(-1, 6)) for _ in range(draw(st.sampled_from([3, 3, 2])))),
        lbr=draw(st.booleans()), training=draw(st.booleans()),
        nthreads=draw(st.sampled_from([1, 2, 3, 0, -1, 5000])),
        pack=draw(st.sampled_from(["none", "none", "good", "garbage", "truncated", "inference"])),
        dy=draw(arrays((T, B, H), dt, True)), dh_n=draw(arrays((B, H), dt, True)),
    )


def packed_for(p):
    if p["pack"] == "none":
        return None
    if p["pack"] == "garbage":
        return np.random.default_rng(0).integers(0, 255, 4096, dtype=np.uint8)
    buf = _kernels.pack(p["cell"], p["w_ih"], p["w_hh"], training=p["pack"] != "inference",
                        nthreads=1)
    return buf[:64].copy() if p["pack"] == "truncated" else buf


@settings(max_examples=3000)
@given(problems())
def test_sequence_kernels_never_crash(p):
    try:
        packed = packed_for(p)
    except ALLOWED:
        packed = None
    try:
        y, h_n, c_n, tape, _ = _kernels.forward(
            p["cell"], p["x"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], p["h0"], p["c0"],
            p["peephole"], p["seq_lengths"], reverse=p["reverse"], clip=p["clip"],
            acts=p["acts"], lbr=p["lbr"], training=p["training"], nthreads=p["nthreads"],
            packed=packed)
    except ALLOWED:
        return
    assert y.shape[:2] == p["x"].shape[:2]
    if tape is None:
        return
    try:
        _kernels.backward(p["cell"], p["x"], p["w_ih"], p["w_hh"], p["peephole"],
                          p["seq_lengths"], p["dy"], p["dh_n"], c_n, tape,
                          reverse=p["reverse"], clip=p["clip"], acts=p["acts"], lbr=p["lbr"],
                          nthreads=p["nthreads"], packed=packed)
    except ALLOWED:
        pass


@settings(max_examples=1500)
@given(st.data())
def test_jordan_kernels_never_crash(data):
    dt = data.draw(st.sampled_from([np.float32, np.float64] * 3 + [np.float16, np.int64]))
    T, B, I, H, O = (data.draw(st.integers(0, 4)) for _ in range(5))
    arr = lambda shape, opt=False: data.draw(arrays(shape, dt, opt))  # noqa: E731
    x, W, U, V = arr((T, B, I)), arr((H, I)), arr((H, O)), arr((O, H))
    lengths = None
    if data.draw(st.booleans()):
        lengths = np.array(data.draw(st.lists(st.integers(-1, T + 1), min_size=B,
                                              max_size=B)), dtype=np.int64)
    acts = dict(act_h=data.draw(st.integers(-1, 6)), act_o=data.draw(st.integers(-1, 6)))
    nthreads = data.draw(st.sampled_from([1, 2, 3, 0, 2000]))
    try:
        y, y_n, tape = _kernels.jordan_forward(x, W, arr((H,), True), V, arr((O,), True),
                                               arr((B, O), True), lengths, training=True,
                                               nthreads=nthreads, **acts)
        _kernels.jordan_backward(x, W, U, V, lengths, arr((T, B, O), True), arr((B, O), True),
                                 tape, nthreads=nthreads, **acts)
    except ALLOWED:
        pass


@given(st.sampled_from(["lstm", "gru", "rnn", "x"]), st.sampled_from([np.float32, np.float64]),
       *(st.one_of(st.integers(-5, 5), st.integers(2**30, 2**63 - 1)) for _ in range(4)),
       st.booleans())
def test_size_queries_never_crash(cell, dt, T, B, I, H, training):
    try:
        sizes = _kernels.buffer_sizes(cell, dt, T, B, I, H, training=training)
    except ALLOWED:
        return
    assert all(s >= 0 for s in sizes)
