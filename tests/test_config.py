"""Threads API, OMP_NUM_THREADS, show_config and kernel-path selection."""
import io
import os
import subprocess
import sys

import numpy as np
import pytest

import rnnfast
from rnnfast import _kernels

from conftest import ARCHS


def test_set_and_get_num_threads():
    rnnfast.set_num_threads(3)
    assert rnnfast.get_num_threads() == 3
    rnnfast.set_num_threads(None)
    assert rnnfast.get_num_threads() >= 1


def test_omp_num_threads_is_honoured():
    code = "import rnnfast; print(rnnfast.get_num_threads())"
    env = dict(os.environ, OMP_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "3", out.stderr


def test_rnnfast_arch_env_forces_a_path():
    code = "import rnnfast; print(rnnfast.show_config(file=open('/dev/null','w'))['simd_path'])"
    env = dict(os.environ, RNNFAST_ARCH="baseline")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "baseline", out.stderr


def test_show_config_reports_path_threads_flags():
    buf = io.StringIO()
    cfg = rnnfast.show_config(file=buf)
    assert cfg["version"] == rnnfast.__version__
    assert cfg["simd_path"] in ("baseline", "avx2", "avx512")
    assert cfg["simd_path"] in cfg["simd_paths_available"]
    assert "-march=native" not in cfg["build_flags"]
    text = buf.getvalue()
    assert "simd_path" in text and "num_threads" in text and "build_flags" in text


def test_every_path_agrees_with_the_oracle():
    from rnnfast import reference as ref
    rng = np.random.default_rng(0)
    x, w, u = rng.standard_normal((4, 3, 5)), rng.standard_normal((12, 5)), rng.standard_normal((12, 4))
    want = ref.gru(x, w, u).y
    for arch in ARCHS:
        _kernels.set_arch(arch)
        np.testing.assert_allclose(rnnfast.gru(x, w, u).y, want, rtol=1e-12, atol=1e-14)


def test_unknown_arch_is_rejected():
    with pytest.raises(ValueError, match="unknown kernel path"):
        _kernels.set_arch("sse9")
