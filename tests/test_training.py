"""clip_grad_norm."""
import numpy as np
import pytest

import rnnfast


def test_scales_in_place_to_max_norm_and_returns_prior_norm():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    total = rnnfast.clip_grad_norm(g, 1.0)
    assert total == 5.0
    np.testing.assert_allclose(g["a"], [0.6, 0.0])
    np.testing.assert_allclose(g["b"], [[0.8]])


def test_below_the_limit_nothing_changes():
    g = [np.array([0.3, 0.4], dtype=np.float32)]
    assert rnnfast.clip_grad_norm(g, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(g[0], np.array([0.3, 0.4], dtype=np.float32))


def test_accepts_gradients_object_and_skips_none():
    x = np.random.default_rng(0).standard_normal((3, 2, 2))
    out = rnnfast.rnn(x, np.ones((2, 2)), np.ones((2, 2)), keep_tape=True)
    g = rnnfast.rnn_backward(out, np.ones((3, 2, 2)))
    assert g.db_ih is None
    before = np.sqrt(sum(np.sum(v ** 2) for v in g.as_dict().values()))
    total = rnnfast.clip_grad_norm(g, before / 2)
    assert total == pytest.approx(before)
    after = np.sqrt(sum(np.sum(v ** 2) for v in g.as_dict().values()))
    assert after == pytest.approx(before / 2)


def test_non_finite_norm_leaves_arrays_alone():
    g = [np.array([np.inf, 1.0])]
    assert rnnfast.clip_grad_norm(g, 1.0) == np.inf
    assert g[0][1] == 1.0


@pytest.mark.parametrize("bad,exc", [(0.0, ValueError), (-1, ValueError), (float("inf"), ValueError),
                                     ("1", TypeError), (True, TypeError)])
def test_rejects_bad_max_norm(bad, exc):
    with pytest.raises(exc, match="^max_norm"):
        rnnfast.clip_grad_norm([np.ones(2)], bad)


def test_rejects_read_only_and_non_arrays():
    ro = np.ones(2)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        rnnfast.clip_grad_norm({"w": ro}, 1.0)
    with pytest.raises(TypeError, match=r"grads\['w'\]"):
        rnnfast.clip_grad_norm({"w": [1.0, 2.0]}, 1.0)
