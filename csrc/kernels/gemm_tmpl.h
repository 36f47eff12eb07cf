/*
 * gemm_tmpl.h -- plain-C GEMM, written for the compiler to vectorise over N.
 * Included once per dtype by gemm_isa.c with REAL, SFX and ISA set.
 * See kernels.h for the contract; the k-order of every sum is fixed.
 */
#define GEMM_FN RNF_CAT(RNF_CAT(rnf_gemm_, SFX), ISA)

#define RNF_GEMM_NB ((int64_t)(512 / sizeof(REAL))) /* a C row chunk that stays in L1 */

void GEMM_FN(int64_t M, int64_t N, int64_t K, const REAL *restrict A, int64_t a_rs,
             int64_t a_cs, const REAL *restrict B, int64_t ldb, REAL *restrict C, int64_t ldc,
             int acc)
{
    for (int64_t n0 = 0; n0 < N; n0 += RNF_GEMM_NB) {
        const int64_t nb = (N - n0 < RNF_GEMM_NB) ? N - n0 : RNF_GEMM_NB;
        for (int64_t m = 0; m < M; ++m) {
            REAL *restrict c = C + m * ldc + n0;
            const REAL *restrict a = A + m * a_rs;
            if (!acc)
                for (int64_t n = 0; n < nb; ++n) c[n] = 0;
            for (int64_t k = 0; k < K; ++k) {
                const REAL av = a[k * a_cs];
                const REAL *restrict b = B + k * ldb + n0;
                for (int64_t n = 0; n < nb; ++n) c[n] += av * b[n];
            }
        }
    }
}

#undef GEMM_FN
#undef RNF_GEMM_NB
