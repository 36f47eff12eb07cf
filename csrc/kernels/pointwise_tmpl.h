/*
 * pointwise_tmpl.h -- fused gate math of one step, forward and backward, for
 * one batch row and the hidden units [j0, j1). Included by gemm_isa.c once
 * per dtype; built with -ffp-contract=off so the vectorised body and the
 * scalar tail of every loop round alike (the bits of an element never depend
 * on where a thread's slice starts).
 *
 * Each function is a few passes over short arrays: pre-activations, then one
 * activation pass per gate (the switch on the activation kind sits outside
 * the loop so each pass vectorises), then the combination. The tape keeps
 * pre-activations before clipping; backward recomputes the activations, so
 * clip masks and every derivative are exact.
 */
#define PW(name) RNF_CAT(RNF_CAT(RNF_CAT(name, _), SFX), ISA)
#define CP RNF_CAT(rnf_cp_, SFX)

#ifndef RNF_INV_FACT
#define RNF_INV_FACT
/* 1 / k!, the Taylor coefficients of e^r. */
static const double rnf_inv_fact[14] = {
    1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
    1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0};
#endif

#if RNF_REAL_IS_DOUBLE
typedef uint64_t PW(bits_t);
typedef int64_t PW(sbits_t);
#define PW_MAGIC 6755399441055744.0 /* 1.5 * 2^52: adding it rounds to an integer */
#define PW_BIAS 1023
#define PW_MANT 52
#define PW_XLO -746.0
#define PW_LN2HI 6.93147180369123816490e-01
#define PW_LN2LO 1.90821492927058770002e-10
#define PW_EXP_DEG 12
/* e^r - 1 = r (1 + r/2 + ... + r^12/13!): the next term is 0.06 ulp of it
 * at |r| = ln2/2 (through r^12, the omitted r^13/13! was 2.3 ulp there) */
#define PW_EXPM1_DEG 13
#else
typedef uint32_t PW(bits_t);
typedef int32_t PW(sbits_t);
#define PW_MAGIC 12582912.0f /* 1.5 * 2^23 */
#define PW_BIAS 127
#define PW_MANT 23
#define PW_XLO -104.0f
#define PW_LN2HI 0.693145751953125f
#define PW_LN2LO 1.428606765330187e-06f
#define PW_EXP_DEG 7
#define PW_EXPM1_DEG 7 /* r^8/8! is 0.13 ulp of e^r - 1 at |r| = ln2/2 */
#endif

static inline REAL PW(from_bits)(PW(bits_t) b)
{
    REAL r;
    memcpy(&r, &b, sizeof r);
    return r;
}

static inline PW(bits_t) PW(to_bits)(REAL r)
{
    PW(bits_t) b;
    memcpy(&b, &r, sizeof b);
    return b;
}

/* x = n ln2 + r, |r| <= ln2/2, for x <= 0 (clamped at PW_XLO, below which
 * e^x is 0 in REAL): returns r, and in t a value whose low bits hold n. */
static inline REAL PW(reduce)(REAL x, REAL *t)
{
    x = x < PW_XLO ? PW_XLO : x;
    *t = x * (REAL)1.44269504088896340736 + PW_MAGIC;
    const REAL n = *t - PW_MAGIC;
    return (x - n * PW_LN2HI) - n * PW_LN2LO;
}

/* sum of r^(k - k0) / k! for k = k0..deg, by Horner */
static inline REAL PW(taylor)(REAL r, int k0, int deg)
{
    REAL p = (REAL)rnf_inv_fact[deg];
    for (int k = deg - 1; k >= k0; --k) p = (REAL)rnf_inv_fact[k] + r * p;
    return p;
}

/* 2^n (n from reduce's t) as two normal factors s[0] s[1], so that a
 * product with them underflows gradually */
static inline void PW(pow2_split)(REAL t, REAL s[2])
{
    const PW(bits_t) ni = PW(to_bits)(t) - PW(to_bits)(PW_MAGIC); /* n, two's complement */
    const PW(bits_t) n1 = (PW(bits_t))((PW(sbits_t))ni >> 1);
    s[0] = PW(from_bits)((n1 + PW_BIAS) << PW_MANT);
    s[1] = PW(from_bits)((ni - n1 + PW_BIAS) << PW_MANT);
}

/* e^x for x <= 0 (every caller passes -|z| or -2|z|), to about 1 ulp:
 * e^r by Taylor, times 2^n in two factors; NaN stays NaN. */
static inline REAL PW(vexp)(REAL x)
{
    REAL t, s[2];
    const REAL p = PW(taylor)(PW(reduce)(x, &t), 0, PW_EXP_DEG);
    PW(pow2_split)(t, s);
    return p * s[0] * s[1];
}

/* sigmoid from e = e^{-|x|}: 1/(1+e) or e/(1+e), no cancellation either side. */
static inline REAL PW(sigmoid_e)(REAL x, REAL e)
{
    const REAL inv = (REAL)1 / ((REAL)1 + e);
    return x >= 0 ? inv : e * inv;
}

static inline REAL PW(vsigmoid)(REAL x) { return PW(sigmoid_e)(x, PW(vexp)(x < 0 ? x : -x)); }

/* e^x - 1 for x <= 0 (every caller passes -2|z|), to about 1 ulp with no
 * cancellation near 0: x = n ln2 + r as in vexp, q = e^r - 1 by its Taylor
 * series (q = r exactly to first order), and e^x - 1 = 2^n q + (2^n - 1) in
 * one rounding (2^n - 1 is exact, or rounds to -1 where 2^n is below half an
 * ulp of 1). With e, also e^x itself: (1 + q) 2^n. */
static inline REAL PW(vexpm1)(REAL x, REAL *e)
{
    REAL t, s[2];
    const REAL r = PW(reduce)(x, &t);
    const REAL q = PW(taylor)(r, 1, PW_EXPM1_DEG) * r;
    PW(pow2_split)(t, s);
    const REAL sn = s[0] * s[1];
    if (e) *e = ((REAL)1 + q) * s[0] * s[1];
    return sn * q + (sn - (REAL)1); /* sn q is exact */
}

/* tanh from m = e^{-2|x|} - 1: |m| / (2 + m) with x's sign. Near 0, m is
 * -2|x| to full relative precision, so no series is needed there. */
static inline REAL PW(tanh_m)(REAL x, REAL m)
{
    const PW(bits_t) sign = (PW(bits_t))1 << (sizeof(REAL) * 8 - 1);
    const REAL a = (m < 0 ? -m : m) / ((REAL)2 + m);
    return PW(from_bits)(PW(to_bits)(a) | (PW(to_bits)(x) & sign));
}

static inline REAL PW(vtanh)(REAL x)
{
    return PW(tanh_m)(x, PW(vexpm1)((REAL)-2 * (x < 0 ? -x : x), NULL));
}

/* 1 - tanh(x) from e = e^{-2|x|} and m = e - 1: 2e/(2 + m) for x >= 0,
 * 2/(2 + m) below, with no cancellation either side. */
static inline REAL PW(vtanh_comp)(REAL x)
{
    REAL e;
    const REAL m = PW(vexpm1)((REAL)-2 * (x < 0 ? -x : x), &e);
    return (x >= 0 ? (REAL)2 * e : (REAL)2) / ((REAL)2 + m);
}

static inline REAL PW(clamp)(REAL z, REAL clip)
{
    return z > clip ? clip : (z < -clip ? -clip : z); /* NaN passes through */
}

