"""Thread count and run-time configuration."""
from __future__ import annotations

import numbers
import os
import sys
from typing import Any, Dict, Optional

from . import _kernels

_num_threads: Optional[int] = None


def _from_env() -> Optional[int]:
    v = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(v) if v.isdigit() and int(v) > 0 else None


def set_num_threads(n: Optional[int]) -> None:
    """Use n OpenMP threads in every kernel call (None: back to the default,
    which is OMP_NUM_THREADS if set, else all cores)."""
    global _num_threads
    if n is None:
        _num_threads = None
        return
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n: expected a positive int or None, got {n!r}")
    if n < 1:
        raise ValueError(f"n: expected a positive int or None, got {n}")
    _num_threads = int(n)


def get_num_threads() -> int:
    """The number of threads the next kernel call will use."""
    if _num_threads is not None:
        return _num_threads
    return _from_env() or _kernels.max_threads() or os.cpu_count() or 1


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
