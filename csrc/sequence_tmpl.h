/*
 * sequence_tmpl.h -- the one sequence driver, forward and backward through
 * time, for LSTM, GRU and RNN. Included once per dtype by sequence.c.
 *
 * Batch rows are handled in "physical" order: sorted by length, longest
 * first (stable), so the rows still running at step s are the prefix
 * [0, nact(s)) and the recurrent products skip finished rows. Tape and the
 * gradient matrices stay in the caller's (t, b) order so the weight
 * gradients are single big products over all T*B rows.
 *
 * Threads: one OpenMP region per call. Each thread owns the hidden units
 * [j0, j1) -- the matching columns of every gate -- for the whole call, and
 * a step ends with one barrier (two for the original GRU); or, in the
 * forward time loop where rnf_batch_split says so, each thread owns batch
 * rows and steps them through every unit with no barrier. Every output
 * element is computed by one thread in a fixed order, so the bits do not
 * depend on the thread count.
 */
#define FN(name) RNF_CAT(RNF_CAT(name, _), SFX)
#define RNF_SYNC() rnf_barrier_wait(bar, nth, tid, &reached)
#define CELLP RNF_CAT(rnf_cellp_, SFX)
#define OPS RNF_CAT(rnf_ops_, SFX)
#define JOB RNF_CAT(rnf_job_, SFX)

/* Time index of step s for a row of length len. */
static inline int64_t FN(time_of)(int reverse, int64_t len, int64_t s)
{
    return reverse ? len - 1 - s : s;
}

/* Row of x, y and the tape, in the caller's (t, b) order, that physical row
 * p reads or writes at step s. */
static inline int64_t FN(tape_row)(int reverse, int64_t B, const int64_t *plen,
                                   const int64_t *perm, int64_t p, int64_t s)
{
    return FN(time_of)(reverse, plen[p], s) * B + perm[p];
}

static void FN(set_cellp)(CELLP *cp, const rnf_desc *d, const void *peephole)
{
    for (int k = 0; k < 3; ++k) cp->act[k] = d->act[k];
    cp->clip = (REAL)d->clip;
    cp->peephole = d->peephole ? (const REAL *)peephole : NULL;
}

/* Hidden units [j0, j1) and panels [p0, ...) of thread tid: whole panels of
 * nr units, so each thread's packed weights are its own. */
static inline void FN(unit_split)(int64_t H, int nr, int nth, int tid, int64_t *p0,
                                  int64_t *j0, int64_t *j1)
{
    int64_t q0, q1;
    rnf_split((H + nr - 1) / nr, nth, tid, &q0, &q1);
    *p0 = q0;
    *j0 = q0 * nr < H ? q0 * nr : H;
    *j1 = q1 * nr < H ? q1 * nr : H;
}

/* C[M, N] = A[M, K] . B[K, N] for a row-major B that is not packed (activations):
 * packs RNF_KB x RNF_NB blocks into buf (of the size layout.c's threads()
 * gives) and continues each C chain block by block. */
static void FN(gemm_rowmajor_b)(const OPS *o, int64_t M, int64_t N, int64_t K, const REAL *A,
                                int64_t a_rs, int64_t a_cs, const REAL *B, int64_t ldb, REAL *C,
                                int64_t ldc, REAL *buf)
{
    if (K == 0) o->gemm(M, N, 0, A, a_rs, a_cs, buf, 0, C, ldc, 0, NULL);
    for (int64_t k0 = 0; k0 < K; k0 += RNF_KB) {
        const int64_t kb = K - k0 < RNF_KB ? K - k0 : RNF_KB;
        for (int64_t n0 = 0; n0 < N; n0 += RNF_NB) {
            const int64_t nb = N - n0 < RNF_NB ? N - n0 : RNF_NB;
            o->pack(kb, nb, B + k0 * ldb + n0, ldb, 1, buf);
            o->gemm(M, nb, kb, A + k0 * a_cs, a_rs, a_cs, buf, kb, C + n0, ldc, k0 > 0, NULL);
        }
    }
}

/*
 * Forward weight panels are unit-major: unit panel q (hidden units
 * [q*nr, q*nr + nr)) holds, gate after gate, the K x nr panels of W^T
 * (K = I for W_ih, H for W_hh). A panel's place does not depend on how units
 * are split between threads, so packed weights serve any thread count, and a
 * thread's panels are one contiguous run. Gate g of panels from q on is read
 * with panel stride G*K*nr (Kp = G*K in the GEMM contract).
 */
static void FN(pack_forward)(const OPS *o, int64_t G, int64_t H, int64_t I, const REAL *w_ih,
                             const REAL *w_hh, int64_t q0, int64_t q1, REAL *wih_p, REAL *whh_p)
{
    const int64_t nr = o->nr;
    for (int64_t q = q0; q < q1; ++q) {
        const int64_t j = q * nr, n = H - j < nr ? H - j : nr;
        for (int64_t g = 0; g < G; ++g) {
            o->pack(I, n, w_ih + (g * H + j) * I, 1, I, wih_p + (q * G + g) * I * nr);
            o->pack(H, n, w_hh + (g * H + j) * H, 1, H, whh_p + (q * G + g) * H * nr);
        }
    }
}

/* Backward panels: W_hh as K = G*H rows by the units of panels [q0, q1), for
 * dh_prev = dg . W_hh; W_ih as K = G*H rows by input panels [r0, r1), for dx. */
static void FN(pack_backward)(const OPS *o, int64_t GH, int64_t H, int64_t I, const REAL *w_ih,
                              const REAL *w_hh, int64_t q0, int64_t q1, int64_t r0, int64_t r1,
                              REAL *whb_p, REAL *wib_p)
{
    const int64_t nr = o->nr;
    const int64_t j0 = q0 * nr < H ? q0 * nr : H, j1 = q1 * nr < H ? q1 * nr : H;
    const int64_t i0 = r0 * nr < I ? r0 * nr : I, i1 = r1 * nr < I ? r1 * nr : I;
    o->pack(GH, j1 - j0, w_hh + j0, H, 1, whb_p + q0 * GH * nr);
    o->pack(GH, i1 - i0, w_ih + i0, I, 1, wib_p + r0 * GH * nr);
}

