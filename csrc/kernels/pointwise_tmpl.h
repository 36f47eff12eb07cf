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
static const double rnf_inv_fact[13] = {
    1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
    1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600};
#endif

#if RNF_REAL_IS_DOUBLE
typedef uint64_t PW(bits_t);
typedef int64_t PW(sbits_t);
#define PW_MAGIC 6755399441055744.0 /* 1.5 * 2^52: adding it rounds to an integer */
#define PW_BIAS 1023
#define PW_MANT 52
#define PW_XHI 710.0
#define PW_XLO -746.0
#define PW_LN2HI 6.93147180369123816490e-01
#define PW_LN2LO 1.90821492927058770002e-10
#define PW_EXP_DEG 12
#define PW_TANH_DEG 5 /* odd terms through x^9 */
#else
typedef uint32_t PW(bits_t);
typedef int32_t PW(sbits_t);
#define PW_MAGIC 12582912.0f /* 1.5 * 2^23 */
#define PW_BIAS 127
#define PW_MANT 23
#define PW_XHI 89.0f
#define PW_XLO -104.0f
#define PW_LN2HI 0.693145751953125f
#define PW_LN2LO 1.428606765330187e-06f
#define PW_EXP_DEG 7
#define PW_TANH_DEG 3 /* odd terms through x^5 */
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

/* e^x to about 1 ulp: x = n ln2 + r, |r| <= ln2/2, e^r by Taylor, 2^n in two
 * factors so that the result overflows and underflows gradually and NaN stays
 * NaN. */
static inline REAL PW(vexp)(REAL x)
{
    x = x > PW_XHI ? PW_XHI : x;
    x = x < PW_XLO ? PW_XLO : x;
    const REAL t = x * (REAL)1.44269504088896340736 + PW_MAGIC;
    const REAL n = t - PW_MAGIC;
    const REAL r = (x - n * PW_LN2HI) - n * PW_LN2LO;
    REAL p = (REAL)rnf_inv_fact[PW_EXP_DEG];
    for (int k = PW_EXP_DEG - 1; k >= 0; --k) p = (REAL)rnf_inv_fact[k] + r * p;
    const PW(bits_t) ni = PW(to_bits)(t) - PW(to_bits)(PW_MAGIC); /* n, two's complement */
    const PW(bits_t) n1 = (PW(bits_t))((PW(sbits_t))ni >> 1);
    const PW(bits_t) n2 = ni - n1;
    const REAL s1 = PW(from_bits)((n1 + PW_BIAS) << PW_MANT);
    const REAL s2 = PW(from_bits)((n2 + PW_BIAS) << PW_MANT);
    return p * s1 * s2;
}

/* sigmoid from e = e^{-|x|}: 1/(1+e) or e/(1+e), no cancellation either side. */
static inline REAL PW(sigmoid_e)(REAL x, REAL e)
{
    const REAL inv = (REAL)1 / ((REAL)1 + e);
    return x >= 0 ? inv : e * inv;
}

static inline REAL PW(vsigmoid)(REAL x) { return PW(sigmoid_e)(x, PW(vexp)(x < 0 ? x : -x)); }

/* tanh from e = e^{-2|x|}: odd Taylor series below 1/16, else (1 - e) / (1 + e). */
static inline REAL PW(tanh_e)(REAL x, REAL e)
{
    static const REAL c[4] = {(REAL)(-1.0 / 3), (REAL)(2.0 / 15), (REAL)(-17.0 / 315),
                              (REAL)(62.0 / 2835)};
    const REAL ax = x < 0 ? -x : x;
    const REAL x2 = x * x;
    REAL s = c[PW_TANH_DEG - 2];
    for (int k = PW_TANH_DEG - 3; k >= 0; --k) s = c[k] + x2 * s;
    const REAL small = x + x * (x2 * s);
    const REAL big = ((REAL)1 - e) / ((REAL)1 + e);
    return ax < (REAL)0.0625 ? small : (x < 0 ? -big : big);
}

static inline REAL PW(vtanh)(REAL x) { return PW(tanh_e)(x, PW(vexp)((REAL)-2 * (x < 0 ? -x : x))); }

static inline REAL PW(clamp)(REAL z, REAL clip)
{
    return z > clip ? clip : (z < -clip ? -clip : z); /* NaN passes through */
}

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

/* y = act(clamp(z)) and d = dy/dz, 0 where clip clamps (clip = 0: no clip).
 * Derivatives come from e, not from y: sigmoid' = e/(1+e)^2 and
 * tanh' = 4e/(1+e)^2 keep full relative precision where the gate saturates,
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
            const REAL e = PW(vexp)((REAL)-2 * (zc < 0 ? -zc : zc)), inv = (REAL)1 / ((REAL)1 + e);
            y[j] = PW(tanh_e)(zc, e);
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

/* ---------------------------------------------------------------- LSTM */

/* xw: [4H] input projection with biases; hw: [4H] U h, overwritten with the
 * gate activations; cpv: c; writes cn, y (= hn) and, if zt, pre-activations. */
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

