/*
 * jordan_tmpl.h -- the Jordan network, forward and backward through time:
 *     h_t = act_h(W x_t + U y_{t-1} + b_h),   y_t = act_o(V h_t + b_o).
 * Included by sequence.c after sequence_tmpl.h, once per dtype, so it
 * shares that driver's helpers (unit split, projection, packing).
 *
 * The recurrence runs through y, so a step is two dependent products: the
 * hidden layer (threads own hidden units) and the output layer (threads own
 * output units), with a barrier after each. Rows are in physical order,
 * longest first, as in the other driver.
 */
#define FN(name) RNF_CAT(RNF_CAT(name, _), SFX)
#define RNF_SYNC() rnf_barrier_wait(bar, nth, tid, &reached)
#define CELLP RNF_CAT(rnf_cellp_, SFX)
#define OPS RNF_CAT(rnf_ops_, SFX)

static void FN(jordan_cellp)(CELLP *cp, int act)
{
    cp->act[0] = cp->act[1] = cp->act[2] = act;
    cp->clip = 0;
    cp->peephole = NULL;
}

static rnf_status FN(rnf_jordan_forward)(const rnf_jordan_desc *d, const rnf_jordan_fwd_args *a,
                                         void *workspace, size_t ws_bytes, void *tape,
                                         size_t tape_bytes)
{
    rnf_jordan_layout L;
    rnf_status st = rnf_jordan_make_layout(d, &L);
    if (st != RNF_OK) return st;
    if (ws_bytes < L.fwd_ws) return RNF_ERR_WORKSPACE;
    if (d->training && tape_bytes < L.tape) return RNF_ERR_TAPE;
    const int64_t T = d->steps, B = d->batch, I = d->input_size, H = d->hidden_size;
    const int64_t O = d->output_size, TB = T * B;
    if (!a || !workspace || (d->training && !tape) || !a->y_n) return RNF_ERR_NULL;
    if (TB > 0 && ((I > 0 && !a->x) || (O > 0 && !a->y))) return RNF_ERR_NULL;
    if (H > 0 && ((I > 0 && !a->w_ih) || (O > 0 && (!a->w_yh || !a->w_ho)))) return RNF_ERR_NULL;

    char *ws = rnf_align_ptr(workspace);
    char *tp = d->training ? rnf_align_ptr(tape) : NULL;
    int64_t *perm = (int64_t *)(ws + L.perm), *plen = (int64_t *)(ws + L.plen);
    st = rnf_sort_rows(T, B, a->seq_lengths, perm, plen, (int64_t *)(ws + L.sort_tmp));
    if (st != RNF_OK) return st;

    const REAL *x = a->x, *W = a->w_ih, *U = a->w_yh, *V = a->w_ho;
    const REAL *b_h = a->b_h, *b_o = a->b_o, *y0 = a->y0;
    REAL *y = a->y, *y_n = a->y_n;
    const OPS *o = &rnf_active_kernels()->SFX;
    const int nr = o->nr;
    REAL *w_p = (REAL *)(ws + L.w_p), *u_p = (REAL *)(ws + L.u_p), *v_p = (REAL *)(ws + L.v_p);
    REAL *bias_h = (REAL *)(ws + L.bias_h), *bias_o = (REAL *)(ws + L.bias_o);
    REAL *hw = (REAL *)(ws + L.hw), *hb = (REAL *)(ws + L.hb), *ob = (REAL *)(ws + L.ob);
    REAL *ybuf[2] = {(REAL *)(ws + L.yb[0]), (REAL *)(ws + L.yb[1])};
    /* training: the projection of all rows goes to the tape's pre-activations */
    REAL *xw = d->training ? (REAL *)(tp + L.t_a) : (REAL *)(ws + L.xw);
    REAL *t_h = d->training ? (REAL *)(tp + L.t_h) : NULL;
    REAL *t_o = d->training ? (REAL *)(tp + L.t_o) : NULL;
    REAL *t_yp = d->training ? (REAL *)(tp + L.t_yprev) : NULL;
    CELLP cph, cpo;
    FN(jordan_cellp)(&cph, d->act_h);
    FN(jordan_cellp)(&cpo, d->act_o);
    const int64_t Tc = rnf_chunk_steps(T, B);
    rnf_barrier *bar = (rnf_barrier *)(ws + L.bar);
    rnf_barrier_init(bar, d->nthreads);

#pragma omp parallel num_threads(d->nthreads)
    {
        const int tid = rnf_thread_id(), nth = rnf_thread_count();
        unsigned reached = 0; /* barriers this thread has reached */
        int64_t p0, j0, j1, q0, k0, k1; /* own hidden units [j0, j1), output units [k0, k1) */
        FN(unit_split)(H, nr, nth, tid, &p0, &j0, &j1);
        FN(unit_split)(O, nr, nth, tid, &q0, &k0, &k1);
        REAL *w_t = w_p + p0 * nr * I, *u_t = u_p + p0 * nr * O, *v_t = v_p + q0 * nr * H;
        o->pack(I, j1 - j0, W + j0 * I, 1, I, w_t);      /* W^T: K = I, own hidden units */
        o->pack(O, j1 - j0, U + j0 * O, 1, O, u_t);      /* U^T: K = O */
        o->pack(H, k1 - k0, V + k0 * H, 1, H, v_t);      /* V^T: K = H, own output units */
        for (int64_t j = j0; j < j1; ++j) bias_h[j] = b_h ? b_h[j] : 0;
        for (int64_t k = k0; k < k1; ++k) bias_o[k] = b_o ? b_o[k] : 0;
        if (d->training)
            FN(project)(o, 1, H, H, I, TB, x, I, w_t, bias_h, j0, j1, xw);
        for (int64_t p = 0; p < B; ++p)
            for (int64_t k = k0; k < k1; ++k) ybuf[0][p * O + k] = y0 ? y0[perm[p] * O + k] : 0;
        RNF_SYNC();
        int cur = 0;
        int64_t nact = B, s0 = 0, s1 = 0;
        for (int64_t s = 0; s < T; ++s) {
            while (nact > 0 && plen[nact - 1] <= s) --nact;
            const REAL *yc = ybuf[cur];
            REAL *yn = ybuf[cur ^ 1];
            if (nact > 0 && !d->training && s == s1) { /* inference: next chunk of steps */
                s0 = s;
                s1 = s + Tc < plen[0] ? s + Tc : plen[0];
                FN(project)(o, 1, H, H, I, (s1 - s0) * B, x + s0 * B * I, I, w_t, bias_h, j0,
                            j1, xw);
            }
            if (nact > 0) {
                /* hidden layer, own units: h = act_h(xW + y_{t-1} U^T) */
                o->gemm(nact, j1 - j0, O, yc, O, 1, u_t, O, hw + j0, H, 0, NULL);
                for (int64_t p = 0; p < nact; ++p) {
                    const int64_t tb = s * B + perm[p];
                    REAL *xr = xw + (d->training ? tb : (s - s0) * B + perm[p]) * H;
                    o->rnn_fwd(&cph, j0, j1, xr, hw + p * H, hb + p * H,
                               t_h ? t_h + tb * H : hb + p * H, d->training ? xr : NULL);
                }
                RNF_SYNC();
                /* output layer, own units: y = act_o(V h + b_o) */
                o->gemm(nact, k1 - k0, H, hb, H, 1, v_t, H, ob + k0, O, 0, NULL);
                for (int64_t p = 0; p < nact; ++p) {
                    const int64_t tb = s * B + perm[p];
                    if (t_yp)
                        for (int64_t k = k0; k < k1; ++k) t_yp[tb * O + k] = yc[p * O + k];
                    o->rnn_fwd(&cpo, k0, k1, bias_o, ob + p * O, yn + p * O, y + tb * O,
                               t_o ? t_o + tb * O : NULL);
                }
            }
            for (int64_t p = nact; p < B; ++p) { /* finished rows: y carries, padding is 0 */
                const int64_t tb = s * B + perm[p];
                for (int64_t k = k0; k < k1; ++k) {
                    yn[p * O + k] = yc[p * O + k];
                    y[tb * O + k] = 0;
                    if (t_o) t_o[tb * O + k] = t_yp[tb * O + k] = 0;
                }
                if (t_h)
                    for (int64_t j = j0; j < j1; ++j) t_h[tb * H + j] = xw[tb * H + j] = 0;
            }
            cur ^= 1;
            if (nact > 0) RNF_SYNC();
        }
        for (int64_t p = 0; p < B; ++p)
            for (int64_t k = k0; k < k1; ++k) y_n[perm[p] * O + k] = ybuf[cur][p * O + k];
    }
    return RNF_OK;
}