#ifdef VEC
/*
 * The activation passes written with the ISA's vectors: the same algorithms
 * as the scalar functions above (with fused multiply-adds), the last partial
 * vector done with masked loads and stores, so every element goes through the
 * same instructions wherever a thread's slice starts. gcc's own vectorisation
 * of the scalar loops mixes vector widths and scalar fallbacks and runs
 * several times slower.
 *
 * Lane groups. The math of one vector is a long chain of dependent
 * operations (an LSTM unit vector: about 180 cycles from its pre-activations
 * to h), and the out-of-order core holds little more than one such chain, so
 * a loop over single vectors ran at half the vector units' throughput (LSTM
 * forward, B16 H256: a fifth of every step). Below, a VEC is a group of PW_U
 * vectors and every operation acts on all of them, so PW_U independent
 * chains interleave instruction by instruction. Each element still goes
 * through exactly the same instructions: the bits do not change. The
 * primitives are written with the ISA's one-vector macros, which are then
 * set aside (push_macro) for the rest of this file and restored at its end.
 */
#ifndef PW_U
#define PW_U 4
#endif
typedef struct { VEC v[PW_U]; } PW(xv);  /* PW_U vectors */
typedef struct { VBOOL v[PW_U]; } PW(xb); /* their comparison results */
typedef struct { VMASK v[PW_U]; } PW(xm); /* their load/store masks */
/* PW_LANES(S): statement S once per lane, with u the lane's index as a
 * constant (written out, not a loop, so that the groups stay in registers) */
#define PW_LANE(k, S) { enum { u = k }; S }
#if PW_U == 1
#define PW_LANES(S) PW_LANE(0, S)
#elif PW_U == 2
#define PW_LANES(S) PW_LANE(0, S) PW_LANE(1, S)
#elif PW_U == 3
#define PW_LANES(S) PW_LANE(0, S) PW_LANE(1, S) PW_LANE(2, S)
#elif PW_U == 4
#define PW_LANES(S) PW_LANE(0, S) PW_LANE(1, S) PW_LANE(2, S) PW_LANE(3, S)
#else
#error "PW_U must be 1 to 4"
#endif
#define PW_LANEWISE(T, name, params, expr)                                                       \
    static inline __attribute__((always_inline)) T PW(name) params                               \
    {                                                                                            \
        T r;                                                                                     \
        PW_LANES(r.v[u] = (expr);)                                                               \
        return r;                                                                                \
    }
#define PW_X1(name, expr) PW_LANEWISE(PW(xv), name, (PW(xv) a), expr)
#define PW_X2(name, expr) PW_LANEWISE(PW(xv), name, (PW(xv) a, PW(xv) b), expr)
#define PW_X3(name, expr) PW_LANEWISE(PW(xv), name, (PW(xv) a, PW(xv) b, PW(xv) c), expr)
#define PW_B2(name, pred)                                                                        \
    PW_LANEWISE(PW(xb), name, (PW(xv) a, PW(xv) b), VCMP(a.v[u], b.v[u], pred))
PW_X2(x_add, VP(add)(a.v[u], b.v[u]))
PW_X2(x_sub, VP(sub)(a.v[u], b.v[u]))
PW_X2(x_mul, VP(mul)(a.v[u], b.v[u]))
PW_X2(x_div, VP(div)(a.v[u], b.v[u]))
PW_X2(x_min, VP(min)(a.v[u], b.v[u]))
PW_X2(x_max, VP(max)(a.v[u], b.v[u]))
PW_X2(x_or, VP(or)(a.v[u], b.v[u]))
PW_X2(x_and, VP(and)(a.v[u], b.v[u]))
PW_X2(x_andnot, VP(andnot)(a.v[u], b.v[u]))
PW_X3(x_fmadd, VFMA(a.v[u], b.v[u], c.v[u]))
PW_X3(x_fnmadd, VP(fnmadd)(a.v[u], b.v[u], c.v[u]))
PW_B2(x_lt, _CMP_LT_OQ)
PW_B2(x_le, _CMP_LE_OQ)
PW_B2(x_gt, _CMP_GT_OQ)
PW_B2(x_ge, _CMP_GE_OQ)
PW_LANEWISE(PW(xv), x_sel, (PW(xb) m, PW(xv) a, PW(xv) b), VSEL(m.v[u], a.v[u], b.v[u]))
PW_LANEWISE(PW(xv), x_set1, (REAL x), VSET1(x))
PW_LANEWISE(PW(xv), x_load, (const REAL *p), VLOAD(p + u * VL))
PW_LANEWISE(PW(xv), x_loadm, (PW(xm) m, const REAL *p), VLOADM(m.v[u], p + u * VL))
/* the masks of n valid elements from the group's first: VL per lane, then
 * the rest, then none (masked lanes neither load nor store) */
PW_LANEWISE(PW(xm), x_mask_n, (int n),
            VMASK_N(n - u * VL < 0 ? 0 : (n - u * VL > VL ? VL : n - u * VL)))
static inline __attribute__((always_inline)) void PW(x_store)(REAL *p, PW(xv) a)
{
    PW_LANES(VSTORE(p + u * VL, a.v[u]);)
}
static inline __attribute__((always_inline)) void PW(x_storem)(PW(xm) m, REAL *p, PW(xv) a)
{
    PW_LANES(VSTOREM(m.v[u], p + u * VL, a.v[u]);)
}
#ifdef VSCALEF
PW_X2(x_scalef, VSCALEF(a.v[u], b.v[u]))
#else
/* 2^n for integral n with a normal result: n + bias lands in the low bits of
 * n + bias + MAGIC, and is shifted into the exponent field. */
PW_X1(pow2_v, VCASTF(VI(slli)(VI(sub)(VCASTI(VP(add)(a.v[u], VSET1((REAL)(PW_MAGIC + PW_BIAS)))),
                                      VCASTI(VSET1((REAL)PW_MAGIC))),
                              PW_MANT)))
PW_X1(x_floor, VFLOOR(a.v[u]))
#endif
#ifdef VRCP14
PW_X1(x_rcp14, VRCP14(a.v[u]))
#endif
#ifdef VTAB16
PW_LANEWISE(PW(xv), x_tab16, (PW(xv) a, const REAL *t), VTAB16(a.v[u], t))
#endif
#undef PW_X1
#undef PW_X2
#undef PW_X3
#undef PW_B2
#undef PW_LANEWISE

#pragma push_macro("VEC")
#pragma push_macro("VBOOL")
#pragma push_macro("VMASK")
#pragma push_macro("VMASK_N")
#pragma push_macro("VP")
#pragma push_macro("VFMA")
#pragma push_macro("VSET1")
#pragma push_macro("VZERO")
#pragma push_macro("VLOAD")
#pragma push_macro("VSTORE")
#pragma push_macro("VLOADM")
#pragma push_macro("VSTOREM")
#pragma push_macro("VSEL")
#pragma push_macro("VSCALEF")
#pragma push_macro("VRCP14")
#pragma push_macro("VFLOOR")
#pragma push_macro("VTAB16")
#undef VEC
#undef VBOOL
#undef VMASK
#undef VMASK_N
#undef VP
#undef VFMA
#undef VSET1
#undef VZERO
#undef VLOAD
#undef VSTORE
#undef VLOADM
#undef VSTOREM
#undef VSEL
#define VEC PW(xv)
#define VBOOL PW(xb)
#define VMASK PW(xm)
#define VMASK_N(n) PW(x_mask_n)(n)
#define VP(op) PW(x_##op)
#define VFMA(a, b, c) PW(x_fmadd)((a), (b), (c))
#define VSET1(x) PW(x_set1)(x)
#define VZERO() PW(x_set1)(0)
#define VLOAD(p) PW(x_load)(p)
#define VSTORE(p, v) PW(x_store)((p), (v))
#define VLOADM(m, p) PW(x_loadm)((m), (p))
#define VSTOREM(m, p, v) PW(x_storem)((m), (p), (v))
#define VSEL(m, t, f) PW(x_sel)((m), (t), (f))
#ifdef VSCALEF
#undef VSCALEF
#define VSCALEF(a, n) PW(x_scalef)((a), (n))
#endif
#ifdef VRCP14
#undef VRCP14
#define VRCP14(a) PW(x_rcp14)(a)
#endif
#ifdef VFLOOR
#undef VFLOOR
#define VFLOOR(a) PW(x_floor)(a)
#endif
#ifdef VTAB16
#undef VTAB16
#define VTAB16(i, t) PW(x_tab16)((i), (t))
#endif

