/*
 * sequence.c -- entry points of the sequence drivers. The drivers themselves
 * are sequence_tmpl.h (LSTM, GRU, RNN) and jordan_tmpl.h, instantiated here
 * for float and double.
 */
#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
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

/*
 * The per-step barrier. Each thread counts the barriers it has reached and
 * publishes the count in its own slot, a cache line of its own (128 bytes
 * apart, so no two slots share a pair of lines the prefetcher fetches
 * together), then waits until every other slot has caught up. No thread can
 * be a whole barrier ahead of another, so "caught up" is "not behind".
 * Arriving is one store to a line only its owner writes, and the last
 * arrival reaches each waiter in one line transfer. libgomp's barrier cost
 * about 250 ns on two cores, and a shared sense-reversing counter about
 * 330 ns on this host (a locked add on the contended counter's line, then a
 * second line for the release), at batch 1 where a whole step takes 2 us.
 * The slots live in the call's workspace (RNF_BARRIER_BYTES), so concurrent
 * calls never share one. After a bounded spin a waiter yields, so
 * oversubscribed cores still make progress.
 */
typedef char rnf_barrier;

static inline atomic_uint *rnf_barrier_slot(rnf_barrier *b, int k)
{
    return (atomic_uint *)(b + (size_t)k * RNF_BARRIER_SLOT);
}

static void rnf_barrier_init(rnf_barrier *b, int nslots)
{
    for (int k = 0; k < nslots; ++k) atomic_init(rnf_barrier_slot(b, k), 0u);
}

/* Arrive: publish that this thread has reached its next barrier. Work that
 * neither reads what others write before the barrier nor writes what they
 * read after it may run between this and rnf_barrier_await. */
static inline unsigned rnf_barrier_arrive(rnf_barrier *b, int nth, int tid, unsigned *reached)
{
    if (nth == 1) return 0;
    const unsigned n = ++*reached;
    atomic_store_explicit(rnf_barrier_slot(b, tid), n, memory_order_release);
    return n;
}

/* Whether thread k has not yet arrived at barrier n (wrap-safe). */
static inline int rnf_barrier_behind(rnf_barrier *b, int k, unsigned n)
{
    return (int)(atomic_load_explicit(rnf_barrier_slot(b, k), memory_order_acquire) - n) < 0;
}

/* Wait until every other thread has arrived at barrier n. */
static inline void rnf_barrier_await(rnf_barrier *b, int nth, int tid, unsigned n)
{
    if (nth == 1) return;
    for (int k = 0; k < nth; ++k) {
        if (k == tid) continue;
        for (unsigned spins = 0; rnf_barrier_behind(b, k, n);) {
            if (++spins < 8192) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
            } else {
                sched_yield();
            }
        }
    }
}

/* Whether every other thread has arrived at barrier n (no waiting). */
static inline int rnf_barrier_passed(rnf_barrier *b, int nth, int tid, unsigned n)
{
    for (int k = 0; k < nth; ++k)
        if (k != tid && rnf_barrier_behind(b, k, n)) return 0;
    return 1;
}

static inline void rnf_barrier_wait(rnf_barrier *b, int nth, int tid, unsigned *reached)
{
    rnf_barrier_await(b, nth, tid, rnf_barrier_arrive(b, nth, tid, reached));
}

/* The most bytes of state rows a step prefetches before its product
 * (sequence_tmpl.h, prefetch_rows): a third of a 48 KB L1. */
#ifndef RNF_PREFETCH_MAX
#define RNF_PREFETCH_MAX (16 * 1024)
#endif

/* A thread's share of a forward's verify (rnf_fwd_args): the bytes [at, hi)
 * of the pairs, laid end to end, it has still to compare, and the team's
 * result. */
typedef struct {
    const rnf_fwd_args *a;
    size_t at, hi;
    _Atomic uint64_t *differ;
} rnf_verify;

/* Bytes compared at a time while a thread waits at a barrier: about 50 ns
 * from L2 (4 KB of each side), well under a batch-1 step's wait. */
#define RNF_VERIFY_UNIT (4 * 1024)

