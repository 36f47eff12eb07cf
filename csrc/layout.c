/* layout.c -- descriptor checks and the overflow-checked buffer layout. */
#include "layout.h"

#include <math.h>

#include "kernels/kernels.h"

int rnf_gates(int cell) { return cell == RNF_CELL_LSTM ? 4 : (cell == RNF_CELL_GRU ? 3 : 1); }

int64_t rnf_chunk_steps(int64_t T, int64_t B)
{
    const int64_t want = B > 0 ? (RNF_CHUNK_ROWS + B - 1) / B : 1;
    return T < want ? T : want;
}

rnf_status rnf_check_desc(const rnf_desc *d)
{
    if (!d) return RNF_ERR_NULL;
    if (d->cell < RNF_CELL_LSTM || d->cell > RNF_CELL_RNN) return RNF_ERR_DESC;
    if (d->dtype != RNF_F32 && d->dtype != RNF_F64) return RNF_ERR_DESC;
    if (d->steps < 0 || d->batch < 0 || d->input_size < 0 || d->hidden_size < 0)
        return RNF_ERR_DESC;
    if (d->nthreads < 1 || d->nthreads > RNF_MAX_THREADS) return RNF_ERR_DESC;
    if (!(d->clip >= 0) || isinf(d->clip)) return RNF_ERR_DESC; /* NaN fails too */
    if (d->peephole && d->cell != RNF_CELL_LSTM) return RNF_ERR_DESC;
    for (int k = 0; k < 3; ++k)
        if (d->act[k] < RNF_ACT_SIGMOID || d->act[k] > RNF_ACT_IDENTITY) return RNF_ERR_DESC;
    return RNF_OK;
}

typedef struct {
    size_t off;
    int overflow;
} rnf_cursor;

static size_t mul3(size_t a, size_t b, size_t c, int *overflow)
{
    size_t ab, abc;
    if (__builtin_mul_overflow(a, b, &ab) || __builtin_mul_overflow(ab, c, &abc)) {
        *overflow = 1;
        return 0;
    }
    return abc;
}

/* Reserve n elements of size es at the next aligned offset; returns it. */
static size_t take(rnf_cursor *cur, size_t n, size_t es)
{
    const size_t at = cur->off;
    size_t bytes, end;
    if (__builtin_mul_overflow(n, es, &bytes) || __builtin_add_overflow(at, bytes, &end) ||
        __builtin_add_overflow(end, (size_t)RNF_ALIGN - 1, &end)) {
        cur->overflow = 1;
        return 0;
    }
    cur->off = end & ~(size_t)(RNF_ALIGN - 1);
    return at;
}

static size_t finish(rnf_cursor *cur)
{
    size_t total;
    if (__builtin_add_overflow(cur->off, (size_t)RNF_ALIGN, &total)) cur->overflow = 1;
    return total; /* slack to align the caller's base pointer */
}

/* nthreads regions of `scratch` elements plus a block for the weight-gradient
 * products' packed operand: RNF_KB rows (fewer if K is less) of up to RNF_NB
 * columns (fewer if the widest N is less), in panels of up to nrmax. Each
 * region is aligned; returns the offset of the first, its stride in *stride. */
static size_t threads(rnf_cursor *cur, size_t scratch, size_t es, int nthreads, size_t K,
                      size_t N, size_t nrmax, size_t *stride)
{
    rnf_cursor one = {0, 0};
    const size_t kb = K < RNF_KB ? K : RNF_KB, nb = N < RNF_NB ? N : RNF_NB;
    take(&one, scratch, es);
    take(&one, mul3(kb, (nb + nrmax - 1) / nrmax, nrmax, &one.overflow), es);
    *stride = one.off;
    cur->overflow |= one.overflow;
    return take(cur, mul3((size_t)nthreads, one.off, 1, &cur->overflow), 1);
}