/* dh, dc: gradient reaching h' and c'. Writes dz [4H] (gate pre-activation
 * gradients), dcp (to c) and adds to dpeep [3H]. */
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

/* ---------------------------------------------------------------- GRU */

/* Both GRU forms: hw's r and z blocks (U h) become the gates r and z, from
 * pre-activations xw + hw, which go to the tape zt when it is kept. */
static void PW(gru_rz)(CP cp, int64_t H, int64_t n, const REAL *xw, REAL *hw, REAL *zt)
{
    for (int g = 0; g < 2; ++g) {
        REAL *a = hw + g * H;
        for (int64_t j = 0; j < n; ++j) a[j] = xw[g * H + j] + a[j];
        if (zt)
            for (int64_t j = 0; j < n; ++j) zt[g * H + j] = a[j];
        PW(gate_pass)(cp, cp->act[0], a, a, n);
    }
}

/* linear_before_reset: xw holds W x + b_i (+ b_h for r, z); hw holds U h
 * (overwritten); bhn is b_hn; thn (tape, with zt) keeps U_n h + b_hn. */
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
    for (int64_t j = 0; j < n; ++j) {
        y[j] = ((REAL)1 - z[j]) * hnv[j] + z[j] * hp[j];
        hn[j] = y[j];
    }
}

/* dh: gradient reaching h', overwritten with the direct term z * dh. Writes
 * dgi (input-side pre-activation gradients) and dgh (recurrent side: the n
 * block is dzn * r). */
static void PW(gru_lbr_bwd)(CP cp, int64_t H, int64_t j0, int64_t j1, const REAL *zt,
                            const REAL *thn, const REAL *hp, REAL *dh, REAL *dgi, REAL *dgh,
                            REAL *s)
{
    const int64_t n = j1 - j0;
    zt += j0, thn += j0, hp += j0, dh += j0, dgi += j0, dgh += j0;
    REAL *r = s, *z = s + n, *nn = s + 2 * n;
    REAL *dr = dgi, *dz = dgi + H, *dn = dgi + 2 * H;
    PW(gate_grad_pass)(cp->clip, cp->act[0], zt, r, dr, n);
    PW(gate_grad_pass)(cp->clip, cp->act[0], zt + H, z, dz, n);
    PW(gate_grad_pass)(cp->clip, cp->act[1], zt + 2 * H, nn, dn, n);
    for (int64_t j = 0; j < n; ++j) {
        dn[j] = dh[j] * ((REAL)1 - z[j]) * dn[j];
        dz[j] = dh[j] * (hp[j] - nn[j]) * dz[j];
        dr[j] = dn[j] * thn[j] * dr[j];
        dgh[j] = dr[j];
        dgh[H + j] = dz[j];
        dgh[2 * H + j] = dn[j] * r[j];
        dh[j] = z[j] * dh[j];
    }
}

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
 * includes b_hn; hw's z block holds z. */
static void PW(gru_n_fwd)(CP cp, int64_t H, int64_t j0, int64_t j1, const REAL *xw, REAL *hw,
                          const REAL *hp, REAL *hn, REAL *y, REAL *zt)
{
    const int64_t n = j1 - j0;
    xw += j0, hw += j0, hp += j0, hn += j0, y += j0;
    REAL *a = hw + 2 * H;
    const REAL *z = hw + H;
    for (int64_t j = 0; j < n; ++j) a[j] = xw[2 * H + j] + a[j];
    if (zt)
        for (int64_t j = 0; j < n; ++j) zt[j0 + 2 * H + j] = a[j];
    PW(gate_pass)(cp, cp->act[1], a, a, n);
    for (int64_t j = 0; j < n; ++j) {
        y[j] = ((REAL)1 - z[j]) * a[j] + z[j] * hp[j];
        hn[j] = y[j];
    }
}

/* Original GRU backward, first half: z and n blocks of dg; dh becomes z * dh. */
static void PW(gru_zn_bwd)(CP cp, int64_t H, int64_t j0, int64_t j1, const REAL *zt,
                           const REAL *hp, REAL *dh, REAL *dg, REAL *s)
{
    const int64_t n = j1 - j0;
    zt += j0, hp += j0, dh += j0, dg += j0;
    REAL *z = s, *nn = s + n;
    REAL *dz = dg + H, *dn = dg + 2 * H;
    PW(gate_grad_pass)(cp->clip, cp->act[0], zt + H, z, dz, n);
    PW(gate_grad_pass)(cp->clip, cp->act[1], zt + 2 * H, nn, dn, n);
    for (int64_t j = 0; j < n; ++j) {
        dz[j] = dh[j] * (hp[j] - nn[j]) * dz[j];
        dn[j] = dh[j] * ((REAL)1 - z[j]) * dn[j];
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

#undef PW_MAGIC
#undef PW_BIAS
#undef PW_MANT
#undef PW_XHI
#undef PW_XLO
#undef PW_LN2HI
#undef PW_LN2LO
#undef PW_EXP_DEG
#undef PW_TANH_DEG
#undef CP
#undef PW