static void rnf_verify_start(rnf_verify *v, const rnf_fwd_args *a, _Atomic uint64_t *differ,
                             int nth, int tid)
{
    size_t total = 0;
    for (int i = 0; i < a->verify_count; ++i) total += a->verify_bytes[i];
    int64_t lo, hi;
    rnf_split((int64_t)total, nth, tid, &lo, &hi);
    v->a = a, v->at = (size_t)lo, v->hi = (size_t)hi, v->differ = differ;
}

/* Compare up to max more bytes of the share; whether some are left. Once a
 * pair is found to differ (by any thread) the rest is left unread: the
 * call's results are to be thrown away. */
static int rnf_verify_some(rnf_verify *v, size_t max)
{
    if (v->at < v->hi && atomic_load_explicit(v->differ, memory_order_relaxed)) v->at = v->hi;
    if (v->at >= v->hi) return 0;
    const size_t e = v->hi - v->at < max ? v->hi : v->at + max;
    const rnf_fwd_args *a = v->a;
    const uint64_t d =
        rnf_differing_part(a->verify_count, a->verify_a, a->verify_b, a->verify_bytes, v->at, e);
    if (d) atomic_fetch_or_explicit(v->differ, d, memory_order_relaxed);
    v->at = e;
    return v->at < v->hi;
}

/* Lazy input projection (rnf_lazy_rows): the largest W_ih part of a thread
 * that is projected lazily, and the bytes of it per row of a unit. */
#define RNF_LAZY_SLICE_MAX (512 * 1024)
#define RNF_LAZY_SLICE_PER_ROW (32 * 1024)
/* and the fewest rows of a unit. A unit is one row block of the product, and
 * 6 rows give its kernel 12 multiply-add chains where 4 gave 8, too few to
 * keep both FMA ports busy (2 threads, T 100, medians of 5 interleaved runs,
 * 6 rows against 4: float B1 H128 GRU 3.4 % faster, LSTM 2 %, GRU B2 4.6 %;
 * double LSTM B1 H128 2.6 %, GRU 3 %; float RNN B1 H128 and H256, LSTM B1
 * H64: within the noise). */
#define RNF_LAZY_ROWS_MIN 6
/* The fewest rows a job beside the product needs before one thread gains
 * from the lazy projection (rnf_lazy_rows) */
#define RNF_SIDE_MR_ALONE 4
/* The most projection jobs a step's one-row product takes beside it */
#define RNF_SIDE_JOBS 16

/* Ask for the line at p. An asm statement on x86: gcc 12 at -O2 deleted
 * prefetch_rows' loops when written with __builtin_prefetch (it treats a
 * bounded loop of prefetches alone as dead code). */
static inline void rnf_prefetch_line(const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("prefetcht0 %0" : : "m"(*(const char *)p));
#else
    __builtin_prefetch(p, 0, 3);
#endif
}

/*
 * How a forward or backward time loop shares the work of a step between nth
 * threads: by hidden units (each thread reads its slice of W_hh, and a
 * barrier ends every step, since every unit's next step needs all of h), or
 * by batch rows (each thread steps its own rows through every unit, reading
 * all of W_hh, with no barrier at all). Rows win when all of W_hh fits in a
 * core's L2, or when a thread has enough rows (rnf_l3_rows_min) for the
 * product to keep up with W_hh streamed from L3; they lose otherwise.
 * Measured on a host with a 2 MiB L2 and two 512-bit FMA units a core (an
 * Intel Xeon, by those; 2 threads, T 100, B 16, I = H, medians of 3
 * alternating runs, units time over rows time), forward / training:
 *   float:  GRU H320 (1.2 MiB) 1.16 / 1.15, LSTM H320 (1.6 MiB) 1.09 / 1.12,
 *           GRU H416 (1.98 MiB) 1.04 / 1.04; GRU H448 (2.3 MiB) 0.95 / 0.98,
 *           LSTM H384 (2.3 MiB) 0.95 / 0.98, LSTM H512 (4 MiB) - / 0.93;
 *   double: GRU H256 (1.5 MiB) 1.09 / 1.08, LSTM H192 (1.1 MiB) 1.09 / 1.15;
 *           LSTM H256 (2 MiB) 0.985 / 1.02, RNN H512 (2 MiB) 0.99 / -;
 * at B 64, where a thread has 32 rows: H128 1.20, LSTM H512 1.06. On an
 * AMD EPYC (Zen 4, 1 MiB L2; 5-9 rounds of both splits in one process,
 * float unless marked): rows won from 4 rows a thread, where W_hh does not
 * fit: LSTM B16 H256 (1 MiB) 1.15 / 1.16, double 1.23; double GRU B16 H256
 * 1.19 / 1.03; LSTM B16 H512 1.13 / 1.08, B8 H256 1.15, B12 H384 1.01; GRU
 * B8 H384 1.10, B16 H512 1.02; RNN B16 H512 1.04; double LSTM B8 H256
 * 1.02; a tie at 3 rows (LSTM B6 H256 0.99) and at RNN B8 H1024 (0.995).
 * The AVX2 kernels there too: LSTM B8 H256 1.24, B16 1.02. Every
 * element is computed by the same chain either way, so the choice never
 * changes the bits. RNNFAST_SPLIT=units or =rows forces one (rows only where
 * each thread has at least 3 rows, so the products keep the row-blocked
 * kernel).
 */
