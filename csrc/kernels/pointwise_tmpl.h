/*
 * pointwise_tmpl.h -- fused gate math of one step for one batch row and the
 * hidden units [j0, j1), forward and backward, for every cell.
 * Included once per dtype by sequence.c with REAL, SFX, EXP and TANH set.
 *
 * Row pointers: xw and zt are [G*H] (gate blocks of width H), the others [H].
 * The tape keeps gate pre-activations before clipping; backward recomputes
 * the activations from them, so clip masks and every activation's derivative
 * are exact.
 */
#define PW(name) RNF_CAT(RNF_CAT(name, _), SFX)

typedef struct {
    int act[3];
    REAL clip;            /* 0 = off */
    const REAL *peephole; /* [3, H] rows i, f, o, or NULL */
} PW(rnf_cellp);

static inline REAL PW(act)(int kind, REAL x)
{
    switch (kind) {
    case RNF_ACT_SIGMOID: return (REAL)1 / ((REAL)1 + EXP(-x));
    case RNF_ACT_HARD_SIGMOID: {
        const REAL y = (REAL)0.2 * x + (REAL)0.5;
        return y < 0 ? (REAL)0 : (y > 1 ? (REAL)1 : y); /* NaN passes through */
    }
    case RNF_ACT_TANH: return TANH(x);
    case RNF_ACT_RELU: return x > 0 ? x : (x == x ? (REAL)0 : x);
    default: return x;
    }
}

/* Derivative at pre-activation x whose activation is y. */
static inline REAL PW(dact)(int kind, REAL x, REAL y)
{
    switch (kind) {
    case RNF_ACT_SIGMOID: return y * ((REAL)1 - y);
    case RNF_ACT_HARD_SIGMOID: return (y > 0 && y < 1) ? (REAL)0.2 : (REAL)0;
    case RNF_ACT_TANH: return (REAL)1 - y * y;
    case RNF_ACT_RELU: return x > 0 ? (REAL)1 : (REAL)0;
    default: return 1;
    }
}

static inline REAL PW(clamp)(REAL z, REAL clip)
{
    if (clip > 0) return z > clip ? clip : (z < -clip ? -clip : z);
    return z;
}

/* Activation of a clipped pre-activation, and its derivative (0 where clamped). */
static inline REAL PW(gate)(const PW(rnf_cellp) *cp, int kind, REAL z)
{
    return PW(act)(kind, PW(clamp)(z, cp->clip));
}

static inline REAL PW(dgate)(const PW(rnf_cellp) *cp, int kind, REAL z, REAL y)
{
    if (cp->clip > 0 && (z > cp->clip || z < -cp->clip)) return 0;
    return PW(dact)(kind, PW(clamp)(z, cp->clip), y);
}

/* ---------------------------------------------------------------- LSTM */

/* xw, hw: [4H] gate rows i, f, g, o; hp, cpv: previous state; writes hn, cn,
 * y (may be NULL) and, when zt is not NULL, the pre-activations. */
static inline void PW(lstm_fwd)(const PW(rnf_cellp) *cp, int64_t H, int64_t j0, int64_t j1,
                                const REAL *xw, const REAL *hw, const REAL *hp,
                                const REAL *cpv, REAL *hn, REAL *cn, REAL *y, REAL *zt)
{
    const REAL *p = cp->peephole;
    (void)hp;
    for (int64_t j = j0; j < j1; ++j) {
        const REAL c = cpv[j];
        REAL zi = xw[j] + hw[j], zf = xw[H + j] + hw[H + j];
        const REAL zg = xw[2 * H + j] + hw[2 * H + j];
        if (p) {
            zi += p[j] * c;
            zf += p[H + j] * c;
        }
        const REAL i = PW(gate)(cp, cp->act[0], zi), f = PW(gate)(cp, cp->act[0], zf);
        const REAL g = PW(gate)(cp, cp->act[1], zg);
        const REAL c1 = f * c + i * g;
        REAL zo = xw[3 * H + j] + hw[3 * H + j];
        if (p) zo += p[2 * H + j] * c1;
        const REAL o = PW(gate)(cp, cp->act[0], zo);
        const REAL h1 = o * PW(act)(cp->act[2], c1);
        cn[j] = c1;
        hn[j] = h1;
        if (y) y[j] = h1;
        if (zt) {
            zt[j] = zi;
            zt[H + j] = zf;
            zt[2 * H + j] = zg;
            zt[3 * H + j] = zo;
        }
    }
}

/* dh, dc: gradient reaching h' and c' of this step. Writes the gate
 * gradients dz [4H], the gradient to c (dcp) and adds dpeephole terms. */