/*
 * hw[rows, gates [g0, g0 + ng) of the thread's w units] = A . W_hh^T, from the
 * thread's unit-major panels whh_t. All G gates go in one product that walks
 * the panels in memory order: with three rows or more straight into hw
 * (gemm_gates); with one, also straight into hw, several panels at a time
 * for enough independent multiply-add chains, with the nj jobs beside it
 * (gemv_side); with two, as one plain product into the thread's buffer
 * hwt, copied out. A part of the gates (the original GRU's) is computed
 * gate by gate. The bits are the same every way.
 */
static void FN(recurrent)(const OPS *o, int64_t M, int64_t G, int64_t ng, int64_t g0, int64_t H,
                          int64_t w, const REAL *A, int64_t lda, const REAL *whh_t, REAL *hwt,
                          REAL *hw, int64_t ldh, const JOB *jobs, int nj)
{
    const int64_t nr = o->nr;
    if (M > 2 && ng == G) {
        o->gemm_gates(M, (int)G, w, H, A, lda, 1, whh_t, H, hw, ldh, H, NULL);
        return;
    }
    if (ng < G) {
        for (int64_t g = g0; g < g0 + ng; ++g)
            o->gemm(M, w, H, A, lda, 1, whh_t + g * H * nr, G * H, hw + g * H, ldh, 0, NULL);
        return;
    }
    if (M == 1) {
        o->gemv_side(w, (int)G, H, A, whh_t, H, hw, H, jobs, nj);
        return;
    }
    const int64_t np = (w + nr - 1) / nr, ldt = np * G * nr;
    o->gemm(M, ldt, H, A, lda, 1, whh_t, H, hwt, ldt, 0, NULL);
    for (int64_t m = 0; m < M; ++m)
        for (int64_t q = 0; q < np; ++q)
            for (int64_t g = 0; g < G; ++g)
                memcpy(hw + m * ldh + g * H + q * nr, hwt + m * ldt + (q * G + g) * nr,
                       (size_t)(w - q * nr < nr ? w - q * nr : nr) * sizeof(REAL));
}

/* Start loading rows [0, M) of n values each, row stride ld: of a state that
 * every thread wrote a part of in the step before (also used for the next
 * projection rows and, in backward, the next tape row). The product reads a row
 * in k order, so each line another core wrote would otherwise be one
 * cross-core transfer after the other; requested together they overlap
 * (2 threads, float, T100 B1 H128: the LSTM's recurrent product took 1.14 us
 * a step without, 1.0 with; whole forward calls: LSTM 3 %, GRU 6 %, RNN 7 %
 * faster). Only rows that fit easily in L1 are asked for: at B16 H512 (32 KB)
 * it did not help. */
static inline void FN(prefetch_rows)(int64_t M, int64_t n, const REAL *A, int64_t ld)
{
    if (M * n * (int64_t)sizeof(REAL) > RNF_PREFETCH_MAX) return;
    for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < n; k += 64 / (int64_t)sizeof(REAL))
            rnf_prefetch_line(A + m * ld + k);
}

/* Rows m in [m0, m1) of xg: batch row p = pr0 + m % np at step sp = s0 + m / np,
 * which reads x at its time t_p(sp), or zeros once row p has ended. */
static void FN(gather_x)(int reverse, int64_t B, int64_t I, const REAL *x, const int64_t *perm,
                         const int64_t *plen, int64_t s0, int64_t pr0, int64_t np, int64_t m0,
                         int64_t m1, REAL *xg)
{
    for (int64_t m = m0; m < m1; ++m) {
        const int64_t sp = s0 + m / np, p = pr0 + m % np;
        const REAL *src =
            sp < plen[p] ? x + FN(tape_row)(reverse, B, plen, perm, p, sp) * I : NULL;
        for (int64_t i = 0; i < I; ++i) xg[m * I + i] = src ? src[i] : 0;
    }
}

/* xw[rows, own columns of gate g] = bias + A . W_ih^T, xw's rows ldx apart,
 * A [rows, I] with row stride lda, from the thread's unit-major panels wih_t. */
static void FN(project_gate)(const OPS *o, int64_t g, int64_t G, int64_t ldx, int64_t H,
                             int64_t I, int64_t rows, const REAL *A, int64_t lda,
                             const REAL *wih_t, const REAL *bias_x, int64_t j0, int64_t j1,
                             REAL *xw)
{
    o->gemm(rows, j1 - j0, I, A, lda, 1, wih_t + g * I * o->nr, G * I, xw + g * H + j0, ldx, 0,
            bias_x + g * H + j0);
}

/* project_gate for every gate. Where the thread's part of W_ih fits a
 * core's L2, in one product that reads (or, where A's rows share L1 sets,
 * copies) each block of A once for all gates; otherwise gate by gate, so
 * that a k-block of one gate's panels stays in L2 while all rows use it. */
static void FN(project)(const OPS *o, int64_t G, int64_t ldx, int64_t H, int64_t I, int64_t rows,
                        const REAL *A, int64_t lda, const REAL *wih_t, const REAL *bias_x,
                        int64_t j0, int64_t j1, REAL *xw)
{
    if ((double)G * (double)(j1 - j0) * (double)I * sizeof(REAL) < (double)rnf_l2_bytes()) {
        o->gemm_gates(rows, (int)G, j1 - j0, I, A, lda, 1, wih_t, I, xw + j0, ldx, H,
                      bias_x + j0);
        return;
    }
    for (int64_t g = 0; g < G; ++g)
        FN(project_gate)(o, g, G, ldx, H, I, rows, A, lda, wih_t, bias_x, j0, j1, xw);
}

/* A lazy projection (rnf_lazy_rows): of a chunk's rows, the first `done`
 * in the order the steps use them have all G gates; of the next unit of R
 * rows, gates [0, gate), and of gate `gate` the first `job` jobs. */
