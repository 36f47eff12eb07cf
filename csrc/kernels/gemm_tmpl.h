/*
 * gemm_tmpl.h -- packed GEMM: panel packing, register-blocked micro-kernels
 * and the blocked macro-kernel. Included by gemm_isa.c once per dtype with
 * REAL, SFX, ISA and the vector macros (V*, below) set for the ISA.
 *
 * Packed B ("panels"): ceil(N / NR) panels, each K rows of NR values,
 * zero-padded past N: Bp[q][k][c] = B(k, q * NR + c).
 *
 * Arithmetic contract (kernels.h): every C element is one multiply-add chain
 * over k = 0..K-1 in order, started from C (acc) or from 0. Blocking over K
 * reloads C between blocks, which continues the same chain, so the bits do
 * not depend on MR, NR, KC, MC or how callers split the output.
 */
#define KFN(name) RNF_CAT(RNF_CAT(RNF_CAT(name, _), SFX), ISA)

#ifndef RNF_KC
#define RNF_KC 256 /* k-block: an NR-wide panel slice of KC rows (32 KB f32) stays in L1 */
/* In float, up to this K the product is one k-block: C is then loaded and
 * stored once, not once a block, and a panel's slice (64 KB at K 512) is read
 * from L2 by each row block, which it keeps up with (forward at B64 H512,
 * K = 512 in both products, 2 threads, medians of 7-9 alternating
 * processes: GRU 4 %, RNN 2 %, LSTM 0-1 % faster; B256 H1024, K = 1024, kept
 * in blocks of 256: 512 was not faster). Double keeps 256, unmeasured. */
#define RNF_KC_ONE (sizeof(REAL) == 4 ? 512 : RNF_KC)
/* m-block: MC rows of A times KC (512 KB; 1 MB where a float K up to
 * RNF_KC_ONE is one block) stay in L2. Each m-block reads all
 * of B: 256 rows (a chunk of the input projection, or a batch of 256) in
 * one block read W once, not twice (LSTM forward B256 H1024: 4 % faster). */
#define RNF_MC (sizeof(REAL) == 4 ? 512 : 256)
#endif
/* B whose panels span up to this many bytes (N columns by Kp rows: with
 * Kp > K the panels interleave with other calls' panels, as a weight
 * matrix's gates do) is taken to stay in L2 between row sweeps and between
 * calls, and is not prefetched. A 1 MB W_hh with the input projection's
 * W_ih beside it in a 2 MB L2 does not stay, and is (2 threads, interleaved
 * A/B against a 1 MB bound, 5-7 rounds, forward T100: float LSTM B16 H256
 * 1.009-1.031 (3 runs), B8 1.025; GRU B16 and B64 H256, RNN B16 H512, LSTM B64
 * H256: 0.999-1.012; double LSTM B16 H256 1.008). */
#define RNF_PF_SPAN_MIN (1 << 19)
/* A rows copied at a time (a multiple of MR_MAX; the buffer, its stride
 * padded by RNF_ROW_PAD, lives on the stack: 99 KB in float, 104 in double). */
#define RNF_ACOPY_ROWS 48

#ifdef VTRANSPOSE
/* rnf_pack of B = W^T, W's rows contiguous (b_rs = 1, b_cs = W's row
 * stride), as every weight matrix is packed: tiles of VL rows of W by VL
 * values, transposed in registers, each go out as VL whole panel rows.
 * Element by element, every store went NR values from the last (packing
 * float LSTM weights, one thread, medians of 15, fresh buffers: H128
 * 56 -> 19 us, H512 2.8 -> 0.84 ms; AVX2 H512 1.9 -> 1.2 ms). */
static void KFN(pack_rows_t)(int64_t K, int64_t N, const REAL *restrict W, int64_t ldw,
                             REAL *restrict Bp)
{
    for (int64_t q = 0; q * NR < N; ++q) {
        REAL *restrict out = Bp + q * K * NR;
        for (int64_t h = 0; h < NR / VL; ++h) {
            const int64_t c0 = q * NR + h * VL;
            const int64_t rows = N - c0 < 0 ? 0 : N - c0 < VL ? N - c0 : VL;
            for (int64_t k0 = 0; k0 < K; k0 += VL) {
                const int64_t kk = K - k0 < VL ? K - k0 : VL;
                const VMASK mk = VMASK_N((int)kk);
                VEC r[VL];
#pragma GCC unroll 16
                for (int i = 0; i < VL; ++i)
                    r[i] = i >= rows ? VZERO()
                           : kk == VL ? VLOAD(W + (c0 + i) * ldw + k0)
                                      : VLOADM(mk, W + (c0 + i) * ldw + k0);
                VTRANSPOSE(r);
#pragma GCC unroll 16
                for (int i = 0; i < VL; ++i)
                    if (i < kk) VSTORE(out + (k0 + i) * NR + h * VL, r[i]);
            }
        }
    }
}
#endif