#define VADD(a, b) VP(add)((a), (b))
#define VSUB(a, b) VP(sub)((a), (b))
#define VMUL(a, b) VP(mul)((a), (b))
#define VDIV(a, b) VP(div)((a), (b))
#define VFNMA(a, b, c) VP(fnmadd)((a), (b), (c)) /* c - a * b */
/* min/max return their second operand when either is NaN: VMIN(k, x) is
 * "k < x ? k : x", which lets NaN through, like the scalar code. */
#define VMIN(a, b) VP(min)((a), (b))
#define VMAX(a, b) VP(max)((a), (b))
#define VLT(a, b) PW(x_lt)((a), (b))
#define VLE(a, b) PW(x_le)((a), (b))
#define VGT(a, b) PW(x_gt)((a), (b))
#define VGE(a, b) PW(x_ge)((a), (b))
#define VS(c) VSET1((REAL)(c))

#ifdef VTAB16
#ifndef RNF_EXP2_16TH
#define RNF_EXP2_16TH
/* 2^(j/16), j = 0..15, correctly rounded (from mpmath at 300 bits) */
static const double rnf_exp2_16th[16] = {
    0x1.0000000000000p+0, 0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0,
    0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0,
    0x1.6a09e667f3bcdp+0, 0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0,
    0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0};
#endif
#endif

/* reduce, taylor and pow2_split with the ISA's vectors (reduce_v gives n
 * itself), with fused multiply-adds where the scalar code rounds twice. */
static inline __attribute__((always_inline)) VEC PW(reduce_v)(VEC x, VEC *n)
{
    x = VMAX(VS(PW_XLO), x);
    *n = VSUB(VFMA(x, VS(1.44269504088896340736), VS(PW_MAGIC)), VS(PW_MAGIC));
    return VFNMA(*n, VS(PW_LN2LO), VFNMA(*n, VS(PW_LN2HI), x));
}

static inline __attribute__((always_inline)) VEC PW(taylor_v)(VEC r, int k0, int deg)
{
    VEC p = VS(rnf_inv_fact[deg]);
    for (int k = deg - 1; k >= k0; --k) p = VFMA(p, r, VS(rnf_inv_fact[k]));
    return p;
}

/* a 2^n: with scalef, in one instruction (the same exact power-of-two
 * factors and one rounding at the end, so the same bits as the two factors) */
static inline __attribute__((always_inline)) VEC PW(scale_v)(VEC a, VEC n)
{
#ifdef VSCALEF
    return VSCALEF(a, n);
#else
    const VEC n1 = VFLOOR(VMUL(n, VS(0.5))); /* 2^n in two factors, as in vexp */
    return VMUL(VMUL(a, PW(pow2_v)(n1)), PW(pow2_v)(VSUB(n, n1)));
#endif
}

/* e^x for x <= 0, as vexp */
static inline VEC PW(exp_v)(VEC x)
{
#if defined(VTAB16) && RNF_REAL_IS_DOUBLE
    x = VMAX(VS(PW_XLO), x);
    /* Where the ISA picks from a 16-entry table in registers, a shorter
     * polynomial: x = (16 m + j) ln2/16 + r, |r| <= ln2/32, and
     * e^x = 2^m 2^(j/16) e^r, with 2^(j/16) = s from the table (indexed by
     * the low bits of t, which hold n = 16 m + j), e^r - 1 = q by Taylor to
     * degree 7 (truncation below 2e-18), s + s q in one rounding, and 2^m by
     * scalef, which floors n/16. */
    const VEC t = VFMA(x, VS(16 * 1.44269504088896340736), VS(PW_MAGIC));
    const VEC n = VSUB(t, VS(PW_MAGIC));
    const VEC r = VFNMA(n, VS(PW_LN2LO / 16), VFNMA(n, VS(PW_LN2HI / 16), x));
    const VEC q = PW(taylor_v)(r, 1, 7);
    const VEC s = VTAB16(t, rnf_exp2_16th);
    return VSCALEF(VFMA(VMUL(q, r), s, s), VMUL(n, VS(1.0 / 16)));
#else
    VEC n;
    const VEC r = PW(reduce_v)(x, &n);
    return PW(scale_v)(PW(taylor_v)(r, 0, PW_EXP_DEG), n);
#endif
}

/* e^x - 1 for x <= 0, as vexpm1 (with fused multiply-adds); with e, also
 * e^x as (1 + q) 2^n. */
static inline __attribute__((always_inline)) VEC PW(expm1_v)(VEC x, VEC *e)
{
    VEC n;
    const VEC r = PW(reduce_v)(x, &n);
    const VEC q = VMUL(PW(taylor_v)(r, 1, PW_EXPM1_DEG), r);
    const VEC s = PW(scale_v)(VS(1), n);
    if (e) *e = PW(scale_v)(VADD(VS(1), q), n);
    return VFMA(s, q, VSUB(s, VS(1))); /* s q is exact: one rounding */
}

/* 1 / d for d in [1, 2] (1 + e, e in [0, 1], or 2 + m, m in [-1, 0]): where the ISA has a 14-bit
 * reciprocal estimate (AVX-512), one Newton step r + r (1 - d r) brings it
 * to within an ulp of the quotient at a third of a division's cost;
 * otherwise the division. */
static inline VEC PW(recip_v)(VEC d)
{
#ifdef VRCP14
    const VEC r = VRCP14(d);
    return VFMA(r, VFNMA(d, r, VS(1)), r);
#else
    return VDIV(VS(1), d);
#endif
}

static inline VEC PW(neg_abs_v)(VEC x) { return VP(or)(x, VS(-0.0)); }

static inline VEC PW(sigmoid_ev)(VEC x, VEC e, VEC inv)
{
    return VSEL(VGE(x, VZERO()), inv, VMUL(e, inv));
}

/* tanh from m = e^{-2|x|} - 1 and inv = 1 / (2 + m), as tanh_m */
static inline VEC PW(tanh_mv)(VEC x, VEC m, VEC inv)
{
    return VP(or)(VMUL(VP(andnot)(VS(-0.0), m), inv), VP(and)(x, VS(-0.0)));
}

static inline VEC PW(hard_sigmoid_v)(VEC z)
{
    return VMIN(VS(1), VMAX(VZERO(), VFMA(VS(0.2), z, VS(0.5))));
}

static inline VEC PW(relu_v)(VEC z) { return VSEL(VLE(z, VZERO()), VZERO(), z); }

static inline VEC PW(clamp_v)(VEC z, REAL clip)
{
    return VMAX(VS(-clip), VMIN(VS(clip), z));
}