static int rnf_batch_split(const rnf_desc *d, int nth, size_t es)
{
    if (nth < 2 || d->batch < 3 * (int64_t)nth) return 0;
    const char *e = getenv("RNNFAST_SPLIT");
    if (e && strcmp(e, "units") == 0) return 0;
    if (e && strcmp(e, "rows") == 0) return 1;
    const double w_hh = (double)rnf_gates(d->cell) * (double)d->hidden_size *
                        (double)d->hidden_size * (double)es;
    return w_hh < (double)rnf_l2_bytes() || d->batch >= rnf_l3_rows_min() * (int64_t)nth;
}

/* Whether the backward time loop splits its steps by batch rows: as the
 * forward, except with peepholes, whose gradient sums over rows (each
 * thread then owns its units' sums). */
static int rnf_bwd_batch_split(const rnf_desc *d, int nth, size_t es)
{
    return !d->peephole && rnf_batch_split(d, nth, es);
}

/*
 * How many of the nthreads a call asks for it runs on. Where the time loops
 * split a step between threads by hidden units (rnf_batch_split: batches
 * under 3 rows a thread; the backward with peepholes), each step ends at a
 * barrier, which a thread pays for only with enough of the step's product:
 * each thread keeps at least RNF_UNITS_MIN_WHH bytes of W_hh, or the call
 * runs on fewer threads. Measured on 2 threads, T 100, I = H: one thread's
 * time over two threads' (above 1, two are faster) at B 1 / 2 / 4, and in
 * brackets training at B 1 / 4. Now on one thread:
 *   float LSTM H64 (64 KB of W_hh) 0.73 / 0.87 / 0.75 (0.76 / 0.85), GRU H64
 *   (48 KB) 0.76 / 0.69 / 0.70, RNN H96 (36 KB) 0.75 / 0.89 / 0.90 (0.73 /
 *   0.90); double LSTM H32 (32 KB) 0.61 / - / 0.62, LSTM H48 (72 KB) 1.01 /
 *   - / 1.06, GRU H48 (54 KB) 1.06 / - / 0.96; the losses over 6 %: float RNN
 *   H128 (64 KB) 1.10 / 1.21 / 1.04, double RNN H96 (72 KB) 1.12 / - / 0.95.
 * Still on two:
 *   float LSTM H96 (144 KB) 1.05 / 1.05 / 1.13 (1.13 / 1.16), GRU H96
 *   (108 KB) 1.00 / 1.05 / 1.03; double LSTM H64 (128 KB) 1.38 / - / 1.40.
 * Below H 64 one thread was 1.3x-1.9x faster. Rows split (no barrier a
 * step) keep every thread. And no call runs on more threads than the
 * process has CPUs (rnf_cpus). Packed weights and results do not depend on
 * the thread count, so this changes no bits; RNNFAST_EXACT_THREADS=1 keeps
 * the count asked for (the tests use it to run the splits at small sizes).
 */
