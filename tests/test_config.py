"""Threads API, OMP_NUM_THREADS, show_config and kernel-path selection."""
import io
import os
import subprocess
import sys

import numpy as np
import pytest

import rnnfast
from rnnfast import _kernels, _threads

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
    assert cfg["cpus"] == _kernels.cpus() >= 1
    text = buf.getvalue()
    assert "simd_path" in text and "num_threads" in text and "build_flags" in text
    assert isinstance(cfg["cpu"], str) and cfg["cpu"] and f"cpu: {cfg['cpu']}" in text
    assert f"l2_cache_bytes: {_kernels.l2_bytes()}" in text


def test_l2_bytes_is_what_the_c_library_says():
    l2 = _kernels.l2_bytes()
    try:
        told = os.sysconf("SC_LEVEL2_CACHE_SIZE")
    except (ValueError, OSError):  # this platform's Python does not know the name
        told = 0
    # glibc's answer where it is a real L2, else the documented 1 MiB
    assert l2 == (told if told >= 64 * 1024 else 1 << 20)
    assert rnnfast.show_config(file=io.StringIO())["l2_cache_bytes"] == l2


def test_cpu_model_read_from_cpuinfo(tmp_path):
    from rnnfast._threads import _cpu_model

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: X\ncpu family\t: 25\nmodel\t\t: 17\n"
                    "model name\t:  Example  CPU 9000 \n"
                    "processor\t: 1\ncpu family\t: 6\nmodel name\t: Other\n")
    assert _cpu_model(str(info)) == "Example CPU 9000 (family 25, model 17)"
    info.write_text("processor\t: 0\nmodel name\t: Example CPU 9000\n")  # no numbers
    assert _cpu_model(str(info)) == "Example CPU 9000"
    import platform

    fallback = platform.processor() or "unknown"
    info.write_text("processor\t: 0\nmodel name\t:\n")  # named nowhere
    assert _cpu_model(str(info)) == fallback
    assert _cpu_model(str(tmp_path / "missing")) == fallback


def test_every_path_agrees_with_the_oracle():
    from rnnfast import reference as ref
    rng = np.random.default_rng(0)
    x, w, u = rng.standard_normal((4, 3, 5)), rng.standard_normal((12, 5)), rng.standard_normal((12, 4))
    want = ref.gru(x, w, u).y
    for arch in ARCHS:
        _kernels.set_arch(arch)
        np.testing.assert_allclose(rnnfast.gru(x, w, u).y, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("arch", ARCHS)
def test_peak_loop_runs_on_every_path(arch):
    # The report's "of peak" reference. A loop the compiler dropped, or a
    # wrong flop count, would show as an impossible rate: no core does 1000
    # GFLOP/s (a 512-bit core with two FMA units at 5 GHz does 320 in float).
    _kernels.set_arch(arch)
    for dtype in (np.float32, np.float64):
        for n in (1, 2):
            g = _kernels.peak_gflops(dtype, n, 0.01)
            assert 0 < g < 1000 * n, (arch, dtype, n, g)


def test_peak_loop_refuses_bad_arguments():
    with pytest.raises(ValueError, match="nthreads"):
        _kernels.peak_gflops(np.float32, 0)
    for s in (0.0, -1.0, 61.0, float("nan")):
        with pytest.raises(ValueError, match="seconds"):
            _kernels.peak_gflops(np.float32, 1, s)
    with pytest.raises(TypeError, match="dtype"):
        _kernels.peak_gflops(np.int32, 1, 0.01)


def test_unknown_arch_is_rejected():
    with pytest.raises(ValueError, match="unknown kernel path"):
        _kernels.set_arch("sse9")


def _cgroup(tmp_path, line, files):
    """A fake /sys/fs/cgroup under tmp_path and a /proc/self/cgroup naming line."""
    for rel, text in files.items():
        f = tmp_path / "sys" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    (tmp_path / "self_cgroup").write_text(line + "\n")
    return _threads.cpu_quota(str(tmp_path / "sys"), str(tmp_path / "self_cgroup"))


@pytest.mark.parametrize("line,files,want", [
    # cgroup v2: the smallest quota over the cgroup and its parents, rounded down
    ("0::/a/b", {"a/b/cpu.max": "350000 100000", "a/cpu.max": "max 100000"}, 3),
    ("0::/a/b", {"a/b/cpu.max": "max 100000", "a/cpu.max": "250000 100000",
                 "cpu.max": "800000 100000"}, 2),
    ("0::/", {"cpu.max": "50000 100000"}, 1),       # half a CPU: still one thread
    ("0::/", {"cpu.max": "max 100000"}, None),      # no quota
    ("0::/", {"cpu.max": "lots of CPUs"}, None),    # unreadable: no quota
    ("0::/", {}, None),
    # cgroup v1, the cpu controller mounted on its own or with cpuacct
    ("4:cpu,cpuacct:/docker/x", {"cpu,cpuacct/docker/x/cpu.cfs_quota_us": "250000",
                                 "cpu,cpuacct/docker/x/cpu.cfs_period_us": "100000"}, 2),
    ("3:cpu:/", {"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None),
    ("5:memory:/m", {"memory/m/cpu.cfs_quota_us": "100000",
                     "memory/m/cpu.cfs_period_us": "100000"}, None),  # not the cpu controller
])
def test_cpu_quota_reads_cgroup_limits(tmp_path, line, files, want):
    assert _cgroup(tmp_path, line, files) == want


def test_cpu_quota_without_proc_is_none(tmp_path):
    assert _threads.cpu_quota(str(tmp_path), str(tmp_path / "missing")) is None


@pytest.mark.parametrize("omp_env,quota", [(False, 1), (False, None), (True, 1)])
def test_default_threads_stay_within_a_cpu_quota(monkeypatch, omp_env, quota):
    """Without OMP_NUM_THREADS the default is capped at the quota; with it, or
    with set_num_threads, the count asked for is kept."""
    monkeypatch.setattr(_threads, "_quota_cache", [quota])
    monkeypatch.setattr(_threads, "_OMP_ENV_SET", omp_env)
    rnnfast.set_num_threads(None)
    openmp = max(1, _kernels.max_threads()) if _kernels.openmp_enabled() else 1
    assert rnnfast.get_num_threads() == (min(openmp, quota) if quota and not omp_env else openmp)
    rnnfast.set_num_threads(3)
    assert rnnfast.get_num_threads() == 3
    rnnfast.set_num_threads(None)
    assert rnnfast.show_config(file=io.StringIO())["cpu_quota"] == (quota or "none")
