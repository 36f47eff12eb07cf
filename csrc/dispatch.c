/*
 * dispatch.c -- reads the CPU once and picks the kernel table.
 * RNNFAST_ARCH=baseline|avx2|avx512 forces a path (if the CPU has it).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

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
    if (total >= RNF_SAME_BYTES_SPLIT && nthreads > 1) {
        _Atomic uint64_t differ = 0;
#pragma omp parallel num_threads(nthreads)
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
