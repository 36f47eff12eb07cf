"""Inputs are never modified, and layout does not change results: read-only,
non-contiguous, Fortran-ordered, big-endian and list inputs all give the same
bits as C-contiguous arrays."""
import numpy as np
import pytest

import rnnfast

from conftest import backward, forward, make_problem

OPTS = {"lstm": {"clip": 2.0}, "gru": {"linear_before_reset": False}, "rnn": {}}


def strided(a):
    """The same values in a non-contiguous view."""
    big = np.zeros(a.shape + (2,), dtype=a.dtype)
    big[..., 0] = a
    return big[..., 0]


def fortran(a):
    return np.asfortranarray(a)


def big_endian(a):
    return a.astype(a.dtype.newbyteorder(">"))


def unaligned(a):
    """The same values at an odd address (as pickled buffers can arrive)."""
    raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
    b = np.frombuffer(raw.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    b[...] = a
    assert not b.flags.aligned
    return b


def readonly(a):
    b = a.copy()
    b.setflags(write=False)
    return b


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("layout", [strided, fortran, big_endian, readonly, unaligned])
def test_layouts_same_bits_and_untouched(cell, layout):
    p = make_problem(cell, T=4, B=3, I=5, H=6, peephole=(cell == "lstm"), lengths=[4, 1, 3])
    ref_out = forward(rnnfast, cell, p, OPTS[cell])
    ref_res = [*ref_out, *backward(rnnfast, cell, ref_out, p).as_dict().values()]
    q = {k: layout(v) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
         for k, v in p.items()}
    before = {k: v.copy() for k, v in q.items() if isinstance(v, np.ndarray)}
    out = forward(rnnfast, cell, q, OPTS[cell])
    res = [*out, *backward(rnnfast, cell, out, q).as_dict().values()]
    for a, b in zip(ref_res, res):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    for k, v in before.items():
        assert np.array_equal(q[k], v), f"{k} was modified"


def test_lists_are_accepted_as_float64():
    y, h = rnnfast.rnn([[[1.0]], [[2.0]]], [[1.0]], [[0.5]], nonlinearity="identity")
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y[:, 0, 0], [1.0, 2.5])


def test_outputs_do_not_alias_inputs():
    p = make_problem("gru", T=1, B=2, I=3, H=3)
    h0 = p["h0"]
    y, h_n = rnnfast.gru(p["x"], p["w_ih"], p["w_hh"], h0=h0)
    assert not np.shares_memory(h_n, h0) and not np.shares_memory(y, p["x"])


def test_padding_is_zero_and_nan_in_padding_does_not_leak():
    p = make_problem("lstm", T=5, B=3, I=2, H=4, lengths=[5, 2, 0])
    p["x"][2:, 1] = np.nan
    p["x"][:, 2] = np.inf
    out = forward(rnnfast, "lstm", p, {})
    assert np.all(out.y[2:, 1] == 0) and np.all(out.y[:, 2] == 0)
    np.testing.assert_array_equal(out.h_n[2], p["h0"][2])
    np.testing.assert_array_equal(out.c_n[2], p["c0"][2])
    g = backward(rnnfast, "lstm", out, p)
    assert all(np.all(np.isfinite(v)) for v in g.as_dict().values())
    assert np.all(g.dx[2:, 1] == 0) and np.all(g.dx[:, 2] == 0)


def test_nan_in_data_propagates():
    p = make_problem("rnn", T=3, B=2, I=2, H=2)
    p["x"][1, 0, 0] = np.nan
    y, h_n = forward(rnnfast, "rnn", p, {"nonlinearity": "tanh"}, keep_tape=False)
    assert np.all(np.isnan(y[1:, 0])) and np.all(np.isfinite(y[:, 1]))


@pytest.mark.parametrize("layout", [strided, fortran, big_endian, readonly, unaligned])
def test_layers_take_any_layout(layout):
    x = np.random.default_rng(0).standard_normal((5, 3, 4)).astype(np.float32)
    m = rnnfast.GRU(4, 6, bidirectional=True, seed=0)
    want = m(x)[0]
    np.testing.assert_array_equal(m(layout(x))[0], want)
    j = rnnfast.JordanRNN(4, 6, 2, seed=0)
    np.testing.assert_array_equal(j(layout(x))[0], j(x)[0])
