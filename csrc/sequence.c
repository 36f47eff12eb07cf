/*
 * sequence.c -- entry points of the sequence drivers. The driver itself is
 * sequence_tmpl.h, instantiated here for float and double.
 */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "layout.h"
#include "rnnfast.h"

#ifdef _OPENMP
#include <omp.h>
static inline int rnf_thread_id(void) { return omp_get_thread_num(); }
static inline int rnf_thread_count(void) { return omp_get_num_threads(); }
#else
static inline int rnf_thread_id(void) { return 0; }
static inline int rnf_thread_count(void) { return 1; }
#endif

/* Thread tid's share [lo, hi) of n items: contiguous and balanced. */
static inline void rnf_split(int64_t n, int nth, int tid, int64_t *lo, int64_t *hi)
{
    const int64_t q = n / nth, r = n % nth;
    *lo = tid * q + (tid < r ? tid : r);
    *hi = *lo + q + (tid < r ? 1 : 0);
}

/*
 * Order the batch rows longest first (stable counting sort, O(B + T)):
 * perm[p] is the caller's row at physical position p, plen[p] its length.
 * count must hold T + 1 entries.
 */
static rnf_status rnf_sort_rows(int64_t T, int64_t B, const int64_t *lengths, int64_t *perm,
                                int64_t *plen, int64_t *count)
{
    if (!lengths) {
        for (int64_t b = 0; b < B; ++b) {
            perm[b] = b;
            plen[b] = T;
        }
        return RNF_OK;
    }
    for (int64_t b = 0; b < B; ++b)
        if (lengths[b] < 0 || lengths[b] > T) return RNF_ERR_LENGTHS;
    memset(count, 0, (size_t)(T + 1) * sizeof(int64_t));
    for (int64_t b = 0; b < B; ++b) ++count[lengths[b]];
    int64_t start = 0; /* longest first: running start positions from L = T down */
    for (int64_t len = T; len >= 0; --len) {
        const int64_t c = count[len];
        count[len] = start;
        start += c;
    }
    for (int64_t b = 0; b < B; ++b) {
        const int64_t p = count[lengths[b]]++;
        perm[p] = b;
        plen[p] = lengths[b];
    }
    return RNF_OK;
}

#define REAL float
#define SFX f32
#include "sequence_tmpl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX f64
#include "sequence_tmpl.h"
#undef REAL
#undef SFX

rnf_status rnf_forward(const rnf_desc *d, const rnf_fwd_args *a, void *workspace,
                       size_t workspace_bytes, void *tape, size_t tape_bytes)
{
    const rnf_status st = rnf_check_desc(d);
    if (st != RNF_OK) return st;
    return d->dtype == RNF_F32 ? rnf_forward_f32(d, a, workspace, workspace_bytes, tape, tape_bytes)
                               : rnf_forward_f64(d, a, workspace, workspace_bytes, tape, tape_bytes);
}

rnf_status rnf_backward(const rnf_desc *d, const rnf_bwd_args *a, void *workspace,
                        size_t workspace_bytes, const void *tape, size_t tape_bytes)
{
    const rnf_status st = rnf_check_desc(d);
    if (st != RNF_OK) return st;
    return d->dtype == RNF_F32
               ? rnf_backward_f32(d, a, workspace, workspace_bytes, tape, tape_bytes)
               : rnf_backward_f64(d, a, workspace, workspace_bytes, tape, tape_bytes);
}
