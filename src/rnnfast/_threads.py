"""Thread count and run-time configuration."""
from __future__ import annotations

import numbers
import os
import sys
import warnings
from typing import Any, Dict, Optional

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


def set_num_threads(n: Optional[int]) -> None:
    """Use n OpenMP threads in every kernel call (None: back to the default,
    which is OMP_NUM_THREADS if set, else all cores). A call whose steps
    are too small to pay for a barrier each runs on fewer (README, "How it
    is built"; RNNFAST_EXACT_THREADS=1 keeps n); the bits are the same."""
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
    # omp_set_num_threads, which is how threadpoolctl limits the pool.
    return max(1, _kernels.max_threads())


def for_call() -> int:
    """get_num_threads(), for a kernel call about to run: notes when that
    starts OpenMP's thread pool, which a forked child cannot use."""
    global _pool_started
    n = get_num_threads()
    if n > 1:
        _pool_started = True
    return n


def show_config(file: Any = None) -> Dict[str, Any]:
    """Print (to file, default stdout) and return the build and run-time setup:
    version, SIMD path chosen at run time, OpenMP and threads, build flags."""
    from . import __version__

    paths = [p for p in ("avx512", "avx2", "baseline") if _kernels.arch_supported(p)]
    cfg = {
        "version": __version__,
        "simd_path": _kernels.arch_name(),
        "simd_paths_available": paths,
        "openmp": _kernels.openmp_enabled(),
        "num_threads": get_num_threads(),
        "build_flags": _kernels.build_flags(),
        "numpy": __import__("numpy").__version__,
        "python": sys.version.split()[0],
    }
    out = file or sys.stdout
    for k, v in cfg.items():
        print(f"{k:>22}: {', '.join(v) if isinstance(v, list) else v}", file=out)
    return cfg