typedef struct {
    const REAL *x; /* the chunk's input rows, in time order */
    int64_t rows, done, gate, job, R;
    int reverse; /* steps use the rows from the last */
} FN(lazy);

/* Take the next job of a lazy projection into jb: a block of at most
 * side_mr rows of the next unit (its R rows, fewer at the chunk's end,
 * through the next gate) against one panel of the thread's own columns
 * [j0, j1). 0 once the chunk is projected. A job taken counts as done: the
 * taker runs it before anything reads its rows. */
static int FN(lazy_take)(const OPS *o, FN(lazy) *z, int64_t G, int64_t ldx, int64_t H,
                         int64_t I, const REAL *wih_t, const REAL *bias_x, int64_t j0,
                         int64_t j1, REAL *xw, JOB *jb)
{
    const int64_t nr = o->nr, w = j1 - j0, np = (w + nr - 1) / nr;
    if (np == 0) z->done = z->rows; /* no own columns */
    if (z->done >= z->rows) return 0;
    const int64_t n = z->rows - z->done < z->R ? z->rows - z->done : z->R;
    const int64_t r = z->reverse ? z->rows - z->done - n : z->done;
    const int64_t nb = (n + o->side_mr - 1) / o->side_mr; /* equal row blocks */
    const int64_t q = z->job / nb, b = z->job % nb, m0 = b * n / nb, m1 = (b + 1) * n / nb;
    const int64_t c = z->gate * H + j0 + q * nr; /* the panel's first column */
    jb->mr = (int)(m1 - m0);
    jb->ncols = (int)(w - q * nr < nr ? w - q * nr : nr);
    jb->K = I, jb->a_rs = I, jb->ldc = ldx;
    jb->A = z->x + (r + m0) * I;
    jb->Bp = wih_t + (q * G + z->gate) * I * nr;
    jb->bias = bias_x + c;
    jb->C = xw + (r + m0) * ldx + c;
    if (++z->job == np * nb) {
        z->job = 0;
        if (++z->gate == G) z->gate = 0, z->done += n;
    }
    return 1;
}

/* Run the lazy projection's next job alone; 0 once the chunk is projected. */
static int FN(lazy_run)(const OPS *o, FN(lazy) *z, int64_t G, int64_t ldx, int64_t H, int64_t I,
                        const REAL *wih_t, const REAL *bias_x, int64_t j0, int64_t j1, REAL *xw)
{
    JOB jb;
    if (!FN(lazy_take)(o, z, G, ldx, H, I, wih_t, bias_x, j0, j1, xw, &jb)) return 0;
    o->gemv_side(0, 0, 0, NULL, NULL, 0, NULL, 0, &jb, 1);
    return 1;
}

