"""threadpoolctl sees rnnfast's OpenMP pool and can limit it."""
import numpy as np
import pytest

import rnnfast
from rnnfast import _kernels

threadpoolctl = pytest.importorskip("threadpoolctl")


@pytest.mark.skipif(not _kernels.openmp_enabled(), reason="built without OpenMP")
def test_threadpoolctl_sees_and_limits_the_openmp_pool(monkeypatch):
    rnnfast.set_num_threads(None)  # follow OpenMP's own setting
    x = np.ones((3, 2, 4), np.float32)
    rnnfast.lstm(x, np.ones((8, 4), np.float32), np.ones((8, 2), np.float32))
    pools = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "openmp"]
    assert pools, "threadpoolctl found no OpenMP runtime"
    with open("/proc/self/maps") as f:
        mapped = f.read()
    assert any(p["filepath"] in mapped for p in pools)
    before = rnnfast.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # read at start-up only; the limit wins
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert rnnfast.get_num_threads() == 1
        want = rnnfast.lstm(x, np.ones((8, 4), np.float32), np.ones((8, 2), np.float32)).y
    assert rnnfast.get_num_threads() == before
    np.testing.assert_array_equal(
        want, rnnfast.lstm(x, np.ones((8, 4), np.float32), np.ones((8, 2), np.float32)).y)


def test_an_explicit_setting_takes_precedence():
    rnnfast.set_num_threads(2)
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert rnnfast.get_num_threads() == 2