/* y = act(z), d = dy/dz, as in the scalar gate_grad_pass. */
static inline __attribute__((always_inline)) void PW(act_grad_v)(int kind, VEC z, VEC *y, VEC *d)
{
    switch (kind) {
    case RNF_ACT_SIGMOID: {
        const VEC e = PW(exp_v)(PW(neg_abs_v)(z)), inv = PW(recip_v)(VADD(VS(1), e));
        *y = PW(sigmoid_ev)(z, e, inv);
        *d = VMUL(VMUL(e, inv), inv);
        break;
    }
    case RNF_ACT_HARD_SIGMOID: {
        const VEC v = VFMA(VS(0.2), z, VS(0.5));
        *y = PW(hard_sigmoid_v)(z);
        *d = VSEL(VGT(v, VZERO()), VSEL(VLT(v, VS(1)), VS(0.2), VZERO()), VZERO());
        break;
    }
    case RNF_ACT_TANH: {
        /* tanh' = 4e/(2 + m)^2 from e itself (not 1 + m, which cancels
         * where e is small); the compiler drops e where d is unused */
        VEC e;
        const VEC m = PW(expm1_v)(VMUL(VS(2), PW(neg_abs_v)(z)), &e);
        const VEC inv = PW(recip_v)(VADD(VS(2), m));
        *y = PW(tanh_mv)(z, m, inv);
        *d = VMUL(VMUL(VMUL(VS(4), e), inv), inv);
        break;
    }
    case RNF_ACT_RELU:
        *y = PW(relu_v)(z);
        *d = VSEL(VGT(z, VZERO()), VS(1), VZERO());
        break;
    default:
        *y = z;
        *d = VS(1);
        break;
    }
}

/* y = act(z): act_grad_v with the derivative unused (the compiler drops it),
 * so forward and backward see the same bits of every activation. */
static inline __attribute__((always_inline)) VEC PW(act_v)(int kind, VEC z)
{
    VEC y, d;
    PW(act_grad_v)(kind, z, &y, &d);
    return y;
}

/* A gate from its pre-activation v: act(clamp(v)) (clip = 0: no clip). */
static inline __attribute__((always_inline)) VEC PW(gate_v)(REAL clip, int kind, VEC v)
{
    return PW(act_v)(kind, clip > 0 ? PW(clamp_v)(v, clip) : v);
}

/* Run BODY(LD, ST) for j = each group's first unit in [0, n): whole groups
 * of PW_U vectors with plain loads and stores, then one masked group. */
#define PW_VLOOP(n, BODY)                                                                        \
    do {                                                                                         \
        int64_t j = 0;                                                                           \
        for (; j + PW_U * VL <= (n); j += PW_U * VL) BODY(VLOAD, VSTORE_)                        \
        if (j < (n)) {                                                                           \
            const VMASK vm = VMASK_N((int)((n) - j));                                            \
            BODY(VLOADM_, VSTOREM_)                                                              \
        }                                                                                        \
    } while (0)
#define VSTORE_(p, v) VSTORE((p), (v))
#define VLOADM_(p) VLOADM(vm, (p))
#define VSTOREM_(p, v) VSTOREM(vm, (p), (v))

/* A gate from its pre-activation v: y = act(clamp(v)), d = dy/dv, 0 where
 * clip clamps (clip = 0: no clip). */
static inline __attribute__((always_inline)) void PW(gate_grad_v)(REAL clip, int kind, VEC v,
                                                                  VEC *y, VEC *d)
{
    PW(act_grad_v)(kind, clip > 0 ? PW(clamp_v)(v, clip) : v, y, d);
    if (clip > 0) *d = VSEL(VGT(v, VS(clip)), VZERO(), VSEL(VLT(v, VS(-clip)), VZERO(), *d));
}

/* y = act(clamp(z)) and d = dy/dz, 0 where clip clamps (clip = 0: no clip). */
static void PW(gate_grad_pass)(REAL clip, int kind, const REAL *z, REAL *y, REAL *d, int64_t n)
{
#define BODY(LD, ST)                                                                             \
    {                                                                                            \
        VEC yv, dv;                                                                              \
        PW(gate_grad_v)(clip, kind, LD(z + j), &yv, &dv);                                        \
        ST(y + j, yv);                                                                           \
        ST(d + j, dv);                                                                           \
    }
    PW_VLOOP(n, BODY);
#undef BODY
}

/* A gate y = act(clamp(v)) (the bits of gate_v) and yc = 1 - y, the weight a
 * GRU gives its candidate. Where a saturating gate is near 1 the subtraction
 * would cancel (z = 1 - 7e-6 in float: 0.3 % off), so the two sigmoids,
 * symmetric, take act(-v) (from the same exp), and tanh its own complement
 * (as vtanh_comp); other activations subtract. */
static inline __attribute__((always_inline)) void PW(gate_pair_v)(REAL clip, int kind, VEC v,
                                                                  VEC *y, VEC *yc)
{
    const VEC z = clip > 0 ? PW(clamp_v)(v, clip) : v;
    switch (kind) {
    case RNF_ACT_SIGMOID: {
        const VEC e = PW(exp_v)(PW(neg_abs_v)(z)), inv = PW(recip_v)(VADD(VS(1), e));
        *y = PW(sigmoid_ev)(z, e, inv);
        *yc = PW(sigmoid_ev)(VSUB(VZERO(), z), e, inv);
        break;
    }
    case RNF_ACT_HARD_SIGMOID:
        *y = PW(hard_sigmoid_v)(z);
        *yc = PW(hard_sigmoid_v)(VSUB(VZERO(), z));
        break;
    case RNF_ACT_TANH: {
        VEC e;
        const VEC m = PW(expm1_v)(VMUL(VS(2), PW(neg_abs_v)(z)), &e);
        const VEC inv = PW(recip_v)(VADD(VS(2), m));
        *y = PW(tanh_mv)(z, m, inv);
        *yc = VMUL(VSEL(VGE(z, VZERO()), VMUL(VS(2), e), VS(2)), inv);
        break;
    }
    default:
        *y = PW(act_v)(kind, z);
        *yc = VSUB(VS(1), *y);
        break;
    }
}

static inline __attribute__((always_inline)) VEC PW(gate_comp_v)(REAL clip, int kind, VEC v)
{
    VEC y, yc;
    PW(gate_pair_v)(clip, kind, v, &y, &yc);
    return yc;
}

/* out = act(clamp(z)), a gate's activation, or with comp its complement
 * 1 - act(clamp(z)) as gate_pair_v gives it; out may be z. */
static inline __attribute__((always_inline)) void
PW(gate_pass_any)(CP cp, int kind, int comp, const REAL *z, REAL *out, int64_t n)
{
    const REAL clip = cp->clip;
#define BODY(LD, ST)                                                                             \
    {                                                                                            \
        const VEC v = LD(z + j);                                                                 \
        ST(out + j, comp ? PW(gate_comp_v)(clip, kind, v) : PW(gate_v)(clip, kind, v));         \
    }
    PW_VLOOP(n, BODY);
#undef BODY
}

static void PW(gate_pass)(CP cp, int kind, const REAL *z, REAL *out, int64_t n)
{
    PW(gate_pass_any)(cp, kind, 0, z, out, n);
}

static void PW(gate_comp_pass)(CP cp, int kind, const REAL *z, REAL *out, int64_t n)
{
    PW(gate_pass_any)(cp, kind, 1, z, out, n);
}
#else
/* out = act(z) (no clip); out may be z. */
static void PW(act_pass)(int kind, const REAL *z, REAL *out, int64_t n)
{
    switch (kind) {
    case RNF_ACT_SIGMOID:
        for (int64_t j = 0; j < n; ++j) out[j] = PW(vsigmoid)(z[j]);
        break;
    case RNF_ACT_HARD_SIGMOID:
        for (int64_t j = 0; j < n; ++j) {
            const REAL y = (REAL)0.2 * z[j] + (REAL)0.5;
            out[j] = y < 0 ? (REAL)0 : (y > 1 ? (REAL)1 : y);
        }
        break;
    case RNF_ACT_TANH:
        for (int64_t j = 0; j < n; ++j) out[j] = PW(vtanh)(z[j]);
        break;
    case RNF_ACT_RELU:
        for (int64_t j = 0; j < n; ++j) out[j] = z[j] > 0 ? z[j] : (z[j] == z[j] ? (REAL)0 : z[j]);
        break;
    default:
        for (int64_t j = 0; j < n; ++j) out[j] = z[j];
        break;
    }
}