static rnf_status FN(rnf_forward)(const rnf_desc *d, const rnf_fwd_args *a, void *workspace,
                           size_t ws_bytes, void *tape, size_t tape_bytes)
{
    rnf_layout L;
    rnf_status st = rnf_make_layout(d, &L);
    if (st != RNF_OK) return st;
    if (ws_bytes < L.fwd_ws) return RNF_ERR_WORKSPACE;
    if (d->training && tape_bytes < L.tape) return RNF_ERR_TAPE;
    const int lstm = d->cell == RNF_CELL_LSTM, gru = d->cell == RNF_CELL_GRU;
    const int lbr = gru && d->linear_before_reset, orig_gru = gru && !d->linear_before_reset;
    if (!a || !workspace || (d->training && !tape) || !a->h_n || (lstm && !a->c_n) ||
        (d->peephole && !a->peephole))
        return RNF_ERR_NULL;
    const int64_t T = d->steps, B = d->batch, I = d->input_size, H = d->hidden_size;
    const int64_t G = rnf_gates(d->cell), GH = G * H;
    if (T > 0 && B > 0 && (I > 0 || H > 0) && (!a->x || !a->y)) return RNF_ERR_NULL;
    if (GH > 0 && ((I > 0 && !a->w_ih) || (H > 0 && !a->w_hh))) return RNF_ERR_NULL;
    if (a->verify_count < 0 || a->verify_count > RNF_DIFFERING_MAX) return RNF_ERR_DESC;
    if (a->verify_count > 0 &&
        (!a->verify_a || !a->verify_b || !a->verify_bytes || !a->verify_differ))
        return RNF_ERR_NULL;
    _Atomic uint64_t differ = 0; /* of the verify */

    char *ws = rnf_align_ptr(workspace);
    char *tp = d->training ? rnf_align_ptr(tape) : NULL;
    int64_t *perm = (int64_t *)(ws + L.perm), *plen = (int64_t *)(ws + L.plen);
    st = rnf_sort_rows(T, B, a->seq_lengths, perm, plen, (int64_t *)(ws + L.sort_tmp));
    if (st != RNF_OK) return st;

    const REAL *x = a->x, *w_ih = a->w_ih, *w_hh = a->w_hh;
    const REAL *b_ih = a->b_ih, *b_hh = a->b_hh, *h0 = a->h0, *c0 = a->c0;
    REAL *y = a->y, *h_n = a->h_n, *c_n = a->c_n;
    const OPS *o = &rnf_active_kernels()->SFX;
    const int nr = o->nr;
    if (d->packed) { /* weights packed beforehand by rnf_pack */
        st = rnf_pack_check(a->packed, a->packed_bytes, rnf_pack_bytes(d, 0), d, 0);
        if (st != RNF_OK) return st;
    }
    char *pk = d->packed ? rnf_align_ptr((void *)a->packed) : NULL;
    REAL *wih_p = (REAL *)(pk ? pk + L.pk_wih : ws + L.wih_p);
    REAL *whh_p = (REAL *)(pk ? pk + L.pk_whh : ws + L.whh_p);
    REAL *bias_x = (REAL *)(ws + L.bias_x), *bias_hn = (REAL *)(ws + L.bias_hn);
    /* xw: a chunk's input projection; in training the pre-activations go to
     * the tape's gates, zt_all */
    REAL *xw = (REAL *)(ws + L.xw), *zt_all = d->training ? (REAL *)(tp + L.t_gates) : NULL;
    REAL *hw = (REAL *)(ws + L.hw), *rh = (REAL *)(ws + L.rh), *xg = (REAL *)(ws + L.xg);
    REAL *hwt = (REAL *)(ws + L.hwt);
    const int64_t Tc = rnf_chunk_steps(T, B);
    const int gathered = d->reverse && a->seq_lengths;
    const int64_t lazy_rows =
        rnf_lazy_rows(d, d->nthreads, sizeof(REAL), o->side_np > 0 ? o->side_mr : 0);
    REAL *hbuf[2] = {(REAL *)(ws + L.h[0]), (REAL *)(ws + L.h[1])};
    REAL *cbuf[2] = {(REAL *)(ws + L.c[0]), (REAL *)(ws + L.c[1])};
    const int64_t Hs = rnf_row_stride(H, sizeof(REAL)); /* their row stride */
    /* row stride of hw and xw */
    const int64_t Ws = rnf_row_stride(GH, sizeof(REAL));
    REAL *t_hprev = d->training ? (REAL *)(tp + L.t_hprev) : NULL;
    REAL *t_cprev = d->training && lstm ? (REAL *)(tp + L.t_cprev) : NULL;
    REAL *t_hn = d->training && lbr ? (REAL *)(tp + L.t_hn) : NULL;
    CELLP cp;
    FN(set_cellp)(&cp, d, a->peephole);
    rnf_barrier *bar = (rnf_barrier *)(ws + L.bar);
    rnf_barrier_init(bar, d->nthreads);

#pragma omp parallel num_threads(d->nthreads)
    {
        const int tid = rnf_thread_id(), nth = rnf_thread_count();
        unsigned reached = 0; /* barriers this thread has reached */
        int64_t lo, hi, p0, j0, j1;
        FN(unit_split)(H, nr, nth, tid, &p0, &j0, &j1);
        rnf_verify vf;
        rnf_verify_start(&vf, a, &differ, nth, tid);

        /* Each thread packs (unless packed beforehand) and reads only the
         * panels of its own units, W_ih^T for the input projection and W_hh^T
         * for the recurrent product, and only ever reads and writes those
         * units' columns of xw and hw. */
        const int64_t np_t = (j1 - j0 + nr - 1) / nr; /* own panels */
        REAL *wih_t = wih_p + G * p0 * nr * I, *whh_t = whh_p + G * p0 * nr * H;
        REAL *hwt_t = hwt + B * G * p0 * nr;
        if (!pk) FN(pack_forward)(o, G, H, I, w_ih, w_hh, p0, p0 + np_t, wih_p, whh_p);
        for (int64_t g = 0; g < G; ++g)
            for (int64_t j = j0; j < j1; ++j) {
                const int64_t c = g * H + j;
                const int hh_in_x = !(lbr && g == 2); /* lbr keeps b_hn apart, under r */
                bias_x[c] = (b_ih ? b_ih[c] : 0) + (b_hh && hh_in_x ? b_hh[c] : 0);
                if (!hh_in_x) bias_hn[j] = b_hh ? b_hh[c] : 0;
            }
        for (int64_t p = 0; p < B; ++p)
            for (int64_t j = j0; j < j1; ++j) {
                hbuf[0][p * Hs + j] = h0 ? h0[perm[p] * H + j] : 0;
                if (lstm) cbuf[0][p * Hs + j] = c0 ? c0[perm[p] * H + j] : 0;
            }
        RNF_SYNC();
        /* The time loop steps rows [r0, r1) and units [u0, u1): all rows and
         * the thread's own units, or (bsplit) the thread's own rows and all
         * units, with every weight panel and no barrier between steps. */
        const int bs = rnf_batch_split(d, nth, sizeof(REAL));
        int64_t r0, r1, u0, u1;
        rnf_step_share(bs, B, H, nth, tid, j0, j1, &r0, &r1, &u0, &u1);
        const int64_t nrow = r1 - r0;
        const REAL *whh_s = bs ? whh_p : whh_t, *wih_s = bs ? wih_p : wih_t;
        REAL *hwt_s = bs ? hwt + G * ((H + nr - 1) / nr) * nr * r0 : hwt_t;
        REAL *xw_s = bs ? xw + Tc * Ws * r0 : xw;
        REAL *xg_s = bs ? xg + Tc * I * r0 : xg;
        int cur = 0;
        int64_t nact = B, s0 = 0, s1 = 0, tlo = 0; /* the chunk: steps [s0, s1) */
        FN(lazy) lz = {x, 0, 0, 0, 0, lazy_rows, d->reverse};
        const int lazy = lazy_rows > 0 && !bs && !gathered;
        for (int64_t s = 0; s < T; ++s) {
            while (nact > 0 && plen[nact - 1] <= s) --nact;
            const int64_t na = (nact < r1 ? nact : r1) - r0; /* rows stepped now */
            const REAL *hc = hbuf[cur], *cc = cbuf[cur];
            REAL *hnx = hbuf[cur ^ 1], *cnx = cbuf[cur ^ 1];
            if (na > 0 && s == s1) {
                s0 = s;
                s1 = s + Tc < plen[r0] ? s + Tc : plen[r0];
                const int64_t rows = (s1 - s0) * B;
                if (bs) { /* own rows, gathered */
                    const int64_t rr = (s1 - s0) * nrow;
                    FN(gather_x)(d->reverse, B, I, x, perm, plen, s0, r0, nrow, 0, rr, xg_s);
                    FN(project)(o, G, Ws, H, I, rr, xg_s, I, wih_s, bias_x, 0, H, xw_s);
                } else if (gathered) { /* reverse with lengths: all rows, gathered together */
                    rnf_split(rows, nth, tid, &lo, &hi);
                    FN(gather_x)(d->reverse, B, I, x, perm, plen, s0, 0, B, lo, hi, xg);
                    RNF_SYNC();
                    FN(project)(o, G, Ws, H, I, rows, xg, I, wih_t, bias_x, j0, j1, xw);
                } else { /* times [tlo, tlo + s1 - s0), contiguous in x */
                    tlo = d->reverse ? T - s1 : s0;
                    if (lazy) /* projected as the steps need it, below */
                        lz.x = x + tlo * B * I, lz.rows = rows, lz.done = lz.gate = lz.job = 0;
                    else
                        FN(project)(o, G, Ws, H, I, rows, x + tlo * B * I, I, wih_t, bias_x,
                                    j0, j1, xw);
                }
            }
/* Row p's input projection at step st (st in the current chunk) */
#define XW_ROW_AT(p, st)                                                                         \
    (bs         ? xw_s + Ws * ((st - s0) * nrow + (p) - r0)                                     \
     : gathered ? xw + Ws * ((st - s0) * B + (p))                                               \
                : xw + Ws * (FN(tape_row)(d->reverse, B, plen, perm, p, st) - tlo * B))
#define XW_ROW(p) XW_ROW_AT(p, s)
            if (lazy && na > 0) /* this step's rows, all gates */
                while (lz.done < (s - s0 + 1) * B &&
                       FN(lazy_run)(o, &lz, G, Ws, H, I, wih_t, bias_x, j0, j1, xw))
                    ;
            if (na > 0) {
                const int64_t ng = orig_gru ? 2 : G; /* the original GRU's n waits for r */
                /* At one row, later rows' projection jobs run beside the
                 * product, one a group of its panels */
                JOB jobs[RNF_SIDE_JOBS];
                int nj = 0;
                if (lazy && na == 1 && ng == G && o->side_np > 0) {
                    const int64_t groups = (u1 - u0 + nr - 1) / nr * G / o->side_np;
                    while (nj < groups && nj < RNF_SIDE_JOBS &&
                           FN(lazy_take)(o, &lz, G, Ws, H, I, wih_t, bias_x, j0, j1, xw,
                                         jobs + nj))
                        ++nj;
                }
                if (!bs) FN(prefetch_rows)(na, H, hc, Hs);
                FN(recurrent)(o, na, G, ng, 0, H, u1 - u0, hc + r0 * Hs, Hs, whh_s, hwt_s,
                              hw + r0 * Ws + u0, Ws, jobs, nj);
                if (orig_gru) {
                    for (int64_t p = r0; p < r0 + na; ++p) {
                        const int64_t tb = FN(tape_row)(d->reverse, B, plen, perm, p, s);
                        o->gru_rz_fwd(&cp, H, u0, u1, XW_ROW(p), hw + p * Ws, hc + p * Hs,
                                      rh + p * Hs, zt_all ? zt_all + tb * GH : NULL);
                    }
                    if (!bs) {
                        RNF_SYNC();
                        FN(prefetch_rows)(na, H, rh, Hs);
                    }
                    FN(recurrent)(o, na, G, 1, 2, H, u1 - u0, rh + r0 * Hs, Hs, whh_s, hwt_s,
                                  hw + r0 * Ws + u0, Ws, NULL, 0);
                }
                for (int64_t p = r0; p < r0 + na; ++p) {
                    const int64_t tb = FN(tape_row)(d->reverse, B, plen, perm, p, s);
                    REAL *xr = XW_ROW(p), *zt = zt_all ? zt_all + tb * GH : NULL;
                    if (t_hprev)
                        for (int64_t j = u0; j < u1; ++j) t_hprev[tb * H + j] = hc[p * Hs + j];
                    if (t_cprev)
                        for (int64_t j = u0; j < u1; ++j) t_cprev[tb * H + j] = cc[p * Hs + j];
                    if (lstm)
                        o->lstm_fwd(&cp, H, u0, u1, xr, hw + p * Ws, cc + p * Hs,
                                    hnx + p * Hs, cnx + p * Hs, y + tb * H, zt);
                    else if (lbr)
                        o->gru_lbr_fwd(&cp, H, u0, u1, xr, hw + p * Ws, bias_hn,
                                       hc + p * Hs, hnx + p * Hs, y + tb * H, zt,
                                       t_hn ? t_hn + tb * H : NULL);
                    else if (orig_gru)
                        o->gru_n_fwd(&cp, H, u0, u1, xr, hw + p * Ws, hc + p * Hs,
                                     hnx + p * Hs, y + tb * H, zt);
                    else
                        o->rnn_fwd(&cp, u0, u1, xr, hw + p * Ws, hnx + p * Hs,
                                   y + tb * H, zt);
                }
            }
            /* Finished rows: state carries over; their step-s slot is padding. */
            for (int64_t p = nact > r0 ? nact : r0; p < r1; ++p) {
                const int64_t tb = s * B + perm[p];
                for (int64_t j = u0; j < u1; ++j) {
                    hnx[p * Hs + j] = hc[p * Hs + j];
                    if (lstm) cnx[p * Hs + j] = cc[p * Hs + j];
                    y[tb * H + j] = 0;
                    if (t_hprev) t_hprev[tb * H + j] = 0;
                    if (t_cprev) t_cprev[tb * H + j] = 0;
                    if (t_hn) t_hn[tb * H + j] = 0;
                    if (zt_all)
                        for (int64_t g = 0; g < G; ++g) zt_all[tb * GH + g * H + j] = 0;
                }
            }
            cur ^= 1;
            if (nact > 0 && !bs) {
                const unsigned n = rnf_barrier_arrive(bar, nth, tid, &reached);
                /* While the others arrive, ask for the own columns of the
                 * next step's projection rows, which the pointwise pass
                 * reads first (B1 H128: it went from 270 to 200 ns a step). */
                if (na > 0 && s + 1 < s1 &&
                    na * G * (u1 - u0) * (int64_t)sizeof(REAL) <= RNF_PREFETCH_MAX)
                    for (int64_t p = r0; p < r0 + na && s + 1 < plen[p]; ++p)
                        FN(prefetch_rows)(G, u1 - u0, XW_ROW_AT(p, s + 1) + u0, H);
                /* Lazy: run projection jobs of later rows while the others
                 * have not arrived. */
                while (lazy && !rnf_barrier_passed(bar, nth, tid, n) &&
                       FN(lazy_run)(o, &lz, G, Ws, H, I, wih_t, bias_x, j0, j1, xw))
                    ;
                /* Then the verify, as long as the wait lasts. */
                while (!rnf_barrier_passed(bar, nth, tid, n) &&
                       rnf_verify_some(&vf, RNF_VERIFY_UNIT))
                    ;
                rnf_barrier_await(bar, nth, tid, n);
            }
        }
#undef XW_ROW
#undef XW_ROW_AT
        for (int64_t p = r0; p < r1; ++p)
            for (int64_t j = u0; j < u1; ++j) {
                h_n[perm[p] * H + j] = hbuf[cur][p * Hs + j];
                if (lstm) c_n[perm[p] * H + j] = cbuf[cur][p * Hs + j];
            }
        rnf_verify_some(&vf, SIZE_MAX); /* what the waits left */
    }
    if (a->verify_count > 0) *a->verify_differ = atomic_load(&differ);
    return RNF_OK;
}

