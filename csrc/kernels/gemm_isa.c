/*
 * gemm_isa.c -- one ISA's build of the GEMM template. setup.py compiles this
 * file once per ISA, defining RNF_ISA_NAME (baseline, avx2, avx512) and that
 * ISA's -m flags, so the symbols carry the ISA in their names.
 */
#include "kernels.h"

#ifndef RNF_ISA_NAME
#define RNF_ISA_NAME baseline
#endif
#define ISA RNF_CAT(_, RNF_ISA_NAME)
#define RNF_STR_(x) #x
#define RNF_STR(x) RNF_STR_(x)

#define REAL float
#define SFX f32
#include "gemm_tmpl.h"
#undef REAL
#undef SFX
#define REAL double
#define SFX f64
#include "gemm_tmpl.h"
#undef REAL
#undef SFX

const rnf_kernels RNF_CAT(rnf_kernels, ISA) = {
    RNF_STR(RNF_ISA_NAME),
    RNF_CAT(rnf_gemm_f32, ISA),
    RNF_CAT(rnf_gemm_f64, ISA),
};