/* out = act(clamp(z)): a gate's activation. */
static void PW(gate_pass)(CP cp, int kind, const REAL *z, REAL *out, int64_t n)
{
    if (cp->clip > 0) {
        for (int64_t j = 0; j < n; ++j) out[j] = PW(clamp)(z[j], cp->clip);
        PW(act_pass)(kind, out, out, n);
    } else {
        PW(act_pass)(kind, z, out, n);
    }
}

/* out = 1 - act(clamp(z)), the weight a GRU gives its candidate. Where a
 * saturating gate is near 1 the subtraction would cancel (z = 1 - 7e-6 in
 * float: 0.3 % off), so the two sigmoids, symmetric, take act(-z), and tanh
 * its own complement; other activations subtract. out may be z. */
static void PW(gate_comp_pass)(CP cp, int kind, const REAL *z, REAL *out, int64_t n)
{
    const REAL clip = cp->clip;
    if (kind == RNF_ACT_SIGMOID || kind == RNF_ACT_HARD_SIGMOID) {
        for (int64_t j = 0; j < n; ++j) out[j] = -z[j];
        PW(gate_pass)(cp, kind, out, out, n);
    } else if (kind == RNF_ACT_TANH) {
        for (int64_t j = 0; j < n; ++j)
            out[j] = PW(vtanh_comp)(clip > 0 ? PW(clamp)(z[j], clip) : z[j]);
    } else {
        PW(gate_pass)(cp, kind, z, out, n);
        for (int64_t j = 0; j < n; ++j) out[j] = (REAL)1 - out[j];
    }
}

/* y = act(clamp(z)) and d = dy/dz, 0 where clip clamps (clip = 0: no clip).
 * Derivatives come from e, not from y: sigmoid' = e/(1+e)^2 and
 * tanh' = 4e/(1+e)^2 (1 + e taken as 2 + m) keep full relative precision where the gate saturates,
 * which 1 - y^2 and y(1 - y) do not. y has the same bits as act_pass's. */
static void PW(gate_grad_pass)(REAL clip, int kind, const REAL *z, REAL *y, REAL *d, int64_t n)
{
    switch (kind) {
    case RNF_ACT_SIGMOID:
        for (int64_t j = 0; j < n; ++j) {
            const REAL zc = clip > 0 ? PW(clamp)(z[j], clip) : z[j];
            const REAL e = PW(vexp)(zc < 0 ? zc : -zc), inv = (REAL)1 / ((REAL)1 + e);
            y[j] = PW(sigmoid_e)(zc, e);
            d[j] = e * inv * inv;
        }
        break;
    case RNF_ACT_HARD_SIGMOID:
        for (int64_t j = 0; j < n; ++j) {
            const REAL zc = clip > 0 ? PW(clamp)(z[j], clip) : z[j];
            const REAL v = (REAL)0.2 * zc + (REAL)0.5;
            y[j] = v < 0 ? (REAL)0 : (v > 1 ? (REAL)1 : v);
            d[j] = (v > 0 && v < 1) ? (REAL)0.2 : (REAL)0;
        }
        break;
    case RNF_ACT_TANH:
        for (int64_t j = 0; j < n; ++j) {
            const REAL zc = clip > 0 ? PW(clamp)(z[j], clip) : z[j];
            REAL e;
            const REAL m = PW(vexpm1)((REAL)-2 * (zc < 0 ? -zc : zc), &e);
            const REAL inv = (REAL)1 / ((REAL)2 + m);
            y[j] = PW(tanh_m)(zc, m);
            d[j] = (REAL)4 * e * inv * inv;
        }
        break;
    case RNF_ACT_RELU:
        for (int64_t j = 0; j < n; ++j) {
            const REAL zc = clip > 0 ? PW(clamp)(z[j], clip) : z[j];
            y[j] = zc > 0 ? zc : (zc == zc ? (REAL)0 : zc);
            d[j] = zc > 0 ? (REAL)1 : (REAL)0;
        }
        break;
    default:
        for (int64_t j = 0; j < n; ++j) {
            y[j] = clip > 0 ? PW(clamp)(z[j], clip) : z[j];
            d[j] = 1;
        }
        break;
    }
    if (clip > 0)
        for (int64_t j = 0; j < n; ++j) d[j] = (z[j] > clip || z[j] < -clip) ? (REAL)0 : d[j];
}

#endif /* VEC */

/* ---------------------------------------------------------------- LSTM */

/* xw: [4H] input projection with biases; hw: [4H] U h; cpv: c; writes cn,
 * y (= hn) and, if zt, pre-activations. zt may be xw (the training tape). */
#ifdef VEC
/* One pass: each vector of units goes from pre-activations to h and c in
 * registers. */
static void PW(lstm_fwd)(CP cp, int64_t H, int64_t j0, int64_t j1, const REAL *xw, REAL *hw,
                         const REAL *cpv, REAL *hn, REAL *cn, REAL *y, REAL *zt)
{
    const int64_t n = j1 - j0;
    const REAL *p = cp->peephole ? cp->peephole + j0 : NULL, clip = cp->clip;
    const int a0 = cp->act[0], a1 = cp->act[1], a2 = cp->act[2];
    xw += j0, hw += j0, cpv += j0, hn += j0, cn += j0, y += j0;
    if (zt) zt += j0;
#define BODY(LD, ST)                                                                             \
    {                                                                                            \
        const VEC c = LD(cpv + j);                                                               \
        VEC zi = VADD(LD(xw + j), LD(hw + j));                                                   \
        VEC zf = VADD(LD(xw + H + j), LD(hw + H + j));                                           \
        const VEC zg = VADD(LD(xw + 2 * H + j), LD(hw + 2 * H + j));                             \
        VEC zo = VADD(LD(xw + 3 * H + j), LD(hw + 3 * H + j));                                   \
        if (p) {                                                                                 \
            zi = VADD(zi, VMUL(LD(p + j), c));                                                   \
            zf = VADD(zf, VMUL(LD(p + H + j), c));                                               \
        }                                                                                        \
        const VEC i = PW(gate_v)(clip, a0, zi), f = PW(gate_v)(clip, a0, zf);                    \
        const VEC c1 = VADD(VMUL(f, c), VMUL(i, PW(gate_v)(clip, a1, zg)));                      \
        ST(cn + j, c1);                                                                          \
        if (p) zo = VADD(zo, VMUL(LD(p + 2 * H + j), c1));                                       \
        const VEC h = VMUL(PW(gate_v)(clip, a0, zo), PW(act_v)(a2, c1));                         \
        ST(y + j, h);                                                                            \
        ST(hn + j, h);                                                                           \
        if (zt) {                                                                                \
            ST(zt + j, zi);                                                                      \
            ST(zt + H + j, zf);                                                                  \
            ST(zt + 2 * H + j, zg);                                                              \
            ST(zt + 3 * H + j, zo);                                                              \
        }                                                                                        \
    }
    PW_VLOOP(n, BODY);
#undef BODY
}
#else
static void PW(lstm_fwd)(CP cp, int64_t H, int64_t j0, int64_t j1, const REAL *xw, REAL *hw,
                         const REAL *cpv, REAL *hn, REAL *cn, REAL *y, REAL *zt)
{
    const int64_t n = j1 - j0;
    const REAL *p = cp->peephole;
    xw += j0, hw += j0, cpv += j0, hn += j0, cn += j0, y += j0;
    if (zt) zt += j0;
    for (int g = 0; g < 3; ++g) {
        REAL *a = hw + g * H;
        const REAL *b = xw + g * H;
        for (int64_t j = 0; j < n; ++j) a[j] = b[j] + a[j];
        if (p && g < 2)
            for (int64_t j = 0; j < n; ++j) a[j] = a[j] + p[g * H + j0 + j] * cpv[j];
        if (zt)
            for (int64_t j = 0; j < n; ++j) zt[g * H + j] = a[j];
        PW(gate_pass)(cp, cp->act[g == 2 ? 1 : 0], a, a, n);
    }
    REAL *i = hw, *f = hw + H, *gg = hw + 2 * H, *o = hw + 3 * H;
    const REAL *xo = xw + 3 * H;
    for (int64_t j = 0; j < n; ++j) {
        const REAL c1 = f[j] * cpv[j] + i[j] * gg[j];
        cn[j] = c1;
        o[j] = xo[j] + o[j];
    }
    if (p)
        for (int64_t j = 0; j < n; ++j) o[j] = o[j] + p[2 * H + j0 + j] * cn[j];
    if (zt)
        for (int64_t j = 0; j < n; ++j) zt[3 * H + j] = o[j];
    PW(gate_pass)(cp, cp->act[0], o, o, n);
    PW(act_pass)(cp->act[2], cn, y, n);
    for (int64_t j = 0; j < n; ++j) {
        y[j] = o[j] * y[j];
        hn[j] = y[j];
    }
}