static rnf_status FN(rnf_pack)(const rnf_desc *d, const void *w_ih, const void *w_hh,
                               void *packed, size_t bytes)
{
    rnf_layout L;
    rnf_status st = rnf_make_layout(d, &L);
    if (st != RNF_OK) return st;
    if (bytes < L.pack) return RNF_ERR_WORKSPACE;
    const int64_t I = d->input_size, H = d->hidden_size, G = rnf_gates(d->cell), GH = G * H;
    if (!packed || (GH > 0 && ((I > 0 && !w_ih) || (H > 0 && !w_hh)))) return RNF_ERR_NULL;
    char *pk = rnf_align_ptr(packed);
    rnf_pack_stamp(pk, d);
    const OPS *o = &rnf_active_kernels()->SFX;
    const int64_t nr = o->nr;
    REAL *wih_p = (REAL *)(pk + L.pk_wih), *whh_p = (REAL *)(pk + L.pk_whh);
    REAL *whb_p = (REAL *)(pk + L.pk_whb), *wib_p = (REAL *)(pk + L.pk_wib);
#pragma omp parallel num_threads(rnf_memory_team(L.pack, d->nthreads))
    {
        const int tid = rnf_thread_id(), nth = rnf_thread_count();
        int64_t q0, q1, r0, r1;
        rnf_split((H + nr - 1) / nr, nth, tid, &q0, &q1);
        rnf_split((I + nr - 1) / nr, nth, tid, &r0, &r1);
        FN(pack_forward)(o, G, H, I, w_ih, w_hh, q0, q1, wih_p, whh_p);
        if (d->training)
            FN(pack_backward)(o, GH, H, I, w_ih, w_hh, q0, q1, r0, r1, whb_p, wib_p);
    }
    return RNF_OK;
}

