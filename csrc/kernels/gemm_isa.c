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
#if defined(__AVX512F__)
/* out[l] = the 128-bit lanes l of a, b, c and d, in that order: the 4 x 4
 * transpose of lanes that ends the register transposes below */
static inline __attribute__((always_inline)) void rnf_lanes_4x4(__m512 a, __m512 b, __m512 c,
                                                                __m512 d, __m512 out[4])
{
    const __m512 v = _mm512_shuffle_f32x4(a, b, 0x44), w = _mm512_shuffle_f32x4(c, d, 0x44);
    const __m512 v2 = _mm512_shuffle_f32x4(a, b, 0xEE), w2 = _mm512_shuffle_f32x4(c, d, 0xEE);
    out[0] = _mm512_shuffle_f32x4(v, w, 0x88);
    out[1] = _mm512_shuffle_f32x4(v, w, 0xDD);
    out[2] = _mm512_shuffle_f32x4(v2, w2, 0x88);
    out[3] = _mm512_shuffle_f32x4(v2, w2, 0xDD);
}
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
#define NP_WIDE1 2
#define NP_WIDE2 2
#define SIDE_MR 4 /* 4 + 8 accumulators of 16 registers (sequence.c: rnf_lazy_rows) */
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
#ifdef VEC
/* Rows r[4g..4g+3], g < VL / 4, transposed within each 128-bit lane: r[4g + j]
 * then holds, in lane l, element 4l + j of the four rows. */
static inline __attribute__((always_inline)) void rnf_transpose_lanes_f32(VEC *r)
{
    for (int g = 0; g < VL / 4; ++g) {
        VEC *q = r + 4 * g;
        const VEC t0 = VP(unpacklo)(q[0], q[1]), t1 = VP(unpackhi)(q[0], q[1]);
        const VEC t2 = VP(unpacklo)(q[2], q[3]), t3 = VP(unpackhi)(q[2], q[3]);
        q[0] = VP(shuffle)(t0, t2, 0x44);
        q[1] = VP(shuffle)(t0, t2, 0xEE);
        q[2] = VP(shuffle)(t1, t3, 0x44);
        q[3] = VP(shuffle)(t1, t3, 0xEE);
    }
}
/* r[0..VL-1] = its transpose: element j of row i to element i of row j */
static inline __attribute__((always_inline)) void rnf_transpose_f32(VEC *r)
{
    rnf_transpose_lanes_f32(r);
    VEC t[VL];
#if defined(__AVX512F__)
    for (int j = 0; j < 4; ++j) { /* lane l of the four row groups: row 4l + j */
        __m512 o[4];
        rnf_lanes_4x4(r[j], r[4 + j], r[8 + j], r[12 + j], o);
        for (int l = 0; l < 4; ++l) t[4 * l + j] = o[l];
    }
#else
    for (int j = 0; j < 4; ++j) { /* lane l of the two row groups: row 4l + j */
        t[j] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x20);
        t[4 + j] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x31);
    }
#endif
    for (int i = 0; i < VL; ++i) r[i] = t[i];
}
#define VTRANSPOSE(r) rnf_transpose_f32(r)
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
#undef VTRANSPOSE
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
/* r[0..7] = its transpose (8 x 8) */
static inline __attribute__((always_inline)) void rnf_transpose_f64(__m512d *r)
{
    __m512d t[8];
    for (int i = 0; i < 4; ++i) { /* lane l: rows 2i, 2i+1 at k 2l / 2l + 1 */
        t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
    }
    for (int j = 0; j < 2; ++j) { /* lane l of the four row pairs: row 2l + j */
        __m512 o[4];
        rnf_lanes_4x4(_mm512_castpd_ps(t[j]), _mm512_castpd_ps(t[2 + j]),
                      _mm512_castpd_ps(t[4 + j]), _mm512_castpd_ps(t[6 + j]), o);
        for (int l = 0; l < 4; ++l) r[2 * l + j] = _mm512_castps_pd(o[l]);
    }
}
#define VTRANSPOSE(r) rnf_transpose_f64(r)
/* the entries of a 16-entry table t picked by the low 4 bits of each lane of i */
#define VTAB16(i, t) \
    _mm512_permutex2var_pd(_mm512_loadu_pd(t), _mm512_castpd_si512(i), _mm512_loadu_pd((t) + 8))
#elif defined(__AVX2__)
#define VEC __m256d
#define VL 4
#define NR 8
#define MR_MAX 6
#define NP_WIDE1 2
#define NP_WIDE2 2
#define SIDE_MR 4 /* 4 + 8 accumulators of 16 registers (sequence.c: rnf_lazy_rows) */
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
/* r[0..3] = its transpose (4 x 4) */
static inline __attribute__((always_inline)) void rnf_transpose_f64(__m256d *r)
{
    const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}
#define VTRANSPOSE(r) rnf_transpose_f64(r)
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
            side_mr, side_np, RNF_CAT(RNF_CAT(rnf_peak_, S), ISA),                              \
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