#endif

/* dh, dc: gradient reaching h' and c'. Writes dz [4H] (gate pre-activation
 * gradients), dcp (to c) and adds to dpeep [3H]. */
#ifdef VEC
static void PW(lstm_bwd)(CP cp, int64_t H, int64_t j0, int64_t j1, const REAL *zt,
                         const REAL *cpv, const REAL *dh, const REAL *dc, REAL *dz, REAL *dcp,
                         REAL *dpeep, REAL *s)
{
    (void)s;
    const int64_t n = j1 - j0;
    const REAL *p = cp->peephole ? cp->peephole + j0 : NULL, clip = cp->clip;
    REAL *dp = p ? dpeep + j0 : NULL;
    const int a0 = cp->act[0], a1 = cp->act[1], a2 = cp->act[2];
    zt += j0, cpv += j0, dh += j0, dc += j0, dz += j0, dcp += j0;
#define BODY(LD, ST)                                                                             \
    {                                                                                            \
        VEC i, di, f, df, g, dg, o, dO, hc, dhc;                                                 \
        PW(gate_grad_v)(clip, a0, LD(zt + j), &i, &di);                                          \
        PW(gate_grad_v)(clip, a0, LD(zt + H + j), &f, &df);                                      \
        PW(gate_grad_v)(clip, a1, LD(zt + 2 * H + j), &g, &dg);                                  \
        PW(gate_grad_v)(clip, a0, LD(zt + 3 * H + j), &o, &dO);                                  \
        const VEC c = LD(cpv + j), dhv = LD(dh + j);                                             \
        const VEC c1 = VADD(VMUL(f, c), VMUL(i, g));                                             \
        PW(act_grad_v)(a2, c1, &hc, &dhc);                                                       \
        dO = VMUL(VMUL(dhv, hc), dO);                                                            \
        VEC dc1 = VADD(LD(dc + j), VMUL(VMUL(dhv, o), dhc));                                     \
        if (p) dc1 = VADD(dc1, VMUL(dO, LD(p + 2 * H + j)));                                     \
        di = VMUL(VMUL(dc1, g), di);                                                             \
        df = VMUL(VMUL(dc1, c), df);                                                             \
        dg = VMUL(VMUL(dc1, i), dg);                                                             \
        VEC dcv = VMUL(dc1, f);                                                                  \
        if (p) {                                                                                 \
            dcv = VADD(VADD(dcv, VMUL(di, LD(p + j))), VMUL(df, LD(p + H + j)));                 \
            ST(dp + j, VADD(LD(dp + j), VMUL(di, c)));                                           \
            ST(dp + H + j, VADD(LD(dp + H + j), VMUL(df, c)));                                   \
            ST(dp + 2 * H + j, VADD(LD(dp + 2 * H + j), VMUL(dO, c1)));                          \
        }                                                                                        \
        ST(dz + j, di);                                                                          \
        ST(dz + H + j, df);                                                                      \
        ST(dz + 2 * H + j, dg);                                                                  \
        ST(dz + 3 * H + j, dO);                                                                  \
        ST(dcp + j, dcv);                                                                        \
    }
    PW_VLOOP(n, BODY);
#undef BODY
}
#else
static void PW(lstm_bwd)(CP cp, int64_t H, int64_t j0, int64_t j1, const REAL *zt,
                         const REAL *cpv, const REAL *dh, const REAL *dc, REAL *dz, REAL *dcp,
                         REAL *dpeep, REAL *s)
{
    const int64_t n = j1 - j0;
    const REAL *p = cp->peephole;
    zt += j0, cpv += j0, dh += j0, dc += j0, dz += j0, dcp += j0;
    REAL *i = s, *f = s + n, *g = s + 2 * n, *o = s + 3 * n, *c1 = s + 4 * n, *hc = s + 5 * n;
    REAL *dhc = s + 6 * n, *dc1 = s + 7 * n;
    REAL *dzi = dz, *dzf = dz + H, *dzg = dz + 2 * H, *dzo = dz + 3 * H;
    PW(gate_grad_pass)(cp->clip, cp->act[0], zt, i, dzi, n);
    PW(gate_grad_pass)(cp->clip, cp->act[0], zt + H, f, dzf, n);
    PW(gate_grad_pass)(cp->clip, cp->act[1], zt + 2 * H, g, dzg, n);
    PW(gate_grad_pass)(cp->clip, cp->act[0], zt + 3 * H, o, dzo, n);
    for (int64_t j = 0; j < n; ++j) c1[j] = f[j] * cpv[j] + i[j] * g[j];
    PW(gate_grad_pass)(0, cp->act[2], c1, hc, dhc, n);
    for (int64_t j = 0; j < n; ++j) {
        dzo[j] = dh[j] * hc[j] * dzo[j];
        dc1[j] = dc[j] + dh[j] * o[j] * dhc[j];
    }
    if (p)
        for (int64_t j = 0; j < n; ++j) dc1[j] = dc1[j] + dzo[j] * p[2 * H + j0 + j];
    for (int64_t j = 0; j < n; ++j) {
        dzi[j] = dc1[j] * g[j] * dzi[j];
        dzf[j] = dc1[j] * cpv[j] * dzf[j];
        dzg[j] = dc1[j] * i[j] * dzg[j];
        dcp[j] = dc1[j] * f[j];
    }
    if (p) {
        REAL *dp = dpeep + j0;
        for (int64_t j = 0; j < n; ++j) {
            dcp[j] = dcp[j] + dzi[j] * p[j0 + j] + dzf[j] * p[H + j0 + j];
            dp[j] += dzi[j] * cpv[j];
            dp[H + j] += dzf[j] * cpv[j];
            dp[2 * H + j] += dzo[j] * c1[j];
        }
    }
}

#endif

/* ---------------------------------------------------------------- GRU */

/* Both GRU forms: hw's r and z blocks (U h) become the pre-activations
 * xw + hw, which go to the tape zt when it is kept; then the r block becomes
 * the gate r. The z block stays a pre-activation, for gru_z_blend. */
