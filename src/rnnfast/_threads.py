"""Thread count and run-time configuration."""
from __future__ import annotations

import numbers
import os
import sys
import warnings
from typing import Any, Dict, List, Optional

from . import _kernels

_num_threads: Optional[int] = None
# GNU libgomp's thread pool does not survive fork(): a child of a process whose
# kernels ran on several OpenMP threads would hang in its first parallel
# region. Such a child runs every kernel on one thread instead (serially,
# without entering the pool), with the same results.
_pool_started = False
_forked_child = False


def _after_fork_in_child() -> None:
    global _forked_child
    _forked_child = _forked_child or _pool_started


os.register_at_fork(after_in_child=_after_fork_in_child)


# Whether OMP_NUM_THREADS was set at start-up (OpenMP reads it only then): a
# count asked for that way is kept even above a CPU quota.
_OMP_ENV_SET = bool(os.environ.get("OMP_NUM_THREADS", "").strip())
_quota_cache: List[Optional[int]] = []


def _read(path: str) -> Optional[str]:
    try:
        with open(path) as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _ratio(quota: Optional[str], period: Optional[str]) -> Optional[float]:
    """quota / period where both are positive numbers ("max", -1: None)."""
    try:
        q, p = float(quota), float(period)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return q / p if q > 0 and p > 0 else None


def _ancestors(base: str, path: str) -> List[str]:
    """base/path and each of its parents up to base itself."""
    parts = [q for q in path.split("/") if q and q not in (".", "..")]
    return [os.path.join(base, *parts[:i]) for i in range(len(parts), -1, -1)]


def cpu_quota(root: str = "/sys/fs/cgroup", self_cgroup: str = "/proc/self/cgroup") -> Optional[int]:
    """The CPUs this process's cgroups let it use in full, every period (a
    container's `--cpus`): the smallest quota / period over its cgroup and
    their parents, cgroup v2 (cpu.max) or v1 (cpu.cfs_quota_us), rounded
    down, at least 1. None where no quota is set or none can be read.

    OpenMP starts a thread for each CPU the process may be scheduled on,
    however little CPU time a quota gives; rnnfast's threads spin at each
    step's barrier, and a quota that throttles the team while one thread is
    off the CPU stops them all."""
    text = _read(self_cgroup)
    if text is None:
        return None
    found: List[Optional[float]] = []
    for line in text.splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        _, controllers, path = fields
        if controllers == "":  # v2: one hierarchy, "0::/path"; cpu.max is "max 100000" or "Q P"
            for d in _ancestors(root, path):
                v = (_read(os.path.join(d, "cpu.max")) or "").split()
                found.append(_ratio(*v) if len(v) == 2 else None)
        elif "cpu" in controllers.split(","):  # v1: "N:cpu,cpuacct:/path"
            for base in dict.fromkeys((os.path.join(root, controllers), os.path.join(root, "cpu"))):
                found += [_ratio(_read(os.path.join(d, "cpu.cfs_quota_us")),
                                 _read(os.path.join(d, "cpu.cfs_period_us")))
                          for d in _ancestors(base, path)]
    quotas = [r for r in found if r is not None]
    return max(1, int(min(quotas))) if quotas else None


def _quota() -> Optional[int]:
    if not _quota_cache:
        try:
            _quota_cache.append(cpu_quota())
        except Exception:  # noqa: BLE001 -- an odd /sys must not break import-time defaults
            _quota_cache.append(None)
    return _quota_cache[0]


def set_num_threads(n: Optional[int]) -> None:
    """Use n OpenMP threads in every kernel call (None: back to the default,
    which is OMP_NUM_THREADS if set, else all cores, or as many as a CPU quota
    gives in full, if fewer: cpu_quota()). A call whose steps
    are too small to pay for a barrier each runs on fewer (README, "How it
    is built"), and none on more than the process has CPUs
    (RNNFAST_EXACT_THREADS=1 keeps n); the bits are the same."""
    global _num_threads
    if n is None:
        _num_threads = None
        return
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n: expected a positive int or None, got {n!r}")
    if not 1 <= n <= _kernels.MAX_THREADS:
        raise ValueError(f"n: expected a positive int up to {_kernels.MAX_THREADS} or None, "
                         f"got {n}")
    if _forked_child and n > 1:
        warnings.warn("rnnfast: this process was forked after kernels ran on several OpenMP "
                      "threads; OpenMP cannot start threads again here, so kernels stay on one "
                      "thread (use the 'spawn' or 'forkserver' start method for parallel "
                      "workers)", RuntimeWarning, stacklevel=2)
    _num_threads = int(n)


def get_num_threads() -> int:
    """The number of threads the next kernel call will use: 1 in a process
    forked from one whose kernels had run on several threads."""
    if _forked_child:
        return 1
    if _num_threads is not None:
        return _num_threads
    if not _kernels.openmp_enabled():
        return 1  # a build without OpenMP runs serially
    # OpenMP's own setting: OMP_NUM_THREADS at start-up, or a later
    # omp_set_num_threads, which is how threadpoolctl limits the pool; without
    # OMP_NUM_THREADS, no more than a CPU quota gives.
    n = max(1, _kernels.max_threads())
    q = None if _OMP_ENV_SET else _quota()
    return min(n, q) if q else n


def for_call() -> int:
    """get_num_threads(), for a kernel call about to run: notes when that
    starts OpenMP's thread pool, which a forked child cannot use."""
    global _pool_started
    n = get_num_threads()
    if n > 1:
        _pool_started = True
    return n


def _cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The processor's name, from Linux's cpuinfo ("model name", with the
    family and model numbers, which a virtual machine's bare "AMD EPYC"
    leaves out), else what the platform module says, else "unknown".
    Timings from machines of one kind differ by CPU; a report names it."""
    first: Dict[str, str] = {}
    for line in (_read(cpuinfo) or "").splitlines():
        key, _, value = line.partition(":")
        first.setdefault(key.strip(), " ".join(value.split()))
    name = first.get("model name")
    if name:
        if first.get("cpu family") and first.get("model"):
            name += f" (family {first['cpu family']}, model {first['model']})"
        return name
    import platform

    return platform.processor() or "unknown"


def show_config(file: Any = None) -> Dict[str, Any]:
    """Print (to file, default stdout) and return the build and run-time setup:
    version, CPU and its L2 cache, SIMD path chosen at run time, OpenMP and
    threads, build flags."""
    from . import __version__

    paths = [p for p in ("avx512", "avx2", "baseline") if _kernels.arch_supported(p)]
    cfg = {
        "version": __version__,
        "cpu": _cpu_model(),
        "l2_cache_bytes": _kernels.l2_bytes(),
        "simd_path": _kernels.arch_name(),
        "simd_paths_available": paths,
        "openmp": _kernels.openmp_enabled(),
        "num_threads": get_num_threads(),
        "cpus": _kernels.cpus(),
        "cpu_quota": _quota() or "none",
        "build_flags": _kernels.build_flags(),
        "numpy": __import__("numpy").__version__,
        "python": sys.version.split()[0],
    }
    out = file or sys.stdout
    for k, v in cfg.items():
        print(f"{k:>22}: {', '.join(v) if isinstance(v, list) else v}", file=out)
    return cfg
