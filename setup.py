"""Build rnnfast's extension: csrc/ (C, OpenMP) under one Cython module.

The GEMM source csrc/kernels/gemm_isa.c is compiled once per ISA with that
ISA's flags (baseline, AVX2+FMA, AVX-512); csrc/dispatch.c picks one at run
time. Nothing is built with -march=native, so the wheel runs on any x86-64.
OpenMP is probed; without it the build still succeeds, serial, and says so.
"""
import os
import platform
import shutil
import sys
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")
ISA_FLAGS = {
    "baseline": [],
    "avx2": ["-mavx2", "-mfma"],
    "avx512": ["-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq", "-mavx2", "-mfma"],
}
COMMON = ["-O3", "-std=c11", "-fno-math-errno", "-Wall"]
SANITIZE = os.environ.get("RNNFAST_SANITIZE") == "1"
if SANITIZE:
    COMMON += ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
               "-fno-omit-frame-pointer", "-g"]


def _compiles_with(compiler, flags):
    """True if a tiny OpenMP program compiles and links with flags."""
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write("#include <omp.h>\nint main(void){return omp_get_max_threads()<1;}\n")
        objs = compiler.compile([src], output_dir=tmp, extra_postargs=flags)
        compiler.link_executable(objs, os.path.join(tmp, "probe"), extra_postargs=flags)
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_ext):
    def build_extensions(self):
        c = self.compiler
        omp = [] if os.environ.get("RNNFAST_NO_OPENMP") == "1" else ["-fopenmp"]
        if omp and not _compiles_with(c, omp):
            omp = []
        if not omp:
            print("rnnfast: OpenMP not available; building the serial kernels", file=sys.stderr)
        isas = list(ISA_FLAGS) if X86 else ["baseline"]
        for ext in self.extensions:
            objs = []
            for isa in isas:
                out = os.path.join(self.build_temp, "isa_" + isa)
                objs += c.compile(
                    [os.path.join("csrc", "kernels", "gemm_isa.c")],
                    output_dir=out,
                    macros=[("RNF_ISA_NAME", isa)],
                    include_dirs=ext.include_dirs,
                    # explicit FMA intrinsics only: vector body and tail round alike
                    extra_postargs=COMMON + ISA_FLAGS[isa] + ["-ffp-contract=off"],
                )
            ext.extra_objects = objs
            ext.extra_compile_args = COMMON + omp
            ext.extra_link_args = omp + (["-fsanitize=address,undefined"] if SANITIZE else [])
            if X86:
                ext.define_macros = list(ext.define_macros or []) + [("RNF_HAVE_X86_KERNELS", "1")]
            ext.define_macros.append(("RNF_BUILD_FLAGS", '"%s"' % " ".join(COMMON + omp)))
        super().build_extensions()


# The headers the C sources include (the drivers and kernels are templates
# in headers): build_ext rebuilds when one is newer than the module.
HEADERS = sorted(os.path.join(d, f) for d, _, fs in os.walk("csrc") for f in fs if f.endswith(".h"))

ext = Extension(
    "rnnfast._kernels",
    depends=HEADERS + [os.path.join("csrc", "kernels", "gemm_isa.c")],
    sources=[
        "src/rnnfast/_kernels.pyx",
        "csrc/sequence.c",
        "csrc/layout.c",
        "csrc/dispatch.c",
    ],
    include_dirs=["csrc/include", "csrc", np.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
)

setup(
    ext_modules=cythonize([ext], language_level=3, compiler_directives={"boundscheck": False}),
    cmdclass={"build_ext": BuildExt},
)