static void PW(gru_rz)(CP cp, int64_t H, int64_t n, const REAL *xw, REAL *hw, REAL *zt)
{
    for (int g = 0; g < 2; ++g) {
        REAL *a = hw + g * H;
        for (int64_t j = 0; j < n; ++j) a[j] = xw[g * H + j] + a[j];
        if (zt)
            for (int64_t j = 0; j < n; ++j) zt[g * H + j] = a[j];
    }
    PW(gate_pass)(cp, cp->act[0], hw, hw, n);
}

#ifndef VEC
/* h' = (1 - z) * nv + z * hp into y and hn, from z's pre-activation az
 * (overwritten with z); y holds 1 - z on the way. The scalar forward passes
 * end with it; the vector ones with gru_h_v, below. */
static void PW(gru_z_blend)(CP cp, int64_t n, REAL *az, const REAL *nv, const REAL *hp,
                            REAL *hn, REAL *y)
{
    PW(gate_comp_pass)(cp, cp->act[0], az, y, n);
    PW(gate_pass)(cp, cp->act[0], az, az, n);
    for (int64_t j = 0; j < n; ++j) {
        y[j] = y[j] * nv[j] + az[j] * hp[j];
        hn[j] = y[j];
    }
}
#else
/* h' = (1 - z) * act1(clamp(zn)) + z * hp from z's and n's pre-activations:
 * gru_z_blend's arithmetic one vector at a time, with z and 1 - z from one
 * exp (gate_pair_v). Both GRU forms' forward passes end with it. */
static inline __attribute__((always_inline)) VEC PW(gru_h_v)(REAL clip, int a0, int a1, VEC zz,
                                                             VEC zn, VEC hp)
{
    VEC z, zc;
    PW(gate_pair_v)(clip, a0, zz, &z, &zc);
    return VADD(VMUL(zc, PW(gate_v)(clip, a1, zn)), VMUL(z, hp));
}
#endif

/* linear_before_reset: xw holds W x + b_i (+ b_h for r, z); hw holds U h (the
 * scalar version overwrites it); bhn is b_hn; thn (tape, with zt) keeps
 * U_n h + b_hn. */
#ifdef VEC
static void PW(gru_lbr_fwd)(CP cp, int64_t H, int64_t j0, int64_t j1, const REAL *xw, REAL *hw,
                            const REAL *bhn, const REAL *hp, REAL *hn, REAL *y, REAL *zt,
                            REAL *thn)
{
    const int64_t n = j1 - j0;
    const REAL clip = cp->clip;
    const int a0 = cp->act[0], a1 = cp->act[1];
    xw += j0, hw += j0, bhn += j0, hp += j0, hn += j0, y += j0;
    if (zt) zt += j0, thn += j0;
#define BODY(LD, ST)                                                                             \
    {                                                                                            \
        const VEC zr = VADD(LD(xw + j), LD(hw + j));                                             \
        const VEC zz = VADD(LD(xw + H + j), LD(hw + H + j));                                     \
        const VEC un = VADD(LD(hw + 2 * H + j), LD(bhn + j));                                    \
        const VEC r = PW(gate_v)(clip, a0, zr);                                                  \
        const VEC zn = VADD(LD(xw + 2 * H + j), VMUL(r, un));                                    \
        if (zt) { /* the tape: pre-activations and U_n h + b_hn */                              \
            ST(zt + j, zr);                                                                      \
            ST(zt + H + j, zz);                                                                  \
            ST(zt + 2 * H + j, zn);                                                              \
            ST(thn + j, un);                                                                     \
        }                                                                                        \
        const VEC h = PW(gru_h_v)(clip, a0, a1, zz, zn, LD(hp + j));                             \
        ST(y + j, h);                                                                            \
        ST(hn + j, h);                                                                           \
    }
    PW_VLOOP(n, BODY);
#undef BODY
}
#else
static void PW(gru_lbr_fwd)(CP cp, int64_t H, int64_t j0, int64_t j1, const REAL *xw, REAL *hw,
                            const REAL *bhn, const REAL *hp, REAL *hn, REAL *y, REAL *zt,
                            REAL *thn)
{
    const int64_t n = j1 - j0;
    xw += j0, hw += j0, bhn += j0, hp += j0, hn += j0, y += j0;
    if (zt) zt += j0, thn += j0;
    REAL *r = hw, *z = hw + H, *hnv = hw + 2 * H;
    PW(gru_rz)(cp, H, n, xw, hw, zt);
    for (int64_t j = 0; j < n; ++j) {
        hnv[j] = hnv[j] + bhn[j];
        if (zt) thn[j] = hnv[j];
        hnv[j] = xw[2 * H + j] + r[j] * hnv[j]; /* now the n pre-activation */
        if (zt) zt[2 * H + j] = hnv[j];
    }
    PW(gate_pass)(cp, cp->act[1], hnv, hnv, n);
    PW(gru_z_blend)(cp, n, z, hnv, hp, hn, y);
}

#endif

/* dh: gradient reaching h', overwritten with the direct term z * dh. Writes
 * dgi (input-side pre-activation gradients, GH wide) and dgh (H wide: the
 * recurrent side's n block, dzn * r; its r and z blocks are dgi's). */
#ifdef VEC
static void PW(gru_lbr_bwd)(CP cp, int64_t H, int64_t j0, int64_t j1, const REAL *zt,
                            const REAL *thn, const REAL *hp, REAL *dh, REAL *dgi, REAL *dgh,
                            REAL *s)
{
    (void)s;
    const int64_t n = j1 - j0;
    const REAL clip = cp->clip;
    const int a0 = cp->act[0], a1 = cp->act[1];
    zt += j0, thn += j0, hp += j0, dh += j0, dgi += j0, dgh += j0;
#define BODY(LD, ST)                                                                             \
    {                                                                                            \
        VEC r, dr, z, dz, nn, dn;                                                                \
        PW(gate_grad_v)(clip, a0, LD(zt + j), &r, &dr);                                          \
        PW(gate_grad_v)(clip, a0, LD(zt + H + j), &z, &dz);                                      \
        PW(gate_grad_v)(clip, a1, LD(zt + 2 * H + j), &nn, &dn);                                 \
        const VEC dhv = LD(dh + j);                                                              \
        dn = VMUL(VMUL(dhv, PW(gate_comp_v)(clip, a0, LD(zt + H + j))), dn);                     \
        dz = VMUL(VMUL(dhv, VSUB(LD(hp + j), nn)), dz);                                          \
        dr = VMUL(VMUL(dn, LD(thn + j)), dr);                                                    \
        ST(dgi + j, dr);                                                                         \
        ST(dgi + H + j, dz);                                                                     \
        ST(dgi + 2 * H + j, dn);                                                                 \
        ST(dgh + j, VMUL(dn, r));                                                                \
        ST(dh + j, VMUL(z, dhv));                                                                \
    }
    PW_VLOOP(n, BODY);
#undef BODY
}
#else
static void PW(gru_lbr_bwd)(CP cp, int64_t H, int64_t j0, int64_t j1, const REAL *zt,
                            const REAL *thn, const REAL *hp, REAL *dh, REAL *dgi, REAL *dgh,
                            REAL *s)
{
    const int64_t n = j1 - j0;
    zt += j0, thn += j0, hp += j0, dh += j0, dgi += j0, dgh += j0;
    REAL *r = s, *z = s + n, *nn = s + 2 * n, *zc = s + 3 * n;
    REAL *dr = dgi, *dz = dgi + H, *dn = dgi + 2 * H;
    PW(gate_grad_pass)(cp->clip, cp->act[0], zt, r, dr, n);
    PW(gate_grad_pass)(cp->clip, cp->act[0], zt + H, z, dz, n);
    PW(gate_grad_pass)(cp->clip, cp->act[1], zt + 2 * H, nn, dn, n);
    PW(gate_comp_pass)(cp, cp->act[0], zt + H, zc, n);
    for (int64_t j = 0; j < n; ++j) {
        dn[j] = dh[j] * zc[j] * dn[j];
        dz[j] = dh[j] * (hp[j] - nn[j]) * dz[j];
        dr[j] = dn[j] * thn[j] * dr[j];
        dgh[j] = dn[j] * r[j];
        dh[j] = z[j] * dh[j];
    }
}

