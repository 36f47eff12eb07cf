/*
 * dispatch.c -- reads the CPU once and picks the kernel table.
 * RNNFAST_ARCH=baseline|avx2|avx512 forces a path (if the CPU has it).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/kernels.h"
#include "layout.h"
#include "rnnfast.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static const rnf_kernels *const rnf_all_kernels[] = {
#ifdef RNF_HAVE_X86_KERNELS
    &rnf_kernels_avx512,
    &rnf_kernels_avx2,
#endif
    &rnf_kernels_baseline,
};
enum { RNF_NKERNELS = sizeof(rnf_all_kernels) / sizeof(rnf_all_kernels[0]) };

static int cpu_has(const rnf_kernels *k)
{
#if defined(RNF_HAVE_X86_KERNELS) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (k == &rnf_kernels_avx512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("fma");
    if (k == &rnf_kernels_avx2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return k == &rnf_kernels_baseline;
}

static const rnf_kernels *find(const char *name)
{
    for (int i = 0; i < RNF_NKERNELS; ++i)
        if (strcmp(rnf_all_kernels[i]->name, name) == 0) return rnf_all_kernels[i];
    return NULL;
}

static const rnf_kernels *detect(void)
{
    const char *forced = getenv("RNNFAST_ARCH");
    if (forced && *forced) {
        const rnf_kernels *k = find(forced);
        if (k && cpu_has(k)) return k;
    }
    for (int i = 0; i < RNF_NKERNELS; ++i)
        if (cpu_has(rnf_all_kernels[i])) return rnf_all_kernels[i];
    return &rnf_kernels_baseline;
}

static const rnf_kernels *active;

const rnf_kernels *rnf_active_kernels(void)
{
    const rnf_kernels *k = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
    if (!k) {
        k = detect(); /* every racing caller computes the same answer */
        __atomic_store_n(&active, k, __ATOMIC_RELEASE);
    }
    return k;
}

const char *rnf_arch_name(void) { return rnf_active_kernels()->name; }

int rnf_arch_supported(const char *name)
{
    const rnf_kernels *k = name ? find(name) : NULL;
    return k != NULL && cpu_has(k);
}

int rnf_set_arch(const char *name)
{
    const rnf_kernels *k = name ? find(name) : NULL;
    if (!k) return -1;
    if (!cpu_has(k)) return -2;
    __atomic_store_n(&active, k, __ATOMIC_RELEASE);
    return 0;
}