static rnf_status FN(rnf_jordan_backward)(const rnf_jordan_desc *d,
                                          const rnf_jordan_bwd_args *a, void *workspace,
                                          size_t ws_bytes, const void *tape, size_t tape_bytes)
{
    rnf_jordan_layout L;
    rnf_status st = rnf_jordan_make_layout(d, &L);
    if (st != RNF_OK) return st;
    if (!d->training) return RNF_ERR_DESC;
    if (ws_bytes < L.bwd_ws) return RNF_ERR_WORKSPACE;
    if (tape_bytes < L.tape) return RNF_ERR_TAPE;
    const int64_t T = d->steps, B = d->batch, I = d->input_size, H = d->hidden_size;
    const int64_t O = d->output_size, TB = T * B;
    if (!a || !workspace || !tape || !a->dy0 || !a->db_h || !a->db_o) return RNF_ERR_NULL;
    if (TB > 0 && I > 0 && (!a->x || !a->dx)) return RNF_ERR_NULL;
    if (H > 0 && ((I > 0 && (!a->w_ih || !a->dw_ih)) ||
                  (O > 0 && (!a->w_yh || !a->w_ho || !a->dw_yh || !a->dw_ho))))
        return RNF_ERR_NULL;

    char *ws = rnf_align_ptr(workspace);
    const char *tp = rnf_align_ptr((void *)tape);
    int64_t *perm = (int64_t *)(ws + L.bperm), *plen = (int64_t *)(ws + L.bplen);
    st = rnf_sort_rows(T, B, a->seq_lengths, perm, plen, (int64_t *)(ws + L.bsort_tmp));
    if (st != RNF_OK) return st;

    const REAL *x = a->x, *W = a->w_ih, *U = a->w_yh, *V = a->w_ho;
    const REAL *dy = a->dy, *dy_n = a->dy_n;
    REAL *dx = a->dx, *dW = a->dw_ih, *dU = a->dw_yh, *dV = a->dw_ho;
    REAL *db_h = a->db_h, *db_o = a->db_o, *dy0 = a->dy0;
    const OPS *o = &rnf_active_kernels()->SFX;
    const int nr = o->nr;
    const REAL *t_a = (const REAL *)(tp + L.t_a), *t_h = (const REAL *)(tp + L.t_h);
    const REAL *t_o = (const REAL *)(tp + L.t_o), *t_yp = (const REAL *)(tp + L.t_yprev);
    REAL *wb_p = (REAL *)(ws + L.wb_p), *ub_p = (REAL *)(ws + L.ub_p), *vb_p = (REAL *)(ws + L.vb_p);
    REAL *dA = (REAL *)(ws + L.dA), *dO = (REAL *)(ws + L.dO);
    REAL *das = (REAL *)(ws + L.das), *dos = (REAL *)(ws + L.dos);
    REAL *dhb = (REAL *)(ws + L.dhb), *dyb = (REAL *)(ws + L.dyb);
    CELLP cph, cpo;
    FN(jordan_cellp)(&cph, d->act_h);
    FN(jordan_cellp)(&cpo, d->act_o);
    rnf_barrier *bar = (rnf_barrier *)(ws + L.bbar);
    rnf_barrier_init(bar, d->nthreads);

#pragma omp parallel num_threads(d->nthreads)
    {
        const int tid = rnf_thread_id(), nth = rnf_thread_count();
        unsigned reached = 0; /* barriers this thread has reached */
        REAL *scr = (REAL *)(ws + L.thread + (size_t)tid * L.thread_stride);
        REAL *bbuf = scr + L.scratch;
        int64_t p0, j0, j1, q0, k0, k1, lo, hi;
        FN(unit_split)(H, nr, nth, tid, &p0, &j0, &j1);
        FN(unit_split)(O, nr, nth, tid, &q0, &k0, &k1);
        REAL *v_t = vb_p + p0 * nr * O, *u_t = ub_p + q0 * nr * H;
        o->pack(O, j1 - j0, V + j0, H, 1, v_t); /* dh = do . V:  K = O, own hidden units */
        o->pack(H, k1 - k0, U + k0, O, 1, u_t); /* dy' = da . U: K = H, own output units */
        {
            int64_t r0, r1;
            rnf_split((I + nr - 1) / nr, nth, tid, &r0, &r1);
            const int64_t i0 = r0 * nr < I ? r0 * nr : I, i1 = r1 * nr < I ? r1 * nr : I;
            o->pack(H, i1 - i0, W + i0, I, 1, wb_p + r0 * nr * H); /* dx = dA . W */
        }
        for (int64_t p = 0; p < B; ++p)
            for (int64_t k = k0; k < k1; ++k) dyb[p * O + k] = dy_n ? dy_n[perm[p] * O + k] : 0;
        int64_t nact = 0;
        for (int64_t s = T - 1; s >= 0; --s) {
            while (nact < B && plen[nact] > s) ++nact;
            /* output layer, own units: do = (dy_t + dy carried) * act_o'(o_t) */
            for (int64_t p = 0; p < nact; ++p) {
                const int64_t tb = s * B + perm[p];
                for (int64_t k = k0; k < k1; ++k)
                    dO[tb * O + k] = dyb[p * O + k] + (dy ? dy[tb * O + k] : 0);
                o->rnn_bwd(&cpo, k0, k1, t_o + tb * O, dO + tb * O, dos + p * O, scr);
                for (int64_t k = k0; k < k1; ++k) dO[tb * O + k] = dos[p * O + k];
            }
            for (int64_t p = nact; p < B; ++p)
                for (int64_t k = k0; k < k1; ++k) dO[(s * B + perm[p]) * O + k] = 0;
            if (nact > 0) {
                RNF_SYNC();
                /* hidden layer, own units: da = (do . V) * act_h'(a_t) */
                o->gemm(nact, j1 - j0, O, dos, O, 1, v_t, O, dhb + j0, H, 0, NULL);
                for (int64_t p = 0; p < nact; ++p) {
                    const int64_t tb = s * B + perm[p];
                    o->rnn_bwd(&cph, j0, j1, t_a + tb * H, dhb + p * H, dA + tb * H, scr);
                    for (int64_t j = j0; j < j1; ++j) das[p * H + j] = dA[tb * H + j];
                }
            }
            for (int64_t p = nact; p < B; ++p)
                for (int64_t j = j0; j < j1; ++j) dA[(s * B + perm[p]) * H + j] = 0;
            if (nact > 0) {
                RNF_SYNC();
                /* own output units of the gradient reaching y_{t-1}: da . U */
                o->gemm(nact, k1 - k0, H, das, H, 1, u_t, H, dyb + k0, O, 0, NULL);
            }
        }
        for (int64_t p = 0; p < B; ++p)
            for (int64_t k = k0; k < k1; ++k) dy0[perm[p] * O + k] = dyb[p * O + k];
        RNF_SYNC();
        /* the big products over all T*B rows */
        rnf_split(TB, nth, tid, &lo, &hi);
        o->gemm(hi - lo, I, H, dA + lo * H, H, 1, wb_p, H, dx + lo * I, I, 0, NULL);
        rnf_split(H, nth, tid, &lo, &hi);
        FN(gemm_rowmajor_b)(o, hi - lo, I, TB, dA + lo, 1, H, x, I, dW + lo * I, I, bbuf);
        FN(gemm_rowmajor_b)(o, hi - lo, O, TB, dA + lo, 1, H, t_yp, O, dU + lo * O, O, bbuf);
        FN(colsum)(TB, H, dA, db_h, lo, hi);
        rnf_split(O, nth, tid, &lo, &hi);
        FN(gemm_rowmajor_b)(o, hi - lo, H, TB, dO + lo, 1, O, t_h, H, dV + lo * H, H, bbuf);
        FN(colsum)(TB, O, dO, db_o, lo, hi);
    }
    return RNF_OK;
}

#undef OPS
#undef RNF_SYNC
#undef CELLP
#undef FN