#define RNF_UNITS_MIN_WHH (48 * 1024)
int rnf_call_threads(const rnf_desc *d)
{
    if (rnf_check_desc(d) != RNF_OK) return 0;
    if (d->nthreads < 2) return d->nthreads;
    const char *e = getenv("RNNFAST_EXACT_THREADS");
    if (e && *e && strcmp(e, "0") != 0) return d->nthreads;
    const int cpus = rnf_cpus(), n = d->nthreads < cpus ? d->nthreads : cpus;
    if (n < 2) return n;
    const size_t es = d->dtype == RNF_F64 ? sizeof(double) : sizeof(float);
    const int rows = rnf_batch_split(d, n, es) && (!d->training || rnf_bwd_batch_split(d, n, es));
    if (rows) return n; /* no barrier a step */
    const double w_hh = (double)rnf_gates(d->cell) * (double)d->hidden_size *
                        (double)d->hidden_size * (double)es;
    const double k = w_hh / RNF_UNITS_MIN_WHH;
    return k < 2 ? 1 : (k < n ? (int)k : n);
}

/*
 * Whether an inference forward time loop projects its input lazily, and in
 * units of how many rows (0: it projects a whole chunk at the chunk's
 * start). At a batch of one or two a step is a product of about a
 * microsecond, and a thread spends a fifth of it waiting at the step's
 * barrier for the other thread's part of h (the flag and the lines cross
 * between cores, and the two threads' steps vary). A lazy thread projects
 * its own columns of the chunk's rows a unit at a time (R rows, one gate)
 * while it waits, and before a step only what that step still lacks. Each
 * unit reads that gate's part of the thread's W_ih again, so R grows with
 * it, and where W_ih and W_hh would no longer share the L2 (a thread's W_ih
 * over 512 KB) the chunk is projected at once. Rows are independent
 * products, so the bits are those of the chunk at once. Measured (2
 * threads, T 100, I = H, medians of 5 interleaved runs, against the chunk
 * at once): float B1 H128 LSTM 8-12 % faster, GRU 9-13 %, RNN 4-7 %; LSTM
 * H64 6 %; GRU H128 B2 5 %; double B1 H128 LSTM 7-10 %, GRU 12 %; LSTM
 * H256 B1 and B2 0-6 % (within the noise). Not taken: LSTM H512 B1 10 %
 * and B2 18 % slower; B4 and B16 no faster, or slower.
 * The work goes in jobs (sequence_tmpl.h, lazy_take): a block of up to
 * side_mr rows of a unit against one panel. At batch 1 the step's own
 * product, bound by L2 bandwidth, runs jobs beside it in its k loop
 * (gemv_side), where the FMA units had time to spare; then one thread
 * gains as well, where the jobs have RNF_SIDE_MR_ALONE rows or more
 * (side_mr, 0 for none: the AVX-512 kernels' 6, the AVX2 kernels' 4).
 * On an AMD EPYC (Zen 4; T 100, I = H, float unless marked, one process
 * switching between jobs beside the product and jobs only in the waits,
 * 9-40 rounds, time without over time with): 2 threads, LSTM H96 / H128 /
 * H256 1.12 / 1.08 / 1.09-1.10, GRU H128 / H192 / H256 1.07 / 1.12 / 1.12,
 * RNN H256 / H512 1.06 / 1.10, double LSTM H128 1.07, GRU H128 1.09; one
 * thread (against the chunk at once): LSTM H64 / H96 / H128 1.08 / 1.11 /
 * 1.08, GRU H64 / H128 / H192 1.06 / 1.12 / 1.09, RNN H128 / H256 1.12 /
 * 1.10, double LSTM H128 1.08. Jobs of 3 or 4 rows (more jobs a step, each
 * reading its panel again) lost on 2 threads: 0.82-0.87 of 6 rows' speed. The
 * AVX2 kernels (16 registers: jobs of 3 rows beside 3 panels), 2 threads:
 * LSTM 1.06, GRU 1.04, double LSTM 1.07; one thread: 0.94, 0.95, 0.85.
 * Jobs of 4 rows beside 2 panels (units of 8 rows) read each W_ih panel a
 * third less often; against 3 beside 3 (medians of 7-9 alternating
 * processes, T 100, I = H): 2 threads, float LSTM B1 H128 / H256 5-9 % / 6 %
 * faster, GRU H128 / H256 8 % / 3 %, RNN H256 3 %, double LSTM H128 8 %,
 * GRU 2 %; one thread, now lazy too, float LSTM H64 / H128 4 % / 3 %, GRU
 * H128 4 %, double LSTM H64 / H128 +3.5 % / -1.6 %, GRU -0.6 %; training
 * (no jobs, 2 panels at a time) within 0.5 %.
 */
