"""Shared helpers: random problems, one runner for both implementations,
and the comparison rule used against the oracle."""
import contextlib
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import rnnfast
from rnnfast import _kernels
from rnnfast import reference as ref

settings.register_profile(
    "ci", max_examples=1000, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough", max_examples=3000, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(  # the sanitizer build runs every path, with fewer examples
    "sanitize", max_examples=150, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

if os.environ.get("RNNFAST_REQUIRE_PEERS") == "1":
    # CI installs the peers; a cross-check must not quietly skip there.
    import onnx  # noqa: F401
    import onnxruntime  # noqa: F401
    import torch  # noqa: F401

# Calls whose steps are too small to pay for a barrier each run on fewer
# threads than asked (rnf_call_threads); the tests keep the count they ask
# for, so that small problems exercise every split. test_call_threads.py
# checks the reduction itself.
os.environ["RNNFAST_EXACT_THREADS"] = "1"

GATES = {"lstm": 4, "gru": 3, "rnn": 1}
ARCHS = [a for a in ("baseline", "avx2", "avx512") if _kernels.arch_supported(a)]
RTOL = {np.float64: 1e-10, np.float32: 1e-4}


@pytest.fixture(autouse=True)
def _restore_runtime():
    """Each test starts on the detected kernel path with default threads."""
    arch = _kernels.arch_name()
    yield
    _kernels.set_arch(arch)
    rnnfast.set_num_threads(None)


def make_problem(cell, T, B, I, H, dtype=np.float64, seed=0, *, bias=True, h0=True, c0=True,
                 peephole=False, lengths=None, scale=1.0, upstream=(True, True, True)):
    """Arrays for one call: weights ~ scale * N(0, 1/sqrt(H+I)), data ~ N(0, 1)."""
    rng = np.random.default_rng(seed)
    G = GATES[cell]
    ws = scale / np.sqrt(max(H + I, 1))

    def r(*shape, s=1.0):
        return (rng.standard_normal(shape) * s).astype(dtype)

    p = dict(x=r(T, B, I), w_ih=r(G * H, I, s=ws), w_hh=r(G * H, H, s=ws),
             b_ih=r(G * H, s=scale * 0.5) if bias else None,
             b_hh=r(G * H, s=scale * 0.5) if bias else None,
             h0=r(B, H) if h0 else None)
    if cell == "lstm":
        p["c0"] = r(B, H) if c0 else None
        p["peephole"] = r(3, H, s=scale * 0.5) if peephole else None
    p["seq_lengths"] = None if lengths is None else np.asarray(lengths, dtype=np.int64)
    dy, dh, dc = upstream
    p["dy"] = r(T, B, H) if dy else None
    p["dh_n"] = r(B, H) if dh else None
    if cell == "lstm":
        p["dc_n"] = r(B, H) if dc else None
    return p


FORWARD_KEYS = ("x", "w_ih", "w_hh", "b_ih", "b_hh", "h0", "c0")


def forward(mod, cell, p, opts, keep_tape=True):
    """Run mod.<cell> (mod is rnnfast or rnnfast.reference) on problem p."""
    args = [p.get(k) for k in FORWARD_KEYS if k != "c0" or cell == "lstm"]
    kw = dict(opts, seq_lengths=p.get("seq_lengths"), keep_tape=keep_tape)
    if cell == "lstm":
        kw["peephole"] = p.get("peephole")
    return getattr(mod, cell)(*args, **kw)


def backward(mod, cell, out, p):
    if cell == "lstm":
        return mod.lstm_backward(out, p.get("dy"), p.get("dh_n"), p.get("dc_n"))
    return getattr(mod, cell + "_backward")(out, p.get("dy"), p.get("dh_n"))


def run_both(cell, p, opts):
    """(fast out, fast grads, oracle out, oracle grads)."""
    fo = forward(rnnfast, cell, p, opts)
    fg = backward(rnnfast, cell, fo, p)
    ro = forward(ref, cell, p, opts)
    rg = backward(ref, cell, ro, p)
    return fo, fg, ro, rg


@contextlib.contextmanager
def extended():
    """The oracle computes in np.longdouble (x87 extended precision on
    x86-64) while inside: its distance from the float64 oracle's answer is
    that answer's rounding error."""
    old = ref._REAL
    ref._REAL = np.longdouble
    try:
        yield
    finally:
        ref._REAL = old


def rounding_error(e, x) -> float:
    """max |e - x| over the entries finite in both: e in float64, x the same
    answer in extended precision."""
    if e is None or x is None:
        return 0.0
    e, x = np.asarray(e, dtype=np.longdouble), np.asarray(x, dtype=np.longdouble)
    ok = np.isfinite(e) & np.isfinite(x)
    return float(np.max(np.abs(e - x)[ok], initial=0.0))


def assert_close(actual, expected, rtol, what="", dtype=np.float64, noise=0.0):
    """Elementwise |a - e| <= rtol * (|e| + max|e|): relative to each element,
    with the array's own scale as the floor, so entries that cancel to ~0 are
    held to the precision of the terms that produced them. Below the dtype's
    smallest normal number nothing is representable, so that is the floor.
    Where a whole array cancels to rounding noise, its own scale says nothing
    about the terms; noise (a bound on the expected answer's own rounding
    error) is then the floor."""
    dtype = np.asarray(actual).dtype if np.asarray(actual).dtype.kind == "f" else dtype
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if expected.size == 0:
        return
    scale = float(np.max(np.abs(expected[np.isfinite(expected)]), initial=0.0))
    floor = float(np.finfo(dtype).tiny)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=max(rtol * scale, floor, noise),
                               err_msg=what,
                               equal_nan=True)


F32_SENSITIVITY = 1e-5
F32_DRAWS = 4  # perturbations answers_to_f32 tries


def answers_to_f32(solve, p) -> bool:
    """Can float32 answer problem p to RTOL (1e-4)? The problem, solved in
    float64, must not move by more than F32_SENSITIVITY (relative to each
    array's scale) when every input is perturbed by float32 rounding: sums
    that cancel (an output a thousand times smaller than its terms), or
    states that grow without bound, amplify rounding past what any float32
    computation can hold. solve(q, bump) returns the answer's arrays for
    problem q; bump is None for the exact problem and, for the perturbed one,
    the function that perturbs a float input (for scalar inputs of its own).

    One random perturbation can miss a cancellation: its rounding errors may
    happen to cancel too. A Jordan dw_ih (I = H = 1) that moved by 5e-6 under
    one draw moved by up to 2.5e-4 under others, and float32 missed it by
    3e-4; so F32_DRAWS independent draws must all stay within bounds."""
    rng = np.random.default_rng(0)
    eps = np.finfo(np.float32).eps

    def bump(v):
        return v * (1 + rng.uniform(-eps, eps, np.shape(v)))

    def is_float(v):
        return isinstance(v, np.ndarray) and v.dtype.kind == "f"

    p64 = {k: v.astype(np.float64) if is_float(v) else v for k, v in p.items()}
    exact = [np.asarray(a) for a in solve(p64, None)]
    for a in exact:
        if not np.all(np.isfinite(a)) or np.max(np.abs(a), initial=0.0) > 1e30:
            return False
    for _ in range(F32_DRAWS):
        bumped = {k: bump(v) if is_float(v) else v for k, v in p64.items()}
        for a, b in zip(exact, solve(bumped, bump)):
            scale = np.max(np.abs(a), initial=0.0)
            if a.size and np.max(np.abs(a - np.asarray(b))) > F32_SENSITIVITY * max(scale, 1e-30):
                return False
    return True
