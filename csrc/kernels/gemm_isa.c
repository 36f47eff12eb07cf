/*
 * gemm_isa.c -- one ISA's kernels: packed GEMM and gate math, float and
 * double. setup.py compiles this file once per ISA, defining RNF_ISA_NAME
 * (baseline, avx2, avx512) and passing that ISA's -m flags, so the symbols
 * carry the ISA in their names and dispatch.c can pick one at run time.
 */
#include <stdint.h>
#include <string.h>

#include "../include/rnnfast.h"
#include "kernels.h"

#ifndef RNF_ISA_NAME
#define RNF_ISA_NAME baseline
#endif
#define ISA RNF_CAT(_, RNF_ISA_NAME)
#define RNF_STR_(x) #x
#define RNF_STR(x) RNF_STR_(x)

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

/* ---------------------------------------------------------------- float */
#define REAL float
#define SFX f32
#define RNF_REAL_IS_DOUBLE 0
#if defined(__AVX512F__)
#define VEC __m512
#define VL 16
#define NR 32
#define MR_MAX 12
#define NP_WIDE1 4
#define NP_WIDE2 4
#define SIDE_MR 6 /* job rows beside a one-row product: 8 + 12 accumulators */
#define VMASK __mmask16
#define VMASK_N(n) ((__mmask16)((1u << (n)) - 1u))
#define VLOADM(m, p) _mm512_maskz_loadu_ps((m), (p))
#define VSTOREM(m, p, v) _mm512_mask_storeu_ps((p), (m), (v))
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSET1(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VZERO() _mm512_setzero_ps()
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VP(op) _mm512_##op##_ps
#define VI(op) _mm512_##op##_epi32
#define VCASTI(v) _mm512_castps_si512(v)
#define VCASTF(v) _mm512_castsi512_ps(v)
#define VBOOL __mmask16
#define VCMP(a, b, pred) _mm512_cmp_ps_mask((a), (b), (pred))
#define VSEL(m, t, f) _mm512_mask_blend_ps((m), (f), (t))
#define VFLOOR(a) _mm512_roundscale_ps((a), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)
#define VSCALEF(a, n) _mm512_scalef_ps((a), (n))
#define VRCP14(a) _mm512_rcp14_ps(a)
#elif defined(__AVX2__)
#define VEC __m256
#define VL 8
#define NR 16
#define MR_MAX 6
#define NP_WIDE1 3
#define NP_WIDE2 2
#define SIDE_MR 3 /* 6 + 6 accumulators of 16 registers */
#define VMASK __m256i
#define VMASK_N(n) _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define VLOADM(m, p) _mm256_maskload_ps((p), (m))
#define VSTOREM(m, p, v) _mm256_maskstore_ps((p), (m), (v))
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSET1(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VZERO() _mm256_setzero_ps()
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VP(op) _mm256_##op##_ps
#define VI(op) _mm256_##op##_epi32
#define VCASTI(v) _mm256_castps_si256(v)
#define VCASTF(v) _mm256_castsi256_ps(v)
#define VBOOL __m256
#define VCMP(a, b, pred) _mm256_cmp_ps((a), (b), (pred))
#define VSEL(m, t, f) _mm256_blendv_ps((f), (t), (m))
#define VFLOOR(a) _mm256_floor_ps(a)
#else
#define NR 16
#define SIDE_MR 6
#endif
#include "gemm_tmpl.h"
#include "pointwise_tmpl.h"
enum { RNF_NR_F32 = NR, RNF_SIDE_MR_F32 = SIDE_MR, RNF_SIDE_NP_F32 = SIDE_NP };
#undef VEC
#undef VL
#undef NR
#undef MR_MAX
#undef NP_WIDE1
#undef NP_WIDE2
#undef SIDE_MR
#undef SIDE_NP
#undef VMASK
#undef VMASK_N
#undef VLOADM
#undef VSTOREM
#undef VLOAD
#undef VSET1
#undef VFMA
#undef VZERO
#undef VSTORE
#undef VP
#undef VI
#undef VCASTI
#undef VCASTF
#undef VBOOL
#undef VCMP
#undef VSEL
#undef VFLOOR
#undef VSCALEF
#undef VRCP14
#undef VTAB16
#undef REAL
#undef SFX
#undef RNF_REAL_IS_DOUBLE

/* ---------------------------------------------------------------- double */
#define REAL double
#define SFX f64
#define RNF_REAL_IS_DOUBLE 1
#if defined(__AVX512F__)
#define VEC __m512d
#define VL 8
#define NR 16
#define MR_MAX 12
#define NP_WIDE1 4
#define NP_WIDE2 4
#define SIDE_MR 6 /* job rows beside a one-row product: 8 + 12 accumulators */
#define VMASK __mmask8
#define VMASK_N(n) ((__mmask8)((1u << (n)) - 1u))
#define VLOADM(m, p) _mm512_maskz_loadu_pd((m), (p))
#define VSTOREM(m, p, v) _mm512_mask_storeu_pd((p), (m), (v))
#define VLOAD(p) _mm512_loadu_pd(p)
#define VSET1(x) _mm512_set1_pd(x)
#define VFMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define VZERO() _mm512_setzero_pd()
#define VSTORE(p, v) _mm512_storeu_pd((p), (v))
#define VP(op) _mm512_##op##_pd
#define VI(op) _mm512_##op##_epi64
#define VCASTI(v) _mm512_castpd_si512(v)
#define VCASTF(v) _mm512_castsi512_pd(v)
#define VBOOL __mmask8
#define VCMP(a, b, pred) _mm512_cmp_pd_mask((a), (b), (pred))
#define VSEL(m, t, f) _mm512_mask_blend_pd((m), (f), (t))
#define VFLOOR(a) _mm512_roundscale_pd((a), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)
#define VSCALEF(a, n) _mm512_scalef_pd((a), (n))
/* the entries of a 16-entry table t picked by the low 4 bits of each lane of i */
#define VTAB16(i, t) \
    _mm512_permutex2var_pd(_mm512_loadu_pd(t), _mm512_castpd_si512(i), _mm512_loadu_pd((t) + 8))
#elif defined(__AVX2__)
#define VEC __m256d
#define VL 4
#define NR 8
#define MR_MAX 6
#define NP_WIDE1 3
#define NP_WIDE2 2
#define SIDE_MR 3 /* 6 + 6 accumulators of 16 registers */
#define VMASK __m256i
#define VMASK_N(n) _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3))
#define VLOADM(m, p) _mm256_maskload_pd((p), (m))
#define VSTOREM(m, p, v) _mm256_maskstore_pd((p), (m), (v))
#define VLOAD(p) _mm256_loadu_pd(p)
#define VSET1(x) _mm256_set1_pd(x)
#define VFMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define VZERO() _mm256_setzero_pd()
#define VSTORE(p, v) _mm256_storeu_pd((p), (v))
#define VP(op) _mm256_##op##_pd
#define VI(op) _mm256_##op##_epi64
#define VCASTI(v) _mm256_castpd_si256(v)
#define VCASTF(v) _mm256_castsi256_pd(v)
#define VBOOL __m256d
#define VCMP(a, b, pred) _mm256_cmp_pd((a), (b), (pred))
#define VSEL(m, t, f) _mm256_blendv_pd((f), (t), (m))
#define VFLOOR(a) _mm256_floor_pd(a)
#else
#define NR 8
#define SIDE_MR 6
#endif
#include "gemm_tmpl.h"
#include "pointwise_tmpl.h"
enum { RNF_NR_F64 = NR, RNF_SIDE_MR_F64 = SIDE_MR, RNF_SIDE_NP_F64 = SIDE_NP };

#define RNF_OPS(S, nr, side_mr, side_np)                                                        \
    {                                                                                           \
        nr, RNF_CAT(RNF_CAT(rnf_pack_, S), ISA), RNF_CAT(RNF_CAT(rnf_gemm_packed_, S), ISA),    \
            RNF_CAT(RNF_CAT(rnf_gemm_gates_, S), ISA), RNF_CAT(RNF_CAT(rnf_gemv_side_, S), ISA), \
            side_mr, side_np,                                                                   \
            RNF_CAT(RNF_CAT(lstm_fwd_, S), ISA), RNF_CAT(RNF_CAT(lstm_bwd_, S), ISA),           \
            RNF_CAT(RNF_CAT(gru_lbr_fwd_, S), ISA), RNF_CAT(RNF_CAT(gru_lbr_bwd_, S), ISA),     \
            RNF_CAT(RNF_CAT(gru_rz_fwd_, S), ISA), RNF_CAT(RNF_CAT(gru_n_fwd_, S), ISA),        \
            RNF_CAT(RNF_CAT(gru_zn_bwd_, S), ISA), RNF_CAT(RNF_CAT(gru_r_bwd_, S), ISA),        \
            RNF_CAT(RNF_CAT(rnn_fwd_, S), ISA), RNF_CAT(RNF_CAT(rnn_bwd_, S), ISA)              \
    }

const rnf_kernels RNF_CAT(rnf_kernels, ISA) = {
    RNF_STR(RNF_ISA_NAME),
    RNF_OPS(f32, RNF_NR_F32, RNF_SIDE_MR_F32, RNF_SIDE_NP_F32),
    RNF_OPS(f64, RNF_NR_F64, RNF_SIDE_MR_F64, RNF_SIDE_NP_F64),
};
