"""A layer's trusted inference call leaves a plan, which the next calls run
with their own arrays (rnnfast/layers.py, _planned). Whatever the plan skips,
a planned call must give the bits of the whole way, raise the same errors,
and let go of the plan wherever it may no longer hold."""
import pickle

import numpy as np
import pytest

import rnnfast
from conftest import ARCHS

rng = np.random.default_rng(7)


def planned(m, *args, **kw):
    """m called until it holds a plan, then once more on it; the result."""
    for _ in range(3):
        if m._plan is not None:
            break
        m(*args, **kw)
    assert m._plan is not None  # the call below is a planned one
    return m(*args, **kw)


def assert_same(got, want):
    if isinstance(want, (tuple, list)):
        assert isinstance(got, type(want)) and len(got) == len(want)
        for a, b in zip(got, want):
            assert_same(a, b)
    elif want is None:
        assert got is None
    else:
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


LAYERS = [
    (rnnfast.LSTM, {}), (rnnfast.LSTM, {"peephole": True, "clip": 0.5}),
    (rnnfast.GRU, {}), (rnnfast.GRU, {"linear_before_reset": False}),
    (rnnfast.RNN, {"nonlinearity": "relu"}),
]


@pytest.mark.parametrize("layer,kw", LAYERS)
@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_a_planned_call_gives_the_bits_of_the_whole_way(layer, kw, num_layers, batch_first,
                                                        nthreads):
    rnnfast.set_num_threads(nthreads)
    T, B, I, H = 7, 3, 5, 36
    make = lambda: layer(I, H, num_layers, batch_first=batch_first, seed=3, **kw).eval()  # noqa
    m = make()
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I)).astype(np.float32)
    states = rng.standard_normal((num_layers, B, H)).astype(np.float32)
    hx = (states, states[::-1].copy()) if layer is rnnfast.LSTM else states
    lens = np.array([7, 0, 4])
    for args, kwargs in [((x,), {}), ((x, hx), {}), ((x,), {"seq_lengths": lens}),
                         ((x.astype(np.float64), hx), {"seq_lengths": lens})]:
        want = make()(*args, **kwargs)  # a new layer's first call: the whole way
        assert_same(planned(m, *args, **kwargs), want)
    if layer is rnnfast.LSTM:  # either state alone
        assert_same(planned(m, x, (None, states)), make()(x, (None, states)))
        assert_same(planned(m, x, (states, None)), make()(x, (states, None)))


@pytest.mark.parametrize("layer,kw", LAYERS)
@pytest.mark.parametrize("B", [1, 6])
def test_the_plan_sees_a_change_inside_any_weight(layer, kw, B):
    """A change made in place, where no attribute is set, shows in the
    planned call's verify: that call gives the new weights' result, drops
    the plan, and the next calls compare first and plan again."""
    rnnfast.set_num_threads(2)
    x = rng.standard_normal((9, B, 4)).astype(np.float32)
    for name in layer(4, 40, 2, **kw).parameters():
        m, fresh = (layer(4, 40, 2, seed=1, **kw).eval() for _ in range(2))
        y0 = planned(m, x)[0]
        for mod in (m, fresh):
            mod.parameters()[name].reshape(-1)[-1] += 0.5
        y1 = m(x)[0]
        np.testing.assert_array_equal(y1, fresh(x)[0])
        assert not np.array_equal(y1, y0), name
        assert m._plan is None and not m._trusted
        np.testing.assert_array_equal(planned(m, x)[0], y1)


@pytest.mark.parametrize("setting", [
    ("clip", 0.25), ("activations", ("hard_sigmoid", "tanh", "tanh")), ("batch_first", True),
    ("weight_hh_l0", None), ("training", True),
])
def test_setting_an_attribute_drops_the_plan(setting):
    name, value = setting
    m, fresh = (rnnfast.LSTM(3, 20, seed=2).eval() for _ in range(2))
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    planned(m, x)
    if value is None:  # a whole parameter assigned
        value = m.weight_hh_l0 * 0.5
    for mod in (m, fresh):
        setattr(mod, name, value)
    assert m._plan is None
    assert_same(m(x), fresh(x))
    if name != "training":
        assert_same(planned(m, x), fresh(x))