void KFN(rnf_pack)(int64_t K, int64_t N, const REAL *restrict B, int64_t b_rs, int64_t b_cs,
                   REAL *restrict Bp)
{
#ifdef VTRANSPOSE
    if (b_rs == 1 && b_cs != 1) {
        KFN(pack_rows_t)(K, N, B, b_cs, Bp);
        return;
    }
#endif
    const int64_t nfull = N / NR, tail = N - nfull * NR;
    if (b_cs == 1) {
        /* Rows of B are contiguous: read each row once, front to back, and
         * deal its NR-wide pieces out to the panels. Panel by panel instead,
         * every panel re-walked all K rows at a row's stride, a miss a row
         * for activations not in cache (weight gradients, T100 B64 H512,
         * 2 threads: 300-312 -> 353-362 GF/s). */
        for (int64_t k = 0; k < K; ++k) {
            const REAL *restrict src = B + k * b_rs;
            for (int64_t q = 0; q < nfull; ++q) {
                REAL *restrict out = Bp + (q * K + k) * NR;
                for (int64_t c = 0; c < NR; ++c) out[c] = src[q * NR + c];
            }
            if (tail) {
                REAL *restrict out = Bp + (nfull * K + k) * NR;
                for (int64_t c = 0; c < NR; ++c) out[c] = c < tail ? src[nfull * NR + c] : 0;
            }
        }
        return;
    }
    /* B transposed (a weight matrix read as W^T): walk its rows, which are
     * contiguous, and scatter into the panel (in L1) */
    for (int64_t q = 0; q * NR < N; ++q) {
        const int64_t n0 = q * NR, nc = q < nfull ? NR : tail;
        REAL *restrict out = Bp + q * K * NR;
        for (int64_t c = 0; c < nc; ++c) {
            const REAL *restrict src = B + (n0 + c) * b_cs;
            for (int64_t k = 0; k < K; ++k) out[k * NR + c] = src[k * b_rs];
        }
        for (int64_t k = 0; k < K; ++k)
            for (int64_t c = nc; c < NR; ++c) out[k * NR + c] = 0;
    }
}

#ifdef VEC
/*
 * Micro-kernels. Accumulators are named scalars, not arrays, so they stay in
 * registers; MR and NP are compile-time constants after inlining, and the
 * guards on them vanish. A(i, k) = A[i * a_rs + k * a_cs]; panel p of B at
 * Bp + p * pstride, rows NR apart. ncols: valid columns of the last panel
 * (1..NR); columns past it are neither read nor written.
 */
static inline VMASK KFN(mask_of)(int valid)
{
    return VMASK_N(valid < 0 ? 0 : (valid > VL ? VL : valid));
}

/* Load or store a vector of which `valid` elements count, m = mask_of(valid):
 * a whole one without its mask. AVX2's masked store (vmaskmovps) is slow on
 * AMD. On an AMD EPYC (Zen 4), the AVX2 kernels with every tile stored
 * masked against whole tiles plain: one-core products M256 N1024 K1024 100
 * -> 109 GF/s, M64 N1024 K512 103 -> 112; 2 threads, T 100, medians of 5
 * alternating processes: LSTM B64 H512 7 % faster (double 6 %), GRU B16
 * H256 8 %, LSTM B1 H128 4 %, LSTM B16 H256 training 7 %. The AVX-512
 * kernels' masked stores cost nothing there (within 1 %). */
static inline __attribute__((always_inline)) VEC KFN(load_part)(int valid, VMASK m,
                                                                const REAL *p)
{
    return valid >= VL ? VLOAD(p) : VLOADM(m, p);
}
static inline __attribute__((always_inline)) void KFN(store_part)(int valid, VMASK m, REAL *p,
                                                                  VEC v)
{
    if (valid >= VL)
        VSTORE(p, v);
    else
        VSTOREM(m, p, v);
}

#define RNF_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

/* MR (1..MR_MAX) rows x one panel (2 vectors). Step k < npf also asks for
 * line k from pf into L2 (the caller's prefetch share, below). */