static inline void PW(lstm_bwd)(const PW(rnf_cellp) *cp, int64_t H, int64_t j0, int64_t j1,
                                const REAL *zt, const REAL *cpv, const REAL *dh,
                                const REAL *dc, REAL *dz, REAL *dcp, REAL *dpeep)
{
    const REAL *p = cp->peephole;
    for (int64_t j = j0; j < j1; ++j) {
        const REAL c = cpv[j];
        const REAL zi = zt[j], zf = zt[H + j], zg = zt[2 * H + j], zo = zt[3 * H + j];
        const REAL i = PW(gate)(cp, cp->act[0], zi), f = PW(gate)(cp, cp->act[0], zf);
        const REAL g = PW(gate)(cp, cp->act[1], zg), o = PW(gate)(cp, cp->act[0], zo);
        const REAL c1 = f * c + i * g;
        const REAL hc = PW(act)(cp->act[2], c1);
        const REAL dzo = dh[j] * hc * PW(dgate)(cp, cp->act[0], zo, o);
        REAL dc1 = dc[j] + dh[j] * o * PW(dact)(cp->act[2], c1, hc);
        if (p) dc1 += dzo * p[2 * H + j];
        const REAL dzi = dc1 * g * PW(dgate)(cp, cp->act[0], zi, i);
        const REAL dzf = dc1 * c * PW(dgate)(cp, cp->act[0], zf, f);
        const REAL dzg = dc1 * i * PW(dgate)(cp, cp->act[1], zg, g);
        REAL dcprev = dc1 * f;
        if (p) {
            dcprev += dzi * p[j] + dzf * p[H + j];
            dpeep[j] += dzi * c;
            dpeep[H + j] += dzf * c;
            dpeep[2 * H + j] += dzo * c1;
        }
        dcp[j] = dcprev;
        dz[j] = dzi;
        dz[H + j] = dzf;
        dz[2 * H + j] = dzg;
        dz[3 * H + j] = dzo;
    }
}

/* ---------------------------------------------------------------- GRU */

/* linear_before_reset: xw holds W x + b_i (+ b_h for r, z); hw holds U h
 * without bias; bhn is b_hn. thn (tape, may be NULL) keeps U_n h + b_hn. */
static inline void PW(gru_lbr_fwd)(const PW(rnf_cellp) *cp, int64_t H, int64_t j0, int64_t j1,
                                   const REAL *xw, const REAL *hw, const REAL *bhn,
                                   const REAL *hp, REAL *hn, REAL *y, REAL *zt, REAL *thn)
{
    for (int64_t j = j0; j < j1; ++j) {
        const REAL zr = xw[j] + hw[j], zz = xw[H + j] + hw[H + j];
        const REAL hnv = hw[2 * H + j] + bhn[j];
        const REAL r = PW(gate)(cp, cp->act[0], zr), z = PW(gate)(cp, cp->act[0], zz);
        const REAL zn = xw[2 * H + j] + r * hnv;
        const REAL n = PW(gate)(cp, cp->act[1], zn);
        const REAL h1 = ((REAL)1 - z) * n + z * hp[j];
        hn[j] = h1;
        if (y) y[j] = h1;
        if (zt) {
            zt[j] = zr;
            zt[H + j] = zz;
            zt[2 * H + j] = zn;
            thn[j] = hnv;
        }
    }
}

/* Writes dgi (gradient of the input-side pre-activations, [3H]), dgh (of the
 * recurrent side: n block is dzn * r) and the direct term z * dh to dhp. */
static inline void PW(gru_lbr_bwd)(const PW(rnf_cellp) *cp, int64_t H, int64_t j0, int64_t j1,
                                   const REAL *zt, const REAL *thn, const REAL *hp,
                                   const REAL *dh, REAL *dgi, REAL *dgh, REAL *dhp)
{
    for (int64_t j = j0; j < j1; ++j) {
        const REAL zr = zt[j], zz = zt[H + j], zn = zt[2 * H + j];
        const REAL r = PW(gate)(cp, cp->act[0], zr), z = PW(gate)(cp, cp->act[0], zz);
        const REAL n = PW(gate)(cp, cp->act[1], zn);
        const REAL dzn = dh[j] * ((REAL)1 - z) * PW(dgate)(cp, cp->act[1], zn, n);
        const REAL dzz = dh[j] * (hp[j] - n) * PW(dgate)(cp, cp->act[0], zz, z);
        const REAL dzr = dzn * thn[j] * PW(dgate)(cp, cp->act[0], zr, r);
        dgi[j] = dgh[j] = dzr;
        dgi[H + j] = dgh[H + j] = dzz;
        dgi[2 * H + j] = dzn;
        dgh[2 * H + j] = dzn * r;
        dhp[j] = z * dh[j];
    }
}