/* The B-entry index arrays that order the batch rows (rnf_sort_rows). */
static void take_rows(rnf_cursor *cur, size_t B, size_t *perm, size_t *plen, size_t *tmp)
{
    *perm = take(cur, B, sizeof(int64_t));
    *plen = take(cur, B, sizeof(int64_t));
    *tmp = take(cur, B, sizeof(int64_t));
}

/* Hand a layout's three sizes to whichever of the caller's outputs are set. */
static rnf_status report(rnf_status st, size_t fwd, size_t bwd, size_t tape, size_t *fwd_out,
                         size_t *bwd_out, size_t *tape_out)
{
    if (st != RNF_OK) return st;
    if (fwd_out) *fwd_out = fwd;
    if (bwd_out) *bwd_out = bwd;
    if (tape_out) *tape_out = tape;
    return RNF_OK;
}

/* Elements of a packed copy of K x N weights, N padded to the widest panel. */
static size_t packed(size_t K, size_t N, size_t nrmax, int *overflow)
{
    return mul3((N + nrmax - 1) / nrmax, nrmax, K, overflow);
}

rnf_status rnf_make_layout(const rnf_desc *d, rnf_layout *L)
{
    rnf_status st = rnf_check_desc(d);
    if (st != RNF_OK) return st;
    const size_t es = d->dtype == RNF_F32 ? sizeof(float) : sizeof(double);
    const int lstm = d->cell == RNF_CELL_LSTM, gru = d->cell == RNF_CELL_GRU;
    const int lbr = gru && d->linear_before_reset, orig_gru = gru && !d->linear_before_reset;
    int ovf = 0;
    const size_t T = (size_t)d->steps, B = (size_t)d->batch;
    const size_t I = (size_t)d->input_size, H = (size_t)d->hidden_size;
    const size_t GH = mul3((size_t)rnf_gates(d->cell), H, 1, &ovf);
    const size_t TBGH = mul3(T, B, GH, &ovf), TBH = mul3(T, B, H, &ovf);
    const size_t BGH = mul3(B, GH, 1, &ovf), BH = mul3(B, H, 1, &ovf);
    /* packed panels: sizes rounded up to the widest panel any kernel path uses */
    const size_t nrmax = d->dtype == RNF_F32 ? RNF_NR_MAX_F32 : RNF_NR_MAX_F64;
    const size_t Hp = mul3((H + nrmax - 1) / nrmax, nrmax, 1, &ovf);
    const size_t Ip = mul3((I + nrmax - 1) / nrmax, nrmax, 1, &ovf);
    const size_t G = (size_t)rnf_gates(d->cell);

    rnf_cursor f = {0, ovf};
    L->bar = take(&f, RNF_BARRIER_BYTES(d->nthreads), 1);
    const int own = !d->packed; /* weights packed in the call, into the workspace */
    L->wih_p = take(&f, own ? mul3(G, Hp, I, &f.overflow) : 0, es);
    L->whh_p = take(&f, own ? mul3(G, Hp, H, &f.overflow) : 0, es);
    L->bias_x = take(&f, GH, es);
    L->bias_hn = take(&f, lbr ? H : 0, es);
    /* the forward streams the input projection through chunks of Tc steps */
    const size_t Tc = (size_t)rnf_chunk_steps(d->steps, d->batch);
    const size_t GHs = (size_t)rnf_row_stride((int64_t)GH, es);
    L->xw = take(&f, mul3(Tc, B, GHs, &f.overflow), es);
    L->xg = take(&f, mul3(Tc, B, I, &f.overflow), es);
    L->hw = take(&f, mul3(B, GHs, 1, &f.overflow), es);
    L->hwt = take(&f, mul3(B, G, Hp, &f.overflow), es); /* per-thread U h, panels padded */
    const size_t BHs = mul3(B, (size_t)rnf_row_stride(d->hidden_size, es), 1, &f.overflow);
    for (int k = 0; k < 2; ++k) {
        L->h[k] = take(&f, BHs, es);
        L->c[k] = take(&f, lstm ? BHs : 0, es);
    }
    L->rh = take(&f, orig_gru ? BHs : 0, es);
    take_rows(&f, B, &L->perm, &L->plen, &L->sort_tmp);
    L->fwd_ws = finish(&f);

    rnf_cursor t = {0, ovf};
    const int tr = d->training;
    L->t_gates = take(&t, tr ? TBGH : 0, es);
    L->t_hprev = take(&t, tr ? TBH : 0, es);
    L->t_cprev = take(&t, tr && lstm ? TBH : 0, es);
    L->t_hn = take(&t, tr && lbr ? TBH : 0, es);
    L->tape = tr ? finish(&t) : 0;

    rnf_cursor b = {0, ovf};
    L->bbar = take(&b, RNF_BARRIER_BYTES(d->nthreads), 1);
    L->whb_p = take(&b, own ? mul3(Hp, GH, 1, &b.overflow) : 0, es);
    L->wib_p = take(&b, own ? mul3(Ip, GH, 1, &b.overflow) : 0, es);
    L->dgi = take(&b, TBGH, es);
    L->dgh = take(&b, lbr ? TBH : 0, es);
    L->rh_all = take(&b, orig_gru ? TBH : 0, es);
    for (int k = 0; k < 2; ++k) {
        L->dgs[k] = take(&b, BGH, es);
        L->dh[k] = take(&b, BH, es);
        L->dc[k] = take(&b, lstm ? BH : 0, es);
    }
    L->drh = take(&b, orig_gru ? BH : 0, es);
    take_rows(&b, B, &L->bperm, &L->bplen, &L->bsort_tmp);
    L->thread = threads(&b, mul3(8, H, 1, &b.overflow), es, d->nthreads,
                        mul3(T, B, 1, &b.overflow), I > H ? I : H, nrmax, &L->thread_stride);
    L->bwd_ws = finish(&b);

    rnf_cursor k = {0, ovf};
    take(&k, RNF_ALIGN, 1); /* the stamp */
    L->pk_wih = take(&k, mul3(G, Hp, I, &k.overflow), es);
    L->pk_whh = take(&k, mul3(G, Hp, H, &k.overflow), es);
    L->pk_whb = take(&k, tr ? mul3(Hp, GH, 1, &k.overflow) : 0, es);
    L->pk_wib = take(&k, tr ? mul3(Ip, GH, 1, &k.overflow) : 0, es);
    L->pack = finish(&k);

    if (f.overflow || t.overflow || b.overflow || k.overflow) return RNF_ERR_OVERFLOW;
    return RNF_OK;
}

