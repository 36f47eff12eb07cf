/*
 * layout.h -- where each buffer lives inside the caller's workspace and tape.
 * Offsets are from a 64-byte aligned base; the sizes rnf_query reports add the
 * slack needed to align any base pointer. Every size is overflow-checked.
 */
#ifndef RNF_LAYOUT_H
#define RNF_LAYOUT_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "rnnfast.h"

enum { RNF_ALIGN = 64 };
/* The per-step barrier (sequence.c): one 128-byte slot per thread. */
enum { RNF_BARRIER_SLOT = 128 };
#define RNF_BARRIER_BYTES(nthreads) ((size_t)(nthreads) * RNF_BARRIER_SLOT)

/* Blocks in which the weight-gradient products pack their row-major operand:
 * each block of the other operand is then copied once per RNF_NB columns. */
#define RNF_KB 256
#define RNF_NB 1024
/* Row stride, in elements, of a forward buffer of rows n values wide that a
 * step's products read or write: n, padded where rows n apart would share
 * L1 sets (rnf_rows_share_sets).
 * - The states (h, c, r * h; n = H) are the recurrent product's A: padded,
 *   the product reads them in place rather than copying them once per gate.
 * - The gate buffers (hw and xw; n = G * H) are the products'
 *   C, of which a micro-kernel loads and stores up to 12 rows at once: rows
 *   a multiple of 2 KB apart fall into the same few L1 and L2 sets (LSTM
 *   B256 H1024 T50, 2 threads, with the C prefetch of gemm_tmpl.h: forward
 *   1.04x, training 1.02x; B64 H512 1.01x). */
static inline int64_t rnf_row_stride(int64_t n, size_t es)
{
    return n > 0 && rnf_rows_share_sets(n * (int64_t)es) ? n + RNF_ROW_PAD : n;
}
/* Rows (steps x batch) of one input-projection chunk of a forward. */
#define RNF_CHUNK_ROWS 256

typedef struct {
    /* forward workspace */
    size_t bar, wih_p, whh_p, bias_x, bias_hn, xw, xg, hw, hwt, h[2], c[2], rh, perm, plen, sort_tmp;
    size_t fwd_ws;
    /* tape */
    size_t t_gates, t_hprev, t_cprev, t_hn;
    size_t tape;
    /* backward workspace (perm, plen, count as in forward, own offsets) */
    size_t bbar, whb_p, wib_p, dgi, dgh, rh_all, dgs[2], dh[2], dc[2], drh, bperm, bplen, bsort_tmp;
    size_t thread, thread_stride; /* per thread: 8 H scratch, then the packing buffer */
    size_t bwd_ws;
    /* packed weights (rnf_pack): a stamp, forward panels, backward panels */
    size_t pk_wih, pk_whh, pk_whb, pk_wib;
    size_t pack;
} rnf_layout;

typedef struct {
    /* forward workspace */
    size_t bar, w_p, u_p, v_p, bias_h, bias_o, xw, hw, hb, ob, yb[2], perm, plen, sort_tmp;
    size_t fwd_ws;
    /* tape: hidden pre-activations and outputs, output pre-activations, y_{t-1} */
    size_t t_a, t_h, t_o, t_yprev;
    size_t tape;
    /* backward workspace */
    size_t bbar, wb_p, ub_p, vb_p, dA, dO, das, dos, dhb, dyb, bperm, bplen, bsort_tmp;
    size_t thread, thread_stride, scratch; /* scratch: elements before the GEMM buffer */
    size_t bwd_ws;
} rnf_jordan_layout;

int rnf_gates(int cell);
/* Steps whose input projection a forward computes at once (chunk of T). */
int64_t rnf_chunk_steps(int64_t T, int64_t B);
rnf_status rnf_check_desc(const rnf_desc *d);
rnf_status rnf_make_layout(const rnf_desc *d, rnf_layout *L);
rnf_status rnf_jordan_make_layout(const rnf_jordan_desc *d, rnf_jordan_layout *L);

/* Of count pairs of byte ranges laid end to end, the part [lo, hi): bit i
 * set where pair i's bytes in it differ (rnf_differing_bytes, and a
 * forward's verify, split the pairs between threads this way). */
uint64_t rnf_differing_part(int count, const void *const *a, const void *const *b,
                            const size_t *n, size_t lo, size_t hi);

/* Threads for a pass over bytes of memory: one a RNF_SAME_BYTES_SPLIT bytes,
 * 1 to nthreads, and no more than rnf_cpus() (dispatch.c). */
int rnf_memory_team(size_t bytes, int nthreads);

/* Thread tid's share [lo, hi) of n items: contiguous and balanced. */
static inline void rnf_split(int64_t n, int nth, int tid, int64_t *lo, int64_t *hi)
{
    const int64_t q = n / nth, r = n % nth;
    *lo = tid * q + (tid < r ? tid : r);
    *hi = *lo + q + (tid < r ? 1 : 0);
}

/* Round p up to RNF_ALIGN. */
static inline char *rnf_align_ptr(void *p)
{
    uintptr_t u = (uintptr_t)p;
    return (char *)((u + RNF_ALIGN - 1) & ~(uintptr_t)(RNF_ALIGN - 1));
}

#endif
