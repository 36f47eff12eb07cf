/*
 * kernels.h -- the internal kernel table. Each ISA build of gemm_tmpl.h fills
 * one rnf_kernels; dispatch.c picks one at run time. The drivers reach the
 * matrix products only through rnf_active_kernels(), so a faster engine
 * replaces them here without touching the drivers.
 */
#ifndef RNF_KERNELS_H
#define RNF_KERNELS_H
#include <stdint.h>

/*
 * C[M, N] (+)= A[M, K] . B[K, N], where element (m, k) of A is at
 * A[m * a_rs + k * a_cs] (so a_rs = lda, a_cs = 1 is A, and a_rs = 1,
 * a_cs = lda is a transposed A), B and C are row-major with leading
 * dimensions ldb and ldc. acc = 0 overwrites C without reading it;
 * acc = 1 adds to it. Every C element is summed over k = 0..K-1 in order,
 * starting from 0 or from C, whatever M and N are: callers split the output
 * between threads and get the same bits for any split.
 */
typedef void (*rnf_gemm_f32_fn)(int64_t M, int64_t N, int64_t K, const float *A, int64_t a_rs,
                                int64_t a_cs, const float *B, int64_t ldb, float *C,
                                int64_t ldc, int acc);
typedef void (*rnf_gemm_f64_fn)(int64_t M, int64_t N, int64_t K, const double *A,
                                int64_t a_rs, int64_t a_cs, const double *B, int64_t ldb,
                                double *C, int64_t ldc, int acc);

typedef struct {
    const char *name;
    rnf_gemm_f32_fn gemm_f32;
    rnf_gemm_f64_fn gemm_f64;
} rnf_kernels;

extern const rnf_kernels rnf_kernels_baseline;
extern const rnf_kernels rnf_kernels_avx2;
extern const rnf_kernels rnf_kernels_avx512;

const rnf_kernels *rnf_active_kernels(void);

#define RNF_CAT_(a, b) a##b
#define RNF_CAT(a, b) RNF_CAT_(a, b)

#endif