static inline __attribute__((always_inline)) void
KFN(kern_tall)(const int MR, int64_t kc, const REAL *restrict A, int64_t a_rs, int64_t a_cs,
               const REAL *restrict Bp, REAL *restrict C, int64_t ldc, int load_c,
               const REAL *restrict bias, int ncols, const char *pf, int64_t npf)
{
    const VMASK m0 = KFN(mask_of)(ncols), m1 = KFN(mask_of)(ncols - VL);
#define DECL(i) VEC c##i##a = VZERO(), c##i##b = VZERO();
    RNF_ROWS(DECL)
#undef DECL
#define INIT(i)                                                                                  \
    if (MR > i && load_c) {                                                                      \
        c##i##a = KFN(load_part)(ncols, m0, C + i * ldc);                                        \
        c##i##b = KFN(load_part)(ncols - VL, m1, C + i * ldc + VL);                              \
    } else if (MR > i && bias) {                                                                 \
        c##i##a = KFN(load_part)(ncols, m0, bias);                                               \
        c##i##b = KFN(load_part)(ncols - VL, m1, bias + VL);                                     \
    }
    RNF_ROWS(INIT)
#undef INIT
    for (int64_t k = 0; k < kc; ++k) {
        if (k < npf) __builtin_prefetch(pf + k * 64, 0, 2);
        const VEC b0 = VLOAD(Bp + k * NR), b1 = VLOAD(Bp + k * NR + VL);
        const REAL *ak = A + k * a_cs;
#define STEP(i)                                                                                  \
    if (MR > i) {                                                                                \
        const VEC a = VSET1(ak[i * a_rs]);                                                       \
        c##i##a = VFMA(a, b0, c##i##a);                                                          \
        c##i##b = VFMA(a, b1, c##i##b);                                                          \
    }
        RNF_ROWS(STEP)
#undef STEP
    }
#define STORE(i)                                                                                 \
    if (MR > i) {                                                                                \
        KFN(store_part)(ncols, m0, C + i * ldc, c##i##a);                                        \
        KFN(store_part)(ncols - VL, m1, C + i * ldc + VL, c##i##b);                              \
    }
    RNF_ROWS(STORE)
#undef STORE
}

#define RNF_VECS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

/* MR (1 or 2) rows x NP panels (2 NP <= 8 vectors): batch 1 and 2, where one
 * panel alone would give too few independent multiply-add chains. */
static inline __attribute__((always_inline)) void
KFN(kern_wide)(const int MR, const int NP, int64_t kc, const REAL *restrict A, int64_t a_rs,
               int64_t a_cs, const REAL *restrict Bp, int64_t pstride, REAL *restrict C,
               int64_t ldc, int load_c, const REAL *restrict bias, int ncols)
{
#define COL(v) ((v) / 2 * NR + (v) % 2 * VL)
#define MASK(v)                                                                                  \
    const int n##v = (v) / 2 == NP - 1 ? ncols - (v) % 2 * VL : VL;                              \
    const VMASK m##v = KFN(mask_of)(n##v);
    RNF_VECS(MASK)
#undef MASK
#define DECL(v) VEC r0##v = VZERO(), r1##v = VZERO();
    RNF_VECS(DECL)
#undef DECL
#define INIT(v)                                                                                  \
    if (2 * NP > v && load_c) {                                                                  \
        r0##v = KFN(load_part)(n##v, m##v, C + COL(v));                                          \
        if (MR > 1) r1##v = KFN(load_part)(n##v, m##v, C + ldc + COL(v));                        \
    } else if (2 * NP > v && bias) {                                                             \
        r0##v = KFN(load_part)(n##v, m##v, bias + COL(v));                                       \
        r1##v = r0##v;                                                                           \
    }
    RNF_VECS(INIT)
#undef INIT
    for (int64_t k = 0; k < kc; ++k) {
        const VEC a0 = VSET1(A[k * a_cs]);
        const VEC a1 = MR > 1 ? VSET1(A[a_rs + k * a_cs]) : a0;
#define STEP(v)                                                                                  \
    if (2 * NP > v) {                                                                            \
        const VEC b = VLOAD(Bp + (v) / 2 * pstride + k * NR + (v) % 2 * VL);                     \
        r0##v = VFMA(a0, b, r0##v);                                                              \
        if (MR > 1) r1##v = VFMA(a1, b, r1##v);                                                  \
    }
        RNF_VECS(STEP)
#undef STEP
    }
#define STORE(v)                                                                                 \
    if (2 * NP > v) {                                                                            \
        KFN(store_part)(n##v, m##v, C + COL(v), r0##v);                                          \
        if (MR > 1) KFN(store_part)(n##v, m##v, C + ldc + COL(v), r1##v);                        \
    }
    RNF_VECS(STORE)
#undef STORE
#undef COL
}

/* Rows [0, mr) of one k-block against panels [q, q + np); the accumulators
 * start from C (load_c), else from the row bias (if not NULL), else 0.
 * Never inlined: gcc inlined it into the double macro-kernel, where the outer
 * loops' live values left too few registers for 24 accumulators, and one of
 * them went to the stack in the inner loop (-15 % at M16 N512 K256). */
static __attribute__((noinline)) void
KFN(block)(int64_t mr, int np, int64_t kc, const REAL *A, int64_t a_rs, int64_t a_cs,
           const REAL *Bp, int64_t pstride, REAL *C, int64_t ldc, int load_c, const REAL *bias,
           int ncols, const char *pf, int64_t npf)
{
#define RNF_K(m, p)                                                                              \
    KFN(kern_tall)(m, kc, A, a_rs, a_cs, Bp, C, ldc, load_c, bias, ncols, pf, npf)
#define RNF_W(m, p)                                                                              \
    KFN(kern_wide)(m, p, kc, A, a_rs, a_cs, Bp, pstride, C, ldc, load_c, bias, ncols)
    if (np == 1) {
        switch (mr) {
        case 1: RNF_K(1, 1); break;
        case 2: RNF_K(2, 1); break;
        case 3: RNF_K(3, 1); break;
        case 4: RNF_K(4, 1); break;
        case 5: RNF_K(5, 1); break;
        case 6: RNF_K(6, 1); break;
#if MR_MAX > 6
        case 7: RNF_K(7, 1); break;
        case 8: RNF_K(8, 1); break;
        case 9: RNF_K(9, 1); break;
        case 10: RNF_K(10, 1); break;
        case 11: RNF_K(11, 1); break;
        case 12: RNF_K(12, 1); break;
#endif
        default: break;
        }
    } else if (mr == 1) {
        switch (np) { /* NP_WIDE1 <= 4 */
        case 2: RNF_W(1, 2); break;
#if NP_WIDE1 > 3
        case 3: RNF_W(1, 3); break;
#endif
        default: RNF_W(1, NP_WIDE1); break;
        }
    } else {
        switch (np) {
        case 2: RNF_W(2, 2); break;
        case 3: RNF_W(2, NP_WIDE2 >= 3 ? 3 : NP_WIDE2); break;
        default: RNF_W(2, NP_WIDE2); break;
        }
    }
#undef RNF_K
#undef RNF_W
}
#endif /* VEC */

/*
 * G products that share A: C_g[M, N] (+)= A[M, K] . B_g[K, N] for g < G,
 * C_g = C + g * cg (bias_g = bias + g * cg), with the panels of the B_g
 * interleaved, gate after gate: panel q of B_g is panel q * G + g of Bp
 * (the unit-major weight panels of sequence_tmpl.h). A's rows are read, or
 * copied (below), once for all G. G = 1 is the plain product.
 */
#ifdef VEC
/* Ask for rows [0, rows) of a C tile, ncols values each, before the
 * micro-kernel call that loads and stores them: while the call before it
 * runs. A kernel otherwise began by waiting on its C rows wherever C had
 * left L2 (one core, M256 N4096 K1024, C rows padded: 100-108 -> 104-110
 * GF/s; 256 rows at H1024 in an LSTM step hold 4 MB of C). */
static inline void KFN(prefetch_c)(const REAL *C, int64_t ldc, int64_t rows, int ncols)
{
    for (int64_t i = 0; i < rows; ++i) {
        const char *p = (const char *)(C + i * ldc), *e = (const char *)(C + i * ldc + ncols - 1);
        for (; p <= e; p += 64) __builtin_prefetch(p, 1, 3);
        __builtin_prefetch(e, 1, 3);
    }
}

/* dst[0, n) = src[0, n), for the copies of A below: inline vector moves.
 * As calls to memcpy (about 17 000 of 192 bytes a thread for each weight
 * gradient at T100 B16 H256) they had 3.5 % of an LSTM training call's
 * samples; inline, the copies have about 2 %, and whole training calls
 * were 0.4-0.7 % faster (LSTM B16 and B64, GRU B16, alternating in one
 * process). The empty asm hides the index from gcc, which would turn the
 * loops back into such calls. */
static inline __attribute__((always_inline)) void KFN(copy_row)(REAL *restrict dst,
                                                                const REAL *restrict src,
                                                                int64_t n)
{
    int64_t i = 0;
    for (; i + VL <= n; i += VL) {
        VSTORE(dst + i, VLOAD(src + i));
        __asm__("" : "+r"(i));
    }
    for (; i < n; ++i) {
        dst[i] = src[i];
        __asm__("" : "+r"(i));
    }
}
#endif
static void KFN(gemm_body)(int64_t M, int G, int64_t N, int64_t K, const REAL *A, int64_t a_rs,
                           int64_t a_cs, const REAL *Bp, int64_t Kp, REAL *C, int64_t ldc,
                           int64_t cg, int acc, const REAL *bias)
{
    if (M <= 0 || N <= 0 || G <= 0) return;
    const int64_t npg = (N + NR - 1) / NR, npan = G * npg; /* panels per B_g, in all */
    if (K <= 0) {
        if (!acc)
            for (int g = 0; g < G; ++g)
                for (int64_t m = 0; m < M; ++m)
                    for (int64_t n = 0; n < N; ++n)
                        C[g * cg + m * ldc + n] = bias ? bias[g * cg + n] : 0;
        return;
    }
/* panel P of Bp: its first column's offset in C (and bias), and its valid columns */
#define RNF_COFF(P) ((P) % G * cg + (P) / G * NR)
#define RNF_NCOL(P) (N - (P) / G * NR < NR ? N - (P) / G * NR : NR)
    /* equal m-blocks (520 float rows: 260 + 260, not 512 + 8, whose 8 rows
     * would stream all of B again for little work) */
    const int64_t nmb = (M + RNF_MC - 1) / RNF_MC, mcb = (M + nmb - 1) / nmb;
#ifdef VEC
    /* Rows 2 KB or 4 KB apart (H = 512, 1024 in float) fall into one or two
     * L1 sets, and the MR rows a micro-kernel reads evict each other; such
     * rows are first copied, a few row blocks at a time, to a buffer whose
     * padded stride spreads them over the sets.
     * A given transposed (the weight gradients: A(i, k) = dG[k][i]) with its
     * k columns 1 KB or more apart puts every k on its own line, and at 4 KB
     * multiples all of them in one L1 set; its row blocks are copied k-major
     * to a dense buffer, where a micro-kernel's reads run on consecutive
     * lines (1.3x at M2048 N1024 K6400, k 16 KB apart, one core). */
    const int64_t stride_bytes = a_rs * (int64_t)sizeof(REAL);
    const int copy_a = a_cs == 1 && M > 2 && rnf_rows_share_sets(stride_bytes);
    const int copy_t = a_rs == 1 && M > 2 && a_cs * (int64_t)sizeof(REAL) >= 1024;
    REAL abuf[RNF_ACOPY_ROWS * (RNF_KC_ONE + RNF_ROW_PAD)] __attribute__((aligned(64)));
#endif
    const int64_t kcb = K <= (int64_t)RNF_KC_ONE ? K : RNF_KC; /* k-block */
    for (int64_t m0 = 0; m0 < M; m0 += mcb) {
        const int64_t mb = M - m0 < mcb ? M - m0 : mcb;
        for (int64_t k0 = 0; k0 < K; k0 += kcb) {
            const int64_t kc = K - k0 < kcb ? K - k0 : kcb;
            const int load_c = acc || k0 > 0;
            const REAL *b0 = load_c ? NULL : bias;
            const REAL *Ab = A + m0 * a_rs + k0 * a_cs;
            const REAL *Bb = Bp + k0 * NR;
            REAL *Cb = C + m0 * ldc;
#ifdef VEC
            if (mb <= 2) { /* batch 1 or 2: several panels of a B_g at once, for enough FMA chains */
                const int npw = mb == 1 ? NP_WIDE1 : NP_WIDE2;
                for (int g = 0; g < G; ++g)
                    for (int64_t q = 0; q < npg; q += npw) {
                        /* a group of up to npw panels; the last group may be smaller */
                        const int np = (int)(npg - q < npw ? npg - q : npw);
                        const int nc = (int)(N - (q + np - 1) * NR);
                        KFN(block)(mb, np, kc, Ab, a_rs, a_cs, Bb + (q * G + g) * Kp * NR,
                                   G * Kp * NR, Cb + g * cg + q * NR, ldc, load_c,
                                   b0 ? b0 + g * cg + q * NR : NULL, nc > NR ? NR : nc, NULL, 0);
                    }
                continue;
            }
            /* rows per pass over B */
            const int64_t sub = copy_a || copy_t ? RNF_ACOPY_ROWS : mb;
            for (int64_t s0 = 0; s0 < mb; s0 += sub) {
                const int64_t sb = mb - s0 < sub ? mb - s0 : sub;
                const REAL *As = Ab + s0 * a_rs;
                int64_t rs = a_rs, cs = a_cs;
                if (copy_a) {
                    rs = kc + RNF_ROW_PAD;
                    for (int64_t i = 0; i < sb; ++i)
                        KFN(copy_row)(abuf + i * rs, As + i * a_rs, kc);
                    As = abuf;
                } else if (copy_t) { /* kc x sb <= the buffer's ACOPY_ROWS x (KC_ONE + PAD) */
                    cs = sb;
                    for (int64_t k = 0; k < kc; ++k)
                        KFN(copy_row)(abuf + k * cs, As + k * a_cs, sb);
                    As = abuf;
                }
                /* equal row blocks (16 rows: 8 + 8, not 12 + 4): every call keeps
                 * enough independent accumulator chains */
                const int64_t nblk = (sb + MR_MAX - 1) / MR_MAX;
                /* While the row blocks use panel q's kc rows, they ask for
                 * panel q + 1's into L2, a share each, one line per k step.
                 * B is read once per row sweep, and where it is larger than L2
                 * the first row block of each panel otherwise waited on L3
                 * (one core, M128 N4096 K1024: 146-153 -> 161-171 GF/s;
                 * M16 N2048 K512: 139-140 -> 167-178). A share longer than
                 * kc (one row block) is asked for only in part. */
                const int64_t lines = npan * Kp * NR * (int64_t)sizeof(REAL) > RNF_PF_SPAN_MIN
                                          ? kc * NR * (int64_t)sizeof(REAL) / 64
                                          : 0;
                const int64_t share = (lines + nblk - 1) / nblk;
                /* C rows are asked for only where the sweep's are too many to
                 * stay in L2: with them in L1 or L2 the requests cost time (GRU
                 * B16 H256 forward, 8 rows a thread, 2 threads: 4 % slower) */
                const int pfc = sb * npan * NR * (int64_t)sizeof(REAL) > RNF_PF_SPAN_MIN;
                for (int64_t q = 0; q < npan; ++q) {
                    const int nc = (int)RNF_NCOL(q);
                    const int64_t co = RNF_COFF(q);
                    const char *next = q + 1 < npan ? (const char *)(Bb + (q + 1) * Kp * NR) : NULL;
                    for (int64_t blk = 0, i = 0; blk < nblk; ++blk) {
                        const int64_t mr = (sb - i) / (nblk - blk) + ((sb - i) % (nblk - blk) != 0);
                        const int64_t f0 = blk * share < lines ? blk * share : lines;
                        const int64_t nf = lines - f0 < share ? lines - f0 : share;
                        /* the next call's rows of C (below) */
                        if (pfc && blk + 1 < nblk)
                            KFN(prefetch_c)(Cb + (s0 + i + mr) * ldc + co, ldc,
                                            sb - i - mr < MR_MAX ? sb - i - mr : MR_MAX, nc);
                        else if (pfc && q + 1 < npan)
                            KFN(prefetch_c)(Cb + s0 * ldc + RNF_COFF(q + 1), ldc,
                                            sb < MR_MAX ? sb : MR_MAX, (int)RNF_NCOL(q + 1));
                        KFN(block)(mr, 1, kc, As + i * rs, rs, cs, Bb + q * Kp * NR, Kp * NR,
                                   Cb + (s0 + i) * ldc + co, ldc, load_c, b0 ? b0 + co : NULL,
                                   nc, next ? next + f0 * 64 : NULL, next ? nf : 0);
                        i += mr;
                    }
                }
            }
#else
            /* Portable path: the same chains, written for the compiler to vectorise. */
            for (int64_t q = 0; q < npan; ++q) {
                const int64_t nc = RNF_NCOL(q), co = RNF_COFF(q);
                const REAL *Bq = Bb + q * Kp * NR;
                for (int64_t i = 0; i < mb; ++i) {
                    REAL c[NR];
                    for (int64_t n = 0; n < NR; ++n)
                        c[n] = n >= nc ? 0
                               : load_c ? Cb[i * ldc + co + n]
                               : b0     ? b0[co + n]
                                        : 0;
                    const REAL *a = Ab + i * a_rs;
                    for (int64_t k = 0; k < kc; ++k) {
                        const REAL av = a[k * a_cs];
                        for (int64_t n = 0; n < NR; ++n) c[n] += av * Bq[k * NR + n];
                    }
                    for (int64_t n = 0; n < nc; ++n) Cb[i * ldc + co + n] = c[n];
                }
            }
#endif
        }
    }
#undef RNF_COFF
#undef RNF_NCOL
}

/*
 * C[M, N] (+)= A[M, K] . B[K, N] with B packed in panels of Kp >= K rows, N
 * counted from a panel boundary. C is written only in its M x N window.
 * Without acc, each row's chain starts from bias[N] (NULL: from 0).
 */
void KFN(rnf_gemm_packed)(int64_t M, int64_t N, int64_t K, const REAL *A, int64_t a_rs,
                          int64_t a_cs, const REAL *Bp, int64_t Kp, REAL *C, int64_t ldc, int acc,
                          const REAL *bias)
{
    KFN(gemm_body)(M, 1, N, K, A, a_rs, a_cs, Bp, Kp, C, ldc, 0, acc, bias);
}

/* gemm_body for G > 1 (kernels.h: gemm_gates) */
void KFN(rnf_gemm_gates)(int64_t M, int G, int64_t N, int64_t K, const REAL *A, int64_t a_rs,
                         int64_t a_cs, const REAL *Bp, int64_t Kp, REAL *C, int64_t ldc,
                         int64_t cg, const REAL *bias)
{
    KFN(gemm_body)(M, G, N, K, A, a_rs, a_cs, Bp, Kp, C, ldc, cg, 0, bias);
}

/*
 * Side jobs (kernels.h: rnf_job). A one-row product streams each k row of
 * its panels from L2 for one multiply-add a vector: L2 bandwidth bounds it
 * (34 bytes a cycle on an AMD EPYC, Zen 4), and the FMA units idle most of
 * the time. Another product's row block, run in the same k loop, fills
 * them. A standalone model of an LSTM step at batch 1, H128, on one of two
 * threads (its 8 panels of W_hh, and 1.33 jobs of 6 input rows, the step's
 * share of the projection): 1.69 us a step one after the other, 1.23 us
 * together, 1.14 us the product alone. In the sequence driver, with the
 * barrier and the gate math, whole calls were 7-12 % faster (sequence.c,
 * rnf_lazy_rows).
 */
#define KJOB RNF_CAT(rnf_job_, SFX)
/* panels a job goes beside (0: none, every job runs alone) */
#if defined(VEC) && SIDE_MR > 0
#define SIDE_NP NP_WIDE1
#else
#define SIDE_NP 0
#endif

/* A job alone, the way the packed product runs such a block. */
static void KFN(run_job)(const KJOB *j)
{
#ifdef VEC
    KFN(block)(j->mr, 1, j->K, j->A, j->a_rs, 1, j->Bp, 0, j->C, j->ldc, 0, j->bias, j->ncols,
               NULL, 0);
#else
    KFN(gemm_body)(j->mr, 1, j->ncols, j->K, j->A, j->a_rs, 1, j->Bp, j->K, j->C, j->ldc, 0, 0,
                   j->bias);
#endif
}

#if defined(VEC) && SIDE_MR > 0
/* One row a against NP panels of Bp (pstride apart) over k < K, panel p
 * being panel P0 + p of a gates product (gemm_gates' order: its columns at
 * C + P % G * cg + P / G * NR, of N per gate), and, in the same loop, job
 * jb's MR rows (0: none) against its panel. Every chain is the one the
 * product and the job would run alone. */
static inline __attribute__((always_inline)) void
KFN(kern_side)(const int MR, const int NP, int64_t K, const REAL *restrict a,
               const REAL *restrict Bp, int64_t pstride, int64_t P0, int G, int64_t N,
               REAL *C, int64_t cg, const KJOB *restrict jb)
{
#define PANEL(p)                                                                                 \
    REAL *c##p = NP > p ? C + (P0 + p) % G * cg + (P0 + p) / G * NR : NULL;                      \
    const int w##p = (int)(N - (P0 + p) / G * NR < NR ? N - (P0 + p) / G * NR : NR);             \
    const VMASK m##p##a = KFN(mask_of)(w##p), m##p##b = KFN(mask_of)(w##p - VL);
#define RNF_PANELS(X) X(0) X(1) X(2) X(3)
#define DECL(p)                                                                                  \
    PANEL(p)                                                                                     \
    VEC r##p##a = VZERO(), r##p##b = VZERO();
    RNF_PANELS(DECL)
#undef DECL
#undef PANEL
    const int64_t K2 = MR > 0 ? jb->K : 0, kk = K < K2 ? K : K2;
    const REAL *restrict A = MR > 0 ? jb->A : NULL, *restrict B2 = MR > 0 ? jb->Bp : NULL;
    const int64_t a_rs = MR > 0 ? jb->a_rs : 0;
    const VMASK n0 = KFN(mask_of)(MR > 0 ? jb->ncols : 0),
                n1 = KFN(mask_of)(MR > 0 ? jb->ncols - VL : 0);
#define DECL(i) VEC c##i##a = VZERO(), c##i##b = VZERO();
    RNF_ROWS(DECL)
#undef DECL
#define INIT(i)                                                                                  \
    if (MR > i && jb->bias) {                                                                    \
        c##i##a = KFN(load_part)(jb->ncols, n0, jb->bias);                                       \
        c##i##b = KFN(load_part)(jb->ncols - VL, n1, jb->bias + VL);                             \
    }
    RNF_ROWS(INIT)
#undef INIT
#define OWN(p)                                                                                   \
    if (NP > p) {                                                                                \
        r##p##a = VFMA(av, VLOAD(Bp + p * pstride + k * NR), r##p##a);                           \
        r##p##b = VFMA(av, VLOAD(Bp + p * pstride + k * NR + VL), r##p##b);                      \
    }
#define SIDE(i)                                                                                  \
    if (MR > i) {                                                                                \
        const VEC x = VSET1(A[i * a_rs + k]);                                                    \
        c##i##a = VFMA(x, b0, c##i##a);                                                          \
        c##i##b = VFMA(x, b1, c##i##b);                                                          \
    }
    int64_t k = 0;
    for (; k < kk; ++k) {
        const VEC av = VSET1(a[k]);
        const VEC b0 = VLOAD(B2 + k * NR), b1 = VLOAD(B2 + k * NR + VL);
        RNF_PANELS(OWN)
        RNF_ROWS(SIDE)
    }
    for (; k < K; ++k) {
        const VEC av = VSET1(a[k]);
        RNF_PANELS(OWN)
    }
    for (k = kk; k < K2; ++k) {
        const VEC b0 = VLOAD(B2 + k * NR), b1 = VLOAD(B2 + k * NR + VL);
        RNF_ROWS(SIDE)
    }
#undef OWN
#undef SIDE
#define STORE(p)                                                                                 \
    if (NP > p) {                                                                                \
        KFN(store_part)(w##p, m##p##a, c##p, r##p##a);                                           \
        KFN(store_part)(w##p - VL, m##p##b, c##p + VL, r##p##b);                                 \
    }
    RNF_PANELS(STORE)
#undef STORE
#define STORE(i)                                                                                 \
    if (MR > i) {                                                                                \
        KFN(store_part)(jb->ncols, n0, jb->C + i * jb->ldc, c##i##a);                            \
        KFN(store_part)(jb->ncols - VL, n1, jb->C + i * jb->ldc + VL, c##i##b);                  \
    }
    RNF_ROWS(STORE)
#undef STORE
#undef RNF_PANELS
}

/* kern_side for NP panels and the job's row count (jb NULL: no job; a job
 * comes only with a whole group of NP_WIDE1 panels). Not inlined, as block. */
static __attribute__((noinline)) void KFN(side_block)(int np, int64_t K, const REAL *a,
                                                      const REAL *Bp, int64_t pstride, int64_t P0,
                                                      int G, int64_t N, REAL *C, int64_t cg,
                                                      const KJOB *jb)
{
#define RNF_S(m, n) KFN(kern_side)(m, n, K, a, Bp, pstride, P0, G, N, C, cg, jb)
    if (!jb) {
        switch (np) {
        case 1: RNF_S(0, 1); break;
        case 2: RNF_S(0, 2); break;
#if NP_WIDE1 > 2
        case 3: RNF_S(0, 3); break;
#endif
#if NP_WIDE1 > 3
        case 4: RNF_S(0, 4); break;
#endif
        default: break;
        }
        return;
    }
    switch (jb->mr) {
    case 1: RNF_S(1, NP_WIDE1); break;
    case 2: RNF_S(2, NP_WIDE1); break;
    case 3: RNF_S(3, NP_WIDE1); break;
#if SIDE_MR > 3
    case 4: RNF_S(4, NP_WIDE1); break;
    case 5: RNF_S(5, NP_WIDE1); break;
    case 6: RNF_S(6, NP_WIDE1); break;
#endif
    default:
        RNF_S(0, NP_WIDE1);
        KFN(run_job)(jb);
        break;
    }
#undef RNF_S
}
#endif

/* kernels.h: gemv_side. A job goes beside each whole group of NP_WIDE1
 * panels, in order; the rest run after the product. */
void KFN(rnf_gemv_side)(int64_t N, int G, int64_t K, const REAL *a, const REAL *Bp, int64_t Kp,
                        REAL *C, int64_t cg, const KJOB *jobs, int njobs)
{
    int next = 0;
    if (N > 0 && G > 0) {
#if defined(VEC) && SIDE_MR > 0
        const int64_t npan = G * ((N + NR - 1) / NR);
        for (int64_t q = 0; q < npan; q += NP_WIDE1) {
            const int np = (int)(npan - q < NP_WIDE1 ? npan - q : NP_WIDE1);
            const KJOB *jb = np == NP_WIDE1 && next < njobs ? jobs + next++ : NULL;
            KFN(side_block)(np, K, a, Bp + q * Kp * NR, Kp * NR, q, G, N, C, cg, jb);
        }
#else
        KFN(gemm_body)(1, G, N, K, a, 0, 1, Bp, Kp, C, 0, cg, 0, NULL);
#endif
    }
    for (; next < njobs; ++next) KFN(run_job)(jobs + next);
}
#undef KJOB

/* kernels.h: peak. RNF_PEAK_CHAINS independent multiply-add chains of whole
 * vectors, in registers only, for `rounds` rounds: what one core of this
 * path can compute with no memory traffic at all, the bound every product
 * here works under. Each chain runs x <- x * a + b towards its fixed point 1,
 * so values stay normal. The baseline path, with no FMA, does a multiply
 * and an add: two flops as well. Returns the flops done; *sink gets the
 * chains' sum, so no chain is dead code. */
#define RNF_PEAK_CHAINS 12
int64_t KFN(rnf_peak)(int64_t rounds, REAL *sink)
{
    const REAL a = (REAL)0.999, b = (REAL)0.001;
#ifdef VEC
    VEC x[RNF_PEAK_CHAINS];
    const VEC va = VSET1(a), vb = VSET1(b);
    for (int i = 0; i < RNF_PEAK_CHAINS; ++i) x[i] = VSET1((REAL)(i + 1));
    for (int64_t r = 0; r < rounds; ++r) {
#pragma GCC unroll 12
        for (int i = 0; i < RNF_PEAK_CHAINS; ++i) x[i] = VFMA(x[i], va, vb);
    }
    REAL out[VL], sum = 0;
    for (int i = 1; i < RNF_PEAK_CHAINS; ++i) x[0] = VP(add)(x[0], x[i]);
    VSTORE(out, x[0]);
    for (int l = 0; l < VL; ++l) sum += out[l];
    *sink = sum;
    return rounds * RNF_PEAK_CHAINS * VL * 2;
#else
    enum { W = 16 / sizeof(REAL) }; /* values a chain: one SSE2 register */
    REAL x[RNF_PEAK_CHAINS * W], sum = 0;
    for (int i = 0; i < RNF_PEAK_CHAINS * W; ++i) x[i] = (REAL)(i + 1);
    for (int64_t r = 0; r < rounds; ++r)
        for (int i = 0; i < RNF_PEAK_CHAINS * W; ++i) x[i] = x[i] * a + b;
    for (int i = 0; i < RNF_PEAK_CHAINS * W; ++i) sum += x[i];
    *sink = sum;
    return rounds * RNF_PEAK_CHAINS * W * 2;
#endif
}
#undef RNF_PEAK_CHAINS

#undef RNF_ROWS
#undef RNF_VECS
#undef KFN