int rnf_openmp_enabled(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int rnf_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* What the machine says, asked once and kept: every racing first caller
 * computes the same (positive) answer. */
static int64_t rnf_once(_Atomic int64_t *cached, int64_t (*ask)(void))
{
    int64_t v = atomic_load_explicit(cached, memory_order_relaxed);
    if (v > 0) return v;
    v = ask();
    atomic_store_explicit(cached, v, memory_order_relaxed);
    return v;
}

/*
 * The CPUs this process may run on (OpenMP's count, from its affinity mask),
 * asked once: a call sizes its workspace for its thread count and then runs
 * on it, so the count must not change between the two. More threads than
 * CPUs only slow a call down: each step's barrier waits for whichever thread
 * is off the CPU (3 threads on 2 cores: LSTM, T 100, B 16, H 256 took 37.9 ms
 * against 9.45 on 2), and results do not depend on the count.
 */
static int64_t ask_cpus(void)
{
    int v = 0;
#ifdef _OPENMP
    v = omp_get_num_procs();
#endif
    return v < 1 ? 1 : v;
}

int rnf_cpus(void)
{
    static _Atomic int64_t cached = 0;
    return (int)rnf_once(&cached, ask_cpus);
}

/* Bytes of one core's L2 cache, as the C library reports it (glibc reads
 * CPUID), or 1 MiB where it does not say; asked once. The batch-row split
 * and the input projection's blocking are chosen by it. */
static int64_t ask_l2_bytes(void)
{
    int64_t v = 0;
#ifdef _SC_LEVEL2_CACHE_SIZE
    v = (int64_t)sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    return v < 64 * 1024 ? 1 << 20 : v; /* 0, -1, or not a real L2 */
}

int64_t rnf_l2_bytes(void)
{
    static _Atomic int64_t cached = 0;
    return rnf_once(&cached, ask_l2_bytes);
}

/* The batch rows a thread needs before its share of a step's product keeps
 * up with all of W_hh streamed from L3 each step (rnf_batch_split). Each
 * W_hh line feeds as many multiply-adds as the thread has rows, so this is
 * the cores' multiply-add rate over what L3 gives one core, a ratio the
 * vendor sets: 32 on the 2 MiB-L2 host first measured (two 512-bit FMA
 * units a core, 245 GFLOP/s on registers: an Intel Xeon, by those) and on
 * CPUs not known, 4 on the AMD EPYC (Zen 4: 256-bit units, 117 GFLOP/s a
 * core; measured in sequence.c). */
static int64_t ask_l3_rows_min(void)
{
#if defined(RNF_HAVE_X86_KERNELS) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_is("amd")) return 4;
#endif
    return 32;
}

int rnf_l3_rows_min(void)
{
    static _Atomic int64_t cached = 0;
    return (int)rnf_once(&cached, ask_l3_rows_min);
}

#ifndef RNF_BUILD_FLAGS
#define RNF_BUILD_FLAGS "unknown"
#endif
const char *rnf_build_flags(void) { return RNF_BUILD_FLAGS; }

uint64_t rnf_differing_part(int count, const void *const *a, const void *const *b,
                            const size_t *n, size_t lo, size_t hi)
{
    uint64_t differ = 0;
    size_t base = 0;
    for (int i = 0; i < count && base < hi; base += n[i], ++i) {
        const size_t s = lo > base ? lo : base;
        const size_t e = hi < base + n[i] ? hi : base + n[i];
        if (s < e && memcmp((const char *)a[i] + (s - base), (const char *)b[i] + (s - base),
                            e - s) != 0)
            differ |= (uint64_t)1 << i;
    }
    return differ;
}

/*
 * The threads worth a team for one pass over `bytes` of memory (a compare,
 * a pack): one for each RNF_SAME_BYTES_SPLIT bytes, at most nthreads and the
 * CPUs (rnf_cpus), so each thread's share pays for its start. A team of
 * every thread asked for also cost where a call's kernel runs on fewer
 * (rnf_call_threads): the threads it leaves idle fall asleep, and a team
 * that needs them waits for each to wake. Measured on a 16-core virtual
 * machine (float32, T 100, B 1, H 128, training, medians of 10 calls):
 * with a team of all threads the forward with its weight compare took
 * 0.45 ms on 5 threads (the kernel's own count from 5 up) and 0.84 ms on
 * 16 (LSTM), GRU 0.40 and 1.38 ms, while the kernel alone (eval) took no
 * longer on 16 than on 5; with these teams, 0.56 ms on 16 (LSTM) and
 * 0.42 ms (GRU), as on 5. A whole LSTM training call on 16 threads took
 * 1.46 ms and 5.8 ms in two runs before, 1.34 ms after (2.1 ms on 1
 * thread). Two cores: the same times (7 cases, medians of 8 interleaved
 * runs, ratios 0.99-1.01).
 */
int rnf_memory_team(size_t bytes, int nthreads)
{
    const size_t k = bytes / RNF_SAME_BYTES_SPLIT;
    const int cpus = rnf_cpus(), n = nthreads < cpus ? nthreads : cpus;
    return k < 2 ? 1 : (k < (size_t)n ? (int)k : n);
}

/* Layers compare each weight with the snapshot they packed from on every
 * call. One core's memcmp reads about 60 bytes a ns here: an LSTM with
 * H = 128 (two 256 KB matrices, and their snapshots) spent 8.6 us of a 200 us
 * batch-1 call on it; split in contiguous parts between threads it takes
 * about half. Below RNF_SAME_BYTES_SPLIT bytes a team costs more than it
 * saves. All of a call's pairs go to one team, their bytes laid end to end
 * and split in contiguous parts: a team per pair cost a start each (GRU,
 * H = 128, four parameters, medians of 5000: 5.0 us, in one team 4.5 us). */
uint64_t rnf_differing_bytes(int count, const void *const *a, const void *const *b,
                             const size_t *n, int nthreads)
{
    if (count <= 0) return 0;
    if (count > RNF_DIFFERING_MAX) return ~(uint64_t)0; /* never "equal" unread */
    size_t total = 0;
    for (int i = 0; i < count; ++i) total += n[i];
#ifdef _OPENMP
    const int team = rnf_memory_team(total, nthreads);
    if (team > 1) {
        _Atomic uint64_t differ = 0;
#pragma omp parallel num_threads(team)
        {
            int64_t lo, hi;
            rnf_split((int64_t)total, omp_get_num_threads(), omp_get_thread_num(), &lo, &hi);
            const uint64_t mine = rnf_differing_part(count, a, b, n, (size_t)lo, (size_t)hi);
            if (mine) atomic_fetch_or_explicit(&differ, mine, memory_order_relaxed);
        }
        return atomic_load(&differ);
    }
#endif
    (void)nthreads;
    return rnf_differing_part(count, a, b, n, 0, total);
}

int rnf_same_bytes(const void *a, const void *b, size_t n, int nthreads)
{
    return rnf_differing_bytes(1, &a, &b, &n, nthreads) == 0;
}

/* Seconds, for intervals. */
static double rnf_seconds(void)
{
#ifdef _OPENMP
    return omp_get_wtime();
#else
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#endif
}

/* The active path's peak loop (kernels.h) for rounds rounds on n threads at
 * once; the flops done, and their wall time in *t. */
static int64_t rnf_peak_run(const rnf_kernels *k, int dtype, int n, int64_t rounds, double *t)
{
    _Atomic int64_t flops = 0;
    const double t0 = rnf_seconds();
#pragma omp parallel num_threads(n)
    {
        double s64; /* the chains' sums, unread */
        float s32;
        const int64_t f =
            dtype == RNF_F64 ? k->f64.peak(rounds, &s64) : k->f32.peak(rounds, &s32);
        atomic_fetch_add_explicit(&flops, f, memory_order_relaxed);
    }
    *t = rnf_seconds() - t0;
    return atomic_load(&flops);
}

double rnf_peak_gflops(int dtype, int nthreads, double seconds)
{
    if ((dtype != RNF_F32 && dtype != RNF_F64) || nthreads < 1 || nthreads > RNF_MAX_THREADS ||
        !(seconds > 0) || seconds > 60)
        return -1;
    const rnf_kernels *k = rnf_active_kernels();
    const int cpus = rnf_cpus(), n = nthreads < cpus ? nthreads : cpus;
    double t = 0;
    int64_t rounds = 1 << 12;
    /* one thread, doubling the rounds until a run lasts a tenth of the time */
    while (rnf_peak_run(k, dtype, 1, rounds, &t), t < seconds / 10 && rounds < (INT64_C(1) << 40))
        rounds *= 2;
    const double scale = seconds / (t > 0 ? t : 1e-9);
    rounds = (int64_t)((double)rounds * (scale < 1 ? 1 : scale));
    const int64_t flops = rnf_peak_run(k, dtype, n, rounds, &t);
    return (double)flops / (t > 0 ? t : 1e-9) / 1e9;
}