rnf_status rnf_pack_query(const rnf_desc *d, size_t *bytes)
{
    rnf_layout L;
    const rnf_status st = rnf_make_layout(d, &L);
    if (st == RNF_OK && bytes) *bytes = L.pack;
    return st;
}

rnf_status rnf_query(const rnf_desc *d, size_t *fwd_workspace, size_t *bwd_workspace,
                     size_t *tape)
{
    rnf_layout L = {0}; /* read by report() even when the layout fails */
    rnf_status st = rnf_check_desc(d);
    if (st == RNF_OK) { /* sized for the threads the call will run on */
        rnf_desc dc = *d;
        dc.nthreads = rnf_call_threads(d);
        st = rnf_make_layout(&dc, &L);
    }
    return report(st, L.fwd_ws, L.bwd_ws, L.tape, fwd_workspace, bwd_workspace, tape);
}

rnf_status rnf_jordan_make_layout(const rnf_jordan_desc *d, rnf_jordan_layout *L)
{
    if (!d) return RNF_ERR_NULL;
    if (d->dtype != RNF_F32 && d->dtype != RNF_F64) return RNF_ERR_DESC;
    if (d->steps < 0 || d->batch < 0 || d->input_size < 0 || d->hidden_size < 0 ||
        d->output_size < 0 || d->nthreads < 1 || d->nthreads > RNF_MAX_THREADS)
        return RNF_ERR_DESC;
    if (d->act_h < RNF_ACT_SIGMOID || d->act_h > RNF_ACT_IDENTITY || d->act_o < RNF_ACT_SIGMOID ||
        d->act_o > RNF_ACT_IDENTITY)
        return RNF_ERR_DESC;
    const size_t es = d->dtype == RNF_F32 ? sizeof(float) : sizeof(double);
    const size_t nrmax = d->dtype == RNF_F32 ? RNF_NR_MAX_F32 : RNF_NR_MAX_F64;
    int ovf = 0;
    const size_t T = (size_t)d->steps, B = (size_t)d->batch, I = (size_t)d->input_size;
    const size_t H = (size_t)d->hidden_size, O = (size_t)d->output_size;
    const size_t TBH = mul3(T, B, H, &ovf), TBO = mul3(T, B, O, &ovf);
    const size_t BH = mul3(B, H, 1, &ovf), BO = mul3(B, O, 1, &ovf);
    const size_t Tc = (size_t)rnf_chunk_steps(d->steps, d->batch);

    rnf_cursor f = {0, ovf};
    L->bar = take(&f, RNF_BARRIER_BYTES(d->nthreads), 1);
    L->w_p = take(&f, packed(I, H, nrmax, &f.overflow), es);
    L->u_p = take(&f, packed(O, H, nrmax, &f.overflow), es);
    L->v_p = take(&f, packed(H, O, nrmax, &f.overflow), es);
    L->bias_h = take(&f, H, es);
    L->bias_o = take(&f, O, es);
    L->xw = take(&f, d->training ? 0 : mul3(Tc, B, H, &f.overflow), es);
    L->hw = take(&f, BH, es);
    L->hb = take(&f, BH, es);
    L->ob = take(&f, BO, es);
    for (int k = 0; k < 2; ++k) L->yb[k] = take(&f, BO, es);
    take_rows(&f, B, &L->perm, &L->plen, &L->sort_tmp);
    L->fwd_ws = finish(&f);

    rnf_cursor t = {0, ovf};
    const int tr = d->training;
    L->t_a = take(&t, tr ? TBH : 0, es);
    L->t_h = take(&t, tr ? TBH : 0, es);
    L->t_o = take(&t, tr ? TBO : 0, es);
    L->t_yprev = take(&t, tr ? TBO : 0, es);
    L->tape = tr ? finish(&t) : 0;

    rnf_cursor b = {0, ovf};
    L->bbar = take(&b, RNF_BARRIER_BYTES(d->nthreads), 1);
    L->wb_p = take(&b, packed(H, I, nrmax, &b.overflow), es);
    L->ub_p = take(&b, packed(H, O, nrmax, &b.overflow), es);
    L->vb_p = take(&b, packed(O, H, nrmax, &b.overflow), es);
    L->dA = take(&b, TBH, es);
    L->dO = take(&b, TBO, es);
    L->das = take(&b, BH, es);
    L->dos = take(&b, BO, es);
    L->dhb = take(&b, BH, es);
    L->dyb = take(&b, BO, es);
    take_rows(&b, B, &L->bperm, &L->bplen, &L->bsort_tmp);
    {
        rnf_cursor sc = {0, 0}; /* scratch rounded to the alignment, in elements */
        take(&sc, H > O ? H : O, es);
        L->scratch = sc.off / es;
    }
    L->thread = threads(&b, L->scratch, es, d->nthreads, mul3(T, B, 1, &b.overflow),
                        I > H ? (I > O ? I : O) : (H > O ? H : O), nrmax, &L->thread_stride);
    L->bwd_ws = finish(&b);

    if (f.overflow || t.overflow || b.overflow) return RNF_ERR_OVERFLOW;
    return RNF_OK;
}

rnf_status rnf_jordan_query(const rnf_jordan_desc *d, size_t *fwd_workspace,
                            size_t *bwd_workspace, size_t *tape)
{
    rnf_jordan_layout L = {0};
    const rnf_status st = rnf_jordan_make_layout(d, &L);
    return report(st, L.fwd_ws, L.bwd_ws, L.tape, fwd_workspace, bwd_workspace, tape);
}