static int64_t rnf_lazy_rows(const rnf_desc *d, int nth, size_t es, int side_mr)
{
    if (d->training || d->batch > 2) return 0;
    if (nth < 2 && !(d->batch == 1 && side_mr >= RNF_SIDE_MR_ALONE)) return 0;
    const int64_t w = (d->hidden_size + nth - 1) / nth; /* about a thread's units */
    const int64_t slice = rnf_gates(d->cell) * w * d->input_size * (int64_t)es;
    if (slice > RNF_LAZY_SLICE_MAX) return 0;
    const int64_t r = slice / RNF_LAZY_SLICE_PER_ROW;
    /* at least RNF_LAZY_ROWS_MIN, in whole jobs of side_mr rows */
    const int64_t rmin = side_mr > 0 ? (RNF_LAZY_ROWS_MIN + side_mr - 1) / side_mr * side_mr
                                     : RNF_LAZY_ROWS_MIN;
    return r < rmin ? rmin : r;
}

/* The batch rows [r0, r1) and hidden units [u0, u1) thread tid steps: all
 * rows and its own units [j0, j1), or (bs, rnf_batch_split) its own rows and
 * all units. */
static inline void rnf_step_share(int bs, int64_t B, int64_t H, int nth, int tid, int64_t j0,
                                  int64_t j1, int64_t *r0, int64_t *r1, int64_t *u0,
                                  int64_t *u1)
{
    *r0 = 0, *r1 = B;
    if (bs) rnf_split(B, nth, tid, r0, r1);
    *u0 = bs ? 0 : j0, *u1 = bs ? H : j1;
}

/*
 * Order the batch rows longest first, stably: perm[p] is the caller's row at
 * physical position p, plen[p] its length. A bottom-up merge sort on the row
 * indices, O(B log B), with tmp holding B entries (nothing grows with T).
 */
static rnf_status rnf_sort_rows(int64_t T, int64_t B, const int64_t *lengths, int64_t *perm,
                                int64_t *plen, int64_t *tmp)
{
    for (int64_t b = 0; b < B; ++b) {
        if (lengths && (lengths[b] < 0 || lengths[b] > T)) return RNF_ERR_LENGTHS;
        perm[b] = b;
    }
    if (lengths) {
        int64_t *src = perm, *dst = tmp;
        for (int64_t w = 1; w < B; w *= 2) {
            for (int64_t lo = 0; lo < B; lo += 2 * w) {
                const int64_t mid = lo + w < B ? lo + w : B, hi = lo + 2 * w < B ? lo + 2 * w : B;
                int64_t i = lo, j = mid, k = lo;
                while (i < mid && j < hi) /* ties take the left run: stable */
                    dst[k++] = lengths[src[j]] > lengths[src[i]] ? src[j++] : src[i++];
                while (i < mid) dst[k++] = src[i++];
                while (j < hi) dst[k++] = src[j++];
            }
            int64_t *t = src;
            src = dst;
            dst = t;
        }
        if (src != perm) memcpy(perm, src, (size_t)B * sizeof(int64_t));
    }
    for (int64_t p = 0; p < B; ++p) plen[p] = lengths ? lengths[perm[p]] : T;
    return RNF_OK;
}

/*
 * The stamp at the head of a packed-weights buffer: what it was packed for.
 * The kernel table it was packed with stands for the kernel path (panel
 * widths differ between paths).
 */
typedef struct {
    uint64_t magic;
    const rnf_kernels *kernels;
    int32_t cell, dtype, training;
    int64_t input_size, hidden_size;
} rnf_pack_stamp_t;

_Static_assert(sizeof(rnf_pack_stamp_t) <= RNF_ALIGN, "the stamp fits its reserved block");

#define RNF_PACK_MAGIC 0x726e665061636b31ull /* "rnfPack1" */

static void rnf_pack_stamp(char *pk, const rnf_desc *d)
{
    rnf_pack_stamp_t s = {RNF_PACK_MAGIC, rnf_active_kernels(), d->cell, d->dtype, d->training,
                          d->input_size, d->hidden_size};
    memcpy(pk, &s, sizeof s);
}