#endif

/* Original GRU, first half: r and z. hw's r, z blocks become r, z; writes
 * r * h to rh for the U_n product. */
static void PW(gru_rz_fwd)(CP cp, int64_t H, int64_t j0, int64_t j1, const REAL *xw, REAL *hw,
                           const REAL *hp, REAL *rh, REAL *zt)
{
    const int64_t n = j1 - j0;
    xw += j0, hw += j0, hp += j0, rh += j0;
    if (zt) zt += j0;
    PW(gru_rz)(cp, H, n, xw, hw, zt);
    for (int64_t j = 0; j < n; ++j) rh[j] = hw[j] * hp[j];
}

/* Original GRU, second half: hw's n block holds U_n (r * h); xw's n block
 * includes b_hn; hw's z block holds z's pre-activation. */
#ifdef VEC
/* One pass, pre-activation to h (gru_h_v), with the bits of the passes
 * below. */
static void PW(gru_n_fwd)(CP cp, int64_t H, int64_t j0, int64_t j1, const REAL *xw, REAL *hw,
                          const REAL *hp, REAL *hn, REAL *y, REAL *zt)
{
    const int64_t n = j1 - j0;
    const REAL clip = cp->clip;
    const int a0 = cp->act[0], a1 = cp->act[1];
    xw += j0, hw += j0, hp += j0, hn += j0, y += j0;
    if (zt) zt += j0;
#define BODY(LD, ST)                                                                             \
    {                                                                                            \
        const VEC a = VADD(LD(xw + 2 * H + j), LD(hw + 2 * H + j));                              \
        if (zt) ST(zt + 2 * H + j, a);                                                           \
        const VEC h = PW(gru_h_v)(clip, a0, a1, LD(hw + H + j), a, LD(hp + j));                  \
        ST(y + j, h);                                                                            \
        ST(hn + j, h);                                                                           \
    }
    PW_VLOOP(n, BODY);
#undef BODY
}
#else
static void PW(gru_n_fwd)(CP cp, int64_t H, int64_t j0, int64_t j1, const REAL *xw, REAL *hw,
                          const REAL *hp, REAL *hn, REAL *y, REAL *zt)
{
    const int64_t n = j1 - j0;
    xw += j0, hw += j0, hp += j0, hn += j0, y += j0;
    REAL *a = hw + 2 * H;
    for (int64_t j = 0; j < n; ++j) a[j] = xw[2 * H + j] + a[j];
    if (zt)
        for (int64_t j = 0; j < n; ++j) zt[j0 + 2 * H + j] = a[j];
    PW(gate_pass)(cp, cp->act[1], a, a, n);
    PW(gru_z_blend)(cp, n, hw + H, a, hp, hn, y);
}
#endif

/* Original GRU backward, first half: z and n blocks of dg; dh becomes z * dh. */
static void PW(gru_zn_bwd)(CP cp, int64_t H, int64_t j0, int64_t j1, const REAL *zt,
                           const REAL *hp, REAL *dh, REAL *dg, REAL *s)
{
    const int64_t n = j1 - j0;
    zt += j0, hp += j0, dh += j0, dg += j0;
    REAL *z = s, *nn = s + n, *zc = s + 2 * n;
    REAL *dz = dg + H, *dn = dg + 2 * H;
    PW(gate_grad_pass)(cp->clip, cp->act[0], zt + H, z, dz, n);
    PW(gate_grad_pass)(cp->clip, cp->act[1], zt + 2 * H, nn, dn, n);
    PW(gate_comp_pass)(cp, cp->act[0], zt + H, zc, n);
    for (int64_t j = 0; j < n; ++j) {
        dz[j] = dh[j] * (hp[j] - nn[j]) * dz[j];
        dn[j] = dh[j] * zc[j] * dn[j];
        dh[j] = z[j] * dh[j];
    }
}

/* Original GRU backward, second half: drh = U_n^T dzn is given; writes the r
 * block of dg, adds r * drh to dhp, keeps r * h for dU_n. */
static void PW(gru_r_bwd)(CP cp, int64_t j0, int64_t j1, const REAL *zt, const REAL *hp,
                          const REAL *drh, REAL *dg, REAL *dhp, REAL *rh, REAL *s)
{
    const int64_t n = j1 - j0;
    zt += j0, hp += j0, drh += j0, dg += j0, dhp += j0, rh += j0;
    REAL *r = s;
    PW(gate_grad_pass)(cp->clip, cp->act[0], zt, r, dg, n);
    for (int64_t j = 0; j < n; ++j) {
        dg[j] = drh[j] * hp[j] * dg[j];
        dhp[j] = dhp[j] + r[j] * drh[j];
        rh[j] = r[j] * hp[j];
    }
}

/* ---------------------------------------------------------------- RNN */

static void PW(rnn_fwd)(CP cp, int64_t j0, int64_t j1, const REAL *xw, const REAL *hw,
                        REAL *hn, REAL *y, REAL *zt)
{
    const int64_t n = j1 - j0;
    xw += j0, hw += j0, hn += j0, y += j0;
    REAL *a = zt ? zt + j0 : hn;
    for (int64_t j = 0; j < n; ++j) a[j] = xw[j] + hw[j];
    PW(gate_pass)(cp, cp->act[0], a, hn, n);
    for (int64_t j = 0; j < n; ++j) y[j] = hn[j];
}

static void PW(rnn_bwd)(CP cp, int64_t j0, int64_t j1, const REAL *zt, const REAL *dh,
                        REAL *dz, REAL *s)
{
    const int64_t n = j1 - j0;
    zt += j0, dh += j0, dz += j0;
    PW(gate_grad_pass)(cp->clip, cp->act[0], zt, s, dz, n);
    for (int64_t j = 0; j < n; ++j) dz[j] = dh[j] * dz[j];
}

#ifdef VEC
#undef VADD
#undef VSUB
#undef VMUL
#undef VDIV
#undef VFNMA
#undef VMIN
#undef VMAX
#undef VLT
#undef VLE
#undef VGT
#undef VGE
#undef VS
#undef PW_VLOOP
#undef VSTORE_
#undef VLOADM_
#undef VSTOREM_
#undef PW_LANES
#undef PW_LANE
/* the ISA's one-vector macros back (pop_macro replaces the group versions) */
#pragma pop_macro("VEC")
#pragma pop_macro("VBOOL")
#pragma pop_macro("VMASK")
#pragma pop_macro("VMASK_N")
#pragma pop_macro("VP")
#pragma pop_macro("VFMA")
#pragma pop_macro("VSET1")
#pragma pop_macro("VZERO")
#pragma pop_macro("VLOAD")
#pragma pop_macro("VSTORE")
#pragma pop_macro("VLOADM")
#pragma pop_macro("VSTOREM")
#pragma pop_macro("VSEL")
#pragma pop_macro("VSCALEF")
#pragma pop_macro("VRCP14")
#pragma pop_macro("VFLOOR")
#pragma pop_macro("VTAB16")
#endif
#undef PW_MAGIC
#undef PW_BIAS
#undef PW_MANT
#undef PW_XLO
#undef PW_LN2HI
#undef PW_LN2LO
#undef PW_EXP_DEG
#undef PW_EXPM1_DEG
#undef CP
#undef PW
