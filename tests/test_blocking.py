"""Shapes big enough to reach the GEMM's blocking: k-blocks (K > 256), more
than one m-block (over 512 rows in float, 256 in double), row strides of 2 or 4 KB (rows copied to a
padded buffer, 48 at a time; the forward's states kept at a padded stride
instead), batch rows past one such copy, and weight
gradients whose transposed operand has columns 1 KB or more apart (copied
k-major, 48 rows at a time). Forward and backward against the oracle on every
kernel path, and bitwise identical for 1 to 3 threads."""
import numpy as np
import pytest

import rnnfast
from rnnfast import _kernels

from conftest import ARCHS, RTOL, assert_close, backward, forward, make_problem, run_both

CASES = [  # cell, T, B, I, H, dtype
    ("lstm", 3, 50, 512, 512, np.float32),   # 2 KB rows, 50 > 48 rows, K = 512 = 2 k-blocks
    ("gru", 3, 100, 256, 256, np.float64),   # 2 KB rows in double, 300 rows = 2 m-blocks
    ("rnn", 11, 50, 1024, 128, np.float32),  # 4 KB rows of x, 550 rows = 2 m-blocks
    # dW: columns of dG 2.5 KB apart, K = T B = 300 = 2 k-blocks, 640 rows = 2 m-blocks
    ("lstm", 6, 50, 64, 160, np.float32),
    # all gates projected in one product (W_ih fits the L2), x's 2 KB rows
    # copied once for them, H = 40 not a whole number of panels
    ("lstm", 2, 30, 512, 40, np.float32),
]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("cell,T,B,I,H,dtype", CASES)
def test_blocked_shapes_match_oracle(arch, cell, T, B, I, H, dtype):
    _kernels.set_arch(arch)
    check_against_oracle(cell, make_problem(cell, T, B, I, H, dtype=dtype, seed=11), {},
                         RTOL[dtype])


def check_against_oracle(cell, p, opts, rtol):
    fo, fg, ro, rg = run_both(cell, p, opts)
    for name, a, e in (("y", fo[0], ro[0]), ("h_n", fo[1], ro[1])):
        assert_close(a, e, rtol, name)
    for name, e in rg.as_dict().items():
        assert_close(fg.as_dict()[name], e, rtol, name)


# H = 256 in double: 2 KB state rows, which the forward keeps at a padded
# stride (rnf_state_stride); B = 1 and 2 take the one-call recurrent product
# (the second row read at that stride), the original GRU's r * h rows too.
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("cell,B,opts", [("lstm", 2, {}), ("lstm", 1, {}), ("rnn", 7, {}),
                                         ("gru", 2, {"linear_before_reset": False}),
                                         ("gru", 5, {"linear_before_reset": False})])
def test_padded_state_rows_match_oracle(arch, cell, B, opts):
    _kernels.set_arch(arch)
    p = make_problem(cell, 5, B, 24, 256, dtype=np.float64, seed=13)
    check_against_oracle(cell, p, opts, RTOL[np.float64])


@pytest.mark.parametrize("split", ["units", "rows"])
@pytest.mark.parametrize("cell,T,B,I,H,dtype", CASES[:1])
def test_blocked_shapes_bitwise_across_threads(cell, T, B, I, H, dtype, split, monkeypatch):
    monkeypatch.setenv("RNNFAST_SPLIT", split)
    p = make_problem(cell, T, B, I, H, dtype=dtype, seed=12)
    runs = []
    for n in (1, 2, 3):
        rnnfast.set_num_threads(n)
        out = forward(rnnfast, cell, p, {})
        runs.append([*out, *backward(rnnfast, cell, out, p).as_dict().values()])
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert a.tobytes() == b.tobytes()