static rnf_status rnf_pack_check(const void *packed, size_t bytes, size_t need,
                                 const rnf_desc *d, int backward)
{
    if (!packed) return RNF_ERR_NULL;
    if (bytes < need) return RNF_ERR_PACKED;
    rnf_pack_stamp_t s;
    memcpy(&s, rnf_align_ptr((void *)packed), sizeof s);
    if (s.magic != RNF_PACK_MAGIC || s.kernels != rnf_active_kernels() || s.cell != d->cell ||
        s.dtype != d->dtype || s.input_size != d->input_size ||
        s.hidden_size != d->hidden_size || (backward && !s.training))
        return RNF_ERR_PACKED;
    return RNF_OK;
}

/* Bytes of a pack made for d with training = tr (a training pack also
 * serves forward, so forward needs only the inference part). */
static size_t rnf_pack_bytes(const rnf_desc *d, int tr)
{
    rnf_desc e = *d;
    rnf_layout L;
    e.training = tr;
    return rnf_make_layout(&e, &L) == RNF_OK ? L.pack : SIZE_MAX;
}

#define REAL float
#define SFX f32
#include "sequence_tmpl.h"
#include "jordan_tmpl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX f64
#include "sequence_tmpl.h"
#include "jordan_tmpl.h"
#undef REAL
#undef SFX

rnf_status rnf_forward(const rnf_desc *d, const rnf_fwd_args *a, void *workspace,
                       size_t workspace_bytes, void *tape, size_t tape_bytes)
{
    const rnf_status st = rnf_check_desc(d);
    if (st != RNF_OK) return st;
    rnf_desc dc = *d; /* on the threads rnf_query sized the workspace for */
    dc.nthreads = rnf_call_threads(d);
    return d->dtype == RNF_F32
               ? rnf_forward_f32(&dc, a, workspace, workspace_bytes, tape, tape_bytes)
               : rnf_forward_f64(&dc, a, workspace, workspace_bytes, tape, tape_bytes);
}

rnf_status rnf_backward(const rnf_desc *d, const rnf_bwd_args *a, void *workspace,
                        size_t workspace_bytes, const void *tape, size_t tape_bytes)
{
    const rnf_status st = rnf_check_desc(d);
    if (st != RNF_OK) return st;
    rnf_desc dc = *d;
    dc.nthreads = rnf_call_threads(d);
    return d->dtype == RNF_F32
               ? rnf_backward_f32(&dc, a, workspace, workspace_bytes, tape, tape_bytes)
               : rnf_backward_f64(&dc, a, workspace, workspace_bytes, tape, tape_bytes);
}

rnf_status rnf_jordan_forward(const rnf_jordan_desc *d, const rnf_jordan_fwd_args *a,
                              void *workspace, size_t workspace_bytes, void *tape,
                              size_t tape_bytes)
{
    if (!d) return RNF_ERR_NULL;
    return d->dtype == RNF_F64
               ? rnf_jordan_forward_f64(d, a, workspace, workspace_bytes, tape, tape_bytes)
               : rnf_jordan_forward_f32(d, a, workspace, workspace_bytes, tape, tape_bytes);
}

rnf_status rnf_jordan_backward(const rnf_jordan_desc *d, const rnf_jordan_bwd_args *a,
                               void *workspace, size_t workspace_bytes, const void *tape,
                               size_t tape_bytes)
{
    if (!d) return RNF_ERR_NULL;
    return d->dtype == RNF_F64
               ? rnf_jordan_backward_f64(d, a, workspace, workspace_bytes, tape, tape_bytes)
               : rnf_jordan_backward_f32(d, a, workspace, workspace_bytes, tape, tape_bytes);
}

rnf_status rnf_pack(const rnf_desc *d, const void *w_ih, const void *w_hh, void *packed,
                    size_t bytes)
{
    const rnf_status st = rnf_check_desc(d);
    if (st != RNF_OK) return st;
    return d->dtype == RNF_F32 ? rnf_pack_f32(d, w_ih, w_hh, packed, bytes)
                               : rnf_pack_f64(d, w_ih, w_hh, packed, bytes);
}