/* Sum the rows of a [M, N] matrix into v[N], columns [lo, hi), rows in order.
 * Each row's part is a short run, often in a page of its own (dG rows are 4 KB
 * apart at LSTM H256), where the hardware prefetcher does not follow; the
 * part RNF_COLSUM_AHEAD rows on is asked for (LSTM training B16 H256, the
 * sum of dG's 1600 rows: 0.33 -> 0.14 ms on 2 threads; GRU B64 H512, 6400
 * rows: 3.2 -> 2.6 ms). */
#define RNF_COLSUM_AHEAD 8
static void FN(colsum)(int64_t M, int64_t N, const REAL *A, REAL *v, int64_t lo, int64_t hi)
{
    for (int64_t n = lo; n < hi; ++n) v[n] = 0;
    for (int64_t m = 0; m < M; ++m) {
        if (m + RNF_COLSUM_AHEAD < M)
            for (int64_t n = lo; n < hi; n += 64 / (int64_t)sizeof(REAL))
                rnf_prefetch_line(A + (m + RNF_COLSUM_AHEAD) * N + n);
        for (int64_t n = lo; n < hi; ++n) v[n] += A[m * N + n];
    }
}

static rnf_status FN(rnf_backward)(const rnf_desc *d, const rnf_bwd_args *a, void *workspace,
                            size_t ws_bytes, const void *tape, size_t tape_bytes)
{
    rnf_layout L;
    rnf_status st = rnf_make_layout(d, &L);
    if (st != RNF_OK) return st;
    if (!d->training) return RNF_ERR_DESC;
    if (ws_bytes < L.bwd_ws) return RNF_ERR_WORKSPACE;
    if (tape_bytes < L.tape) return RNF_ERR_TAPE;
    const int lstm = d->cell == RNF_CELL_LSTM, gru = d->cell == RNF_CELL_GRU;
    const int lbr = gru && d->linear_before_reset, orig_gru = gru && !d->linear_before_reset;
    if (!a || !workspace || !tape || !a->dh0 || !a->db_ih || !a->db_hh ||
        (lstm && !a->dc0) || (d->peephole && (!a->peephole || !a->dpeephole)))
        return RNF_ERR_NULL;
    const int64_t T = d->steps, B = d->batch, I = d->input_size, H = d->hidden_size;
    const int64_t G = rnf_gates(d->cell), GH = G * H;
    if (T > 0 && B > 0 && (I > 0 || H > 0) && (!a->x || !a->dx)) return RNF_ERR_NULL;
    if (GH > 0 && ((I > 0 && (!a->w_ih || !a->dw_ih)) || (H > 0 && (!a->w_hh || !a->dw_hh))))
        return RNF_ERR_NULL;

    char *ws = rnf_align_ptr(workspace);
    const char *tp = rnf_align_ptr((void *)tape);
    int64_t *perm = (int64_t *)(ws + L.bperm), *plen = (int64_t *)(ws + L.bplen);
    st = rnf_sort_rows(T, B, a->seq_lengths, perm, plen, (int64_t *)(ws + L.bsort_tmp));
    if (st != RNF_OK) return st;

    const REAL *x = a->x, *w_ih = a->w_ih, *w_hh = a->w_hh;
    const REAL *dy = a->dy, *dh_n = a->dh_n, *dc_n = a->dc_n;
    REAL *dx = a->dx, *dw_ih = a->dw_ih, *dw_hh = a->dw_hh, *db_ih = a->db_ih, *db_hh = a->db_hh;
    REAL *dh0 = a->dh0, *dc0 = a->dc0, *dpeep = d->peephole ? (REAL *)a->dpeephole : NULL;
    const OPS *o = &rnf_active_kernels()->SFX;
    const int nr = o->nr;
    const REAL *zt_all = (const REAL *)(tp + L.t_gates);
    const REAL *hprev = (const REAL *)(tp + L.t_hprev);
    const REAL *cprev = (const REAL *)(tp + L.t_cprev), *thn = (const REAL *)(tp + L.t_hn);
    if (d->packed) {
        st = rnf_pack_check(a->packed, a->packed_bytes, L.pack, d, 1);
        if (st != RNF_OK) return st;
    }
    char *pk = d->packed ? rnf_align_ptr((void *)a->packed) : NULL;
    REAL *whb_p = (REAL *)(pk ? pk + L.pk_whb : ws + L.whb_p);
    REAL *wib_p = (REAL *)(pk ? pk + L.pk_wib : ws + L.wib_p);
    /* dgi: dG for all T*B rows (GH wide); the linear-before-reset GRU's
     * recurrent side differs only in the n block, dn * r, which dgh holds
     * (H wide) */
    REAL *dgi = (REAL *)(ws + L.dgi), *dgh = lbr ? (REAL *)(ws + L.dgh) : NULL;
    REAL *rh_all = (REAL *)(ws + L.rh_all), *drh = (REAL *)(ws + L.drh);
    REAL *dgs[2] = {(REAL *)(ws + L.dgs[0]), (REAL *)(ws + L.dgs[1])};
    REAL *dhb[2] = {(REAL *)(ws + L.dh[0]), (REAL *)(ws + L.dh[1])};
    REAL *dcb[2] = {(REAL *)(ws + L.dc[0]), (REAL *)(ws + L.dc[1])};
    CELLP cp;
    FN(set_cellp)(&cp, d, a->peephole);
    const int64_t TB = T * B;
    rnf_barrier *bar = (rnf_barrier *)(ws + L.bbar);
    rnf_barrier_init(bar, d->nthreads);
    /* Rows of W_hh the per-step product dh_prev += dg . W_hh runs over; the
     * original GRU's n block goes through r first (gru_r_bwd). */
    const int64_t Khh = orig_gru ? 2 * H : GH;

#pragma omp parallel num_threads(d->nthreads)
    {
        const int tid = rnf_thread_id(), nth = rnf_thread_count();
        unsigned reached = 0; /* barriers this thread has reached */
        REAL *scr = (REAL *)(ws + L.thread + (size_t)tid * L.thread_stride);
        REAL *bbuf = scr + 8 * H;
        int64_t p0, j0, j1, lo, hi;
        FN(unit_split)(H, nr, nth, tid, &p0, &j0, &j1);
        if (!pk) { /* W_hh for the own units, W_ih by a share of the input panels */
            int64_t r0, r1;
            rnf_split((I + nr - 1) / nr, nth, tid, &r0, &r1);
            FN(pack_backward)(o, GH, H, I, w_ih, w_hh, p0, p0 + (j1 - j0 + nr - 1) / nr, r0, r1,
                              whb_p, wib_p);
        }
        for (int64_t p = 0; p < B; ++p)
            for (int64_t j = j0; j < j1; ++j) {
                dhb[0][p * H + j] = dh_n ? dh_n[perm[p] * H + j] : 0;
                if (lstm) dcb[0][p * H + j] = dc_n ? dc_n[perm[p] * H + j] : 0;
            }
        if (dpeep)
            for (int64_t g = 0; g < 3; ++g)
                for (int64_t j = j0; j < j1; ++j) dpeep[g * H + j] = 0;
        /* Steps share rows [r0, r1) and units [u0, u1) as in forward
         * (rnf_bwd_batch_split); by rows every thread reads all of W_hh,
         * hence the barrier. */
        const int bs = rnf_bwd_batch_split(d, nth, sizeof(REAL));
        int64_t r0, r1, u0, u1;
        rnf_step_share(bs, B, H, nth, tid, j0, j1, &r0, &r1, &u0, &u1);
        if (bs) RNF_SYNC();
        const int64_t q0 = bs ? 0 : p0;
        /* A step's dG rows, the A of its product, are gathered into dg; where
         * every row keeps its place and length (no seq_lengths, or all equal),
         * they already lie in order in dgi, and the product reads them there
         * (the same values: the same bits). Not for the linear-before-reset
         * GRU, whose n block of the product comes from dgh. */
        int dg_in_dgi = !lbr;
        for (int64_t p = 0; p < B; ++p)
            if (perm[p] != p || plen[p] != plen[0]) dg_in_dgi = 0;

        int cur = 0;
        int64_t nact = 0;
        for (int64_t s = T - 1; s >= 0; --s) {
            while (nact < B && plen[nact] > s) ++nact;
            const int64_t na = (nact < r1 ? nact : r1) - r0; /* rows stepped now */
            REAL *dg = dg_in_dgi ? dgi + FN(time_of)(d->reverse, plen[0], s) * B * GH : dgs[s & 1];
            const REAL *dhc = dhb[cur], *dcc = dcb[cur];
            REAL *dhn = dhb[cur ^ 1], *dcn = dcb[cur ^ 1];
            for (int64_t p = r0; p < r0 + na; ++p) {
                const int64_t tb = FN(tape_row)(d->reverse, B, plen, perm, p, s);
                const REAL *zt = zt_all + tb * GH;
                /* Ask for the next row's tape while this row runs: the tape
                 * was written long before, and each row reads a few short
                 * runs of it, too short for the hardware prefetcher. */
                if (p + 1 < r0 + na) {
                    const int64_t tn = FN(tape_row)(d->reverse, B, plen, perm, p + 1, s);
                    FN(prefetch_rows)(G, u1 - u0, zt_all + tn * GH + u0, H);
                    if (dy) FN(prefetch_rows)(1, u1 - u0, dy + tn * H + u0, H);
                    if (lstm) FN(prefetch_rows)(1, u1 - u0, cprev + tn * H + u0, H);
                    if (gru) FN(prefetch_rows)(1, u1 - u0, hprev + tn * H + u0, H);
                    if (lbr) FN(prefetch_rows)(1, u1 - u0, thn + tn * H + u0, H);
                }
                REAL *dht = dhn + p * H; /* dh reaching this step's output, then reused */
                for (int64_t j = u0; j < u1; ++j)
                    dht[j] = dhc[p * H + j] + (dy ? dy[tb * H + j] : 0);
                if (lstm) {
                    o->lstm_bwd(&cp, H, u0, u1, zt, cprev + tb * H, dht, dcc + p * H,
                                dgi + tb * GH, dcn + p * H, dpeep, scr);
                    for (int64_t j = u0; j < u1; ++j) dht[j] = 0;
                } else if (lbr) {
                    o->gru_lbr_bwd(&cp, H, u0, u1, zt, thn + tb * H, hprev + tb * H, dht,
                                   dgi + tb * GH, dgh + tb * H, scr);
                } else if (orig_gru) {
                    o->gru_zn_bwd(&cp, H, u0, u1, zt, hprev + tb * H, dht, dgi + tb * GH, scr);
                } else {
                    o->rnn_bwd(&cp, u0, u1, zt, dht, dgi + tb * GH, scr);
                    for (int64_t j = u0; j < u1; ++j) dht[j] = 0;
                }
                for (int64_t g = 0; g < G && !dg_in_dgi; ++g) {
                    const REAL *src = lbr && g == 2 ? dgh + tb * H : dgi + tb * GH + g * H;
                    for (int64_t j = u0; j < u1; ++j) dg[p * GH + g * H + j] = src[j];
                }
            }
            for (int64_t p = nact > r0 ? nact : r0; p < r1; ++p) {
                const int64_t tb = s * B + perm[p];
                for (int64_t j = u0; j < u1; ++j) {
                    dhn[p * H + j] = dhc[p * H + j];
                    if (lstm) dcn[p * H + j] = dcc[p * H + j];
                    if (orig_gru) rh_all[tb * H + j] = 0;
                    for (int64_t g = 0; g < G; ++g) dgi[tb * GH + g * H + j] = 0;
                    if (lbr) dgh[tb * H + j] = 0;
                }
            }
            if (na > 0) {
                if (orig_gru) {
                    if (!bs) RNF_SYNC();
                    o->gemm(na, u1 - u0, H, dg + r0 * GH + 2 * H, GH, 1,
                            whb_p + q0 * GH * nr + 2 * H * nr, GH, drh + r0 * H + u0, H, 0, NULL);
                    for (int64_t p = r0; p < r0 + na; ++p) {
                        const int64_t tb = FN(tape_row)(d->reverse, B, plen, perm, p, s);
                        o->gru_r_bwd(&cp, u0, u1, zt_all + tb * GH, hprev + tb * H, drh + p * H,
                                     dgi + tb * GH, dhn + p * H, rh_all + tb * H, scr);
                        if (!dg_in_dgi)
                            for (int64_t j = u0; j < u1; ++j) dg[p * GH + j] = dgi[tb * GH + j];
                    }
                }
                if (!bs) RNF_SYNC();
                o->gemm(na, u1 - u0, Khh, dg + r0 * GH, GH, 1, whb_p + q0 * GH * nr, GH,
                        dhn + r0 * H + u0, H, 1, NULL);
            }
            cur ^= 1;
        }
        for (int64_t p = r0; p < r1; ++p)
            for (int64_t j = u0; j < u1; ++j) {
                dh0[perm[p] * H + j] = dhb[cur][p * H + j];
                if (lstm) dc0[perm[p] * H + j] = dcb[cur][p * H + j];
            }
        RNF_SYNC();
        /* The big products over all T*B rows. */
        rnf_split(TB, nth, tid, &lo, &hi);
        o->gemm(hi - lo, I, GH, dgi + lo * GH, GH, 1, wib_p, GH, dx + lo * I, I, 0, NULL);
        rnf_split(GH, nth, tid, &lo, &hi);
        FN(gemm_rowmajor_b)(o, hi - lo, I, TB, dgi + lo, 1, GH, x, I, dw_ih + lo * I, I, bbuf);
        FN(colsum)(TB, GH, dgi, db_ih, lo, hi);
        /* GRU: rows below 2H pair dgi with h; the n rows pair dgi's n block
         * with r * h (original), or dgh with h (linear before reset). db_hh
         * sums the same dG as db_ih but in that last block. */
        const int64_t split_at = gru ? (2 * H < lo ? lo : (2 * H > hi ? hi : 2 * H)) : hi;
        for (int64_t n = lo; n < (lbr ? split_at : hi); ++n) db_hh[n] = db_ih[n];
        if (split_at > lo)
            FN(gemm_rowmajor_b)(o, split_at - lo, H, TB, dgi + lo, 1, GH, hprev, H,
                                dw_hh + lo * H, H, bbuf);
        if (hi > split_at) {
            if (lbr) FN(colsum)(TB, H, dgh, db_hh + 2 * H, split_at - 2 * H, hi - 2 * H);
            FN(gemm_rowmajor_b)(o, hi - split_at, H, TB,
                                lbr ? dgh + split_at - 2 * H : dgi + split_at, 1, lbr ? H : GH,
                                lbr ? hprev : rh_all, H, dw_hh + split_at * H, H, bbuf);
        }
    }
    return RNF_OK;
}

#undef OPS
#undef JOB
#undef RNF_SYNC
#undef CELLP
#undef FN