def test_train_and_eval_drop_the_plan():
    m = rnnfast.GRU(3, 20, seed=2).eval()
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    y = planned(m, x)[0]
    m.train()
    assert m._plan is None
    m(x)
    m.backward(np.ones_like(y))  # a training call's tape, not the plan's
    m.eval()
    np.testing.assert_array_equal(planned(m, x)[0], y)


@pytest.mark.skipif(len(ARCHS) < 2, reason="one kernel path on this CPU")
def test_a_changed_kernel_path_drops_the_plan():
    m = rnnfast.LSTM(3, 24, seed=4).eval()
    x = rng.standard_normal((6, 1, 3)).astype(np.float32)
    planned(m, x)
    for arch in ARCHS:
        rnnfast._kernels.set_arch(arch)
        want = rnnfast.LSTM(3, 24, seed=4).eval()(x)
        assert_same(m(x), want)
        assert m._plan is None or m._plan[0] == arch
        assert_same(planned(m, x), want)


def test_a_bidirectional_layer_makes_no_plan():
    """Its two directions run concurrently on split threads, which the plan
    does not do; it keeps going the whole way, on trust."""
    m = rnnfast.LSTM(3, 8, bidirectional=True, seed=0).eval()
    x = rng.standard_normal((4, 2, 3)).astype(np.float32)
    for _ in range(4):
        m(x)
    assert m._plan is None and m._trusted


def test_a_planned_call_checks_its_arguments_as_the_whole_way():
    m = rnnfast.LSTM(3, 8, 2, seed=0).eval()
    x = rng.standard_normal((4, 2, 3)).astype(np.float32)
    planned(m, x)
    h = np.zeros((2, 2, 8), np.float32)
    bad = [((x[:, :, :2],), "x: expected last dimension I = 3"),
           ((x[0],), "x: expected a 3-D array"),
           ((x, (h[:1], None)), r"hx\[0\]: expected shape"),
           ((x, (h, h[:, :1])), r"hx\[1\]: expected shape"),
           ((x, h), "hx: expected a pair"),
           ((x.astype(np.int32),), "x: expected a floating-point array")]
    for args, match in bad:
        with pytest.raises((ValueError, TypeError), match=match):
            m(*args)
    with pytest.raises(ValueError, match="seq_lengths"):
        m(x, seq_lengths=[5, 1])
    assert m._plan is not None  # a bad call changes nothing
    y, (h_n, c_n) = m(x)
    assert y.shape == (4, 2, 8) and h_n.shape == c_n.shape == (2, 2, 8)


def test_a_planned_call_leaves_its_arguments_alone():
    m = rnnfast.LSTM(3, 8, 2, seed=0).eval()
    x = rng.standard_normal((4, 2, 3)).astype(np.float32)
    h = rng.standard_normal((2, 2, 8)).astype(np.float32)
    c = rng.standard_normal((2, 2, 8)).astype(np.float32)
    keep = [a.copy() for a in (x, h, c)]
    y, (h_n, c_n) = planned(m, x, (h, c))
    for a, b in zip((x, h, c), keep):
        np.testing.assert_array_equal(a, b)
    y[:] = 0
    h_n[:] = 0  # outputs are the caller's own: the next call is unchanged
    assert np.any(planned(m, x, (h, c))[0])


def test_a_pickled_layer_leaves_its_plan_behind():
    m = rnnfast.GRU(3, 8, seed=0).eval()
    x = rng.standard_normal((4, 2, 3)).astype(np.float32)
    y = planned(m, x)[0]
    m2 = pickle.loads(pickle.dumps(m))
    assert m2._plan is None
    np.testing.assert_array_equal(m2(x)[0], y)
    np.testing.assert_array_equal(planned(m2, x)[0], y)


def test_a_planned_call_runs_on_the_threads_set_now(monkeypatch):
    """The plan keeps no thread count: each call asks for the current one."""
    m = rnnfast.RNN(3, 8, 2, seed=0).eval()
    x = rng.standard_normal((4, 1, 3)).astype(np.float32)
    planned(m, x)
    asked = []
    forward = rnnfast._kernels.forward

    def spy(*args, **kw):
        asked.append(kw["nthreads"])
        return forward(*args, **kw)

    monkeypatch.setattr(rnnfast._kernels, "forward", spy)
    for n in (1, 3, 2):
        rnnfast.set_num_threads(n)
        planned(m, x)
        assert asked[-2:] == [n, n]  # both layers