/* Original GRU, first half: r and z. Stores r, z in place of hw's r, z
 * blocks, writes r * h to rh for the U_n product. */
static inline void PW(gru_rz_fwd)(const PW(rnf_cellp) *cp, int64_t H, int64_t j0, int64_t j1,
                                  const REAL *xw, REAL *hw, const REAL *hp, REAL *rh, REAL *zt)
{
    for (int64_t j = j0; j < j1; ++j) {
        const REAL zr = xw[j] + hw[j], zz = xw[H + j] + hw[H + j];
        const REAL r = PW(gate)(cp, cp->act[0], zr);
        hw[j] = r;
        hw[H + j] = PW(gate)(cp, cp->act[0], zz);
        rh[j] = r * hp[j];
        if (zt) {
            zt[j] = zr;
            zt[H + j] = zz;
        }
    }
}

/* Original GRU, second half: hw's n block holds U_n (r * h); xw's n block
 * includes b_hn. */
static inline void PW(gru_n_fwd)(const PW(rnf_cellp) *cp, int64_t H, int64_t j0, int64_t j1,
                                 const REAL *xw, const REAL *hw, const REAL *hp, REAL *hn,
                                 REAL *y, REAL *zt)
{
    for (int64_t j = j0; j < j1; ++j) {
        const REAL z = hw[H + j];
        const REAL zn = xw[2 * H + j] + hw[2 * H + j];
        const REAL n = PW(gate)(cp, cp->act[1], zn);
        const REAL h1 = ((REAL)1 - z) * n + z * hp[j];
        hn[j] = h1;
        if (y) y[j] = h1;
        if (zt) zt[2 * H + j] = zn;
    }
}

/* Original GRU backward, first half: z and n blocks of dg, direct z * dh. */
static inline void PW(gru_zn_bwd)(const PW(rnf_cellp) *cp, int64_t H, int64_t j0, int64_t j1,
                                  const REAL *zt, const REAL *hp, const REAL *dh, REAL *dg,
                                  REAL *dhp)
{
    for (int64_t j = j0; j < j1; ++j) {
        const REAL zz = zt[H + j], zn = zt[2 * H + j];
        const REAL z = PW(gate)(cp, cp->act[0], zz), n = PW(gate)(cp, cp->act[1], zn);
        dg[H + j] = dh[j] * (hp[j] - n) * PW(dgate)(cp, cp->act[0], zz, z);
        dg[2 * H + j] = dh[j] * ((REAL)1 - z) * PW(dgate)(cp, cp->act[1], zn, n);
        dhp[j] = z * dh[j];
    }
}

/* Original GRU backward, second half: drh = U_n^T dzn is given; writes the
 * r block of dg, adds r * drh to dhp and keeps r * h for dU_n. */
static inline void PW(gru_r_bwd)(const PW(rnf_cellp) *cp, int64_t j0, int64_t j1,
                                 const REAL *zt, const REAL *hp, const REAL *drh, REAL *dg,
                                 REAL *dhp, REAL *rh)
{
    for (int64_t j = j0; j < j1; ++j) {
        const REAL r = PW(gate)(cp, cp->act[0], zt[j]);
        dg[j] = drh[j] * hp[j] * PW(dgate)(cp, cp->act[0], zt[j], r);
        dhp[j] += r * drh[j];
        rh[j] = r * hp[j];
    }
}

/* ---------------------------------------------------------------- RNN */

static inline void PW(rnn_fwd)(const PW(rnf_cellp) *cp, int64_t j0, int64_t j1, const REAL *xw,
                               const REAL *hw, REAL *hn, REAL *y, REAL *zt)
{
    for (int64_t j = j0; j < j1; ++j) {
        const REAL z = xw[j] + hw[j];
        const REAL h1 = PW(gate)(cp, cp->act[0], z);
        hn[j] = h1;
        if (y) y[j] = h1;
        if (zt) zt[j] = z;
    }
}

static inline void PW(rnn_bwd)(const PW(rnf_cellp) *cp, int64_t j0, int64_t j1, const REAL *zt,
                               const REAL *dh, REAL *dz)
{
    for (int64_t j = j0; j < j1; ++j) {
        const REAL h1 = PW(gate)(cp, cp->act[0], zt[j]);
        dz[j] = dh[j] * PW(dgate)(cp, cp->act[0], zt[j], h1);
    }
}

#undef PW
