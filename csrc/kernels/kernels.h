/*
 * kernels.h -- the internal kernel table. gemm_isa.c, compiled once per ISA,
 * fills one rnf_kernels; dispatch.c picks one at run time. The drivers reach
 * matrix products and gate math only through the table.
 *
 * GEMM contract: C[M, N] (+)= A[M, K] . B[K, N], element (m, k) of A at
 * A[m * a_rs + k * a_cs] (a_cs = 1: row-major A; a_rs = 1: A transposed), B
 * packed in panels by pack() (see gemm_tmpl.h): panel q holds columns
 * [q*nr, q*nr + nr) for Kp rows; the call uses its first K rows. Every C
 * element is one multiply-add chain over k = 0..K-1 in order, started from C
 * (acc = 1) or from the row vector bias[N] (acc = 0; NULL: from 0, C not
 * read), so callers may split the output
 * between threads any way and get the same bits.
 *
 * Pointwise contract: each function handles one batch row and the hidden
 * units [j0, j1); every element's arithmetic is independent of j0 and j1.
 */
#ifndef RNF_KERNELS_H
#define RNF_KERNELS_H
#include <stdint.h>

#define RNF_CAT_(a, b) a##b
#define RNF_CAT(a, b) RNF_CAT_(a, b)

/* Rows of the GEMM's A operand whose byte stride is a multiple of 2 KB fall
 * into one or two L1 sets and evict each other; rnf_gemm_packed copies such
 * rows to a buffer whose stride is padded by RNF_ROW_PAD elements. A caller
 * that owns its rows can store them padded instead (rnf_row_stride). */
#define RNF_ROW_PAD 16
static inline int rnf_rows_share_sets(int64_t stride_bytes) { return (stride_bytes & 2047) == 0; }

/* Widest panel of any path, in elements: packed buffers are sized for it. */
#define RNF_NR_MAX_F32 32
#define RNF_NR_MAX_F64 16

#define RNF_DECLARE_OPS(REAL, SFX)                                                               \
    /* A job: C[mr, ncols] = bias + A[mr, K] . one K x nr panel Bp (a row block of \
     * a product), A's rows a_rs apart, C's ldc apart, bias NULL for 0 */                      \
    typedef struct {                                                                             \
        int mr, ncols;                                                                           \
        int64_t K, a_rs, ldc;                                                                    \
        const REAL *A, *Bp, *bias;                                                               \
        REAL *C;                                                                                 \
    } RNF_CAT(rnf_job_, SFX);                                                                    \
    typedef struct {                                                                             \
        int act[3];                                                                              \
        REAL clip;            /* 0 = off */                                                      \
        const REAL *peephole; /* [3, H] rows i, f, o, or NULL */                                 \
    } RNF_CAT(rnf_cellp_, SFX);                                                                  \
    typedef const RNF_CAT(rnf_cellp_, SFX) * RNF_CAT(rnf_cp_, SFX);                              \
    typedef struct {                                                                             \
        int nr; /* panel width */                                                                \
        void (*pack)(int64_t K, int64_t N, const REAL *B, int64_t b_rs, int64_t b_cs, REAL *Bp); \
        void (*gemm)(int64_t M, int64_t N, int64_t K, const REAL *A, int64_t a_rs,             \
                     int64_t a_cs, const REAL *Bp, int64_t Kp, REAL *C, int64_t ldc, int acc,   \
                     const REAL *bias);                                                          \
        /* G products sharing A, C_g = C + g * cg from 0 or bias + g * cg; panel q * G + g \
         * of Bp is panel q of B_g (gemm_tmpl.h) */                                              \
        void (*gemm_gates)(int64_t M, int G, int64_t N, int64_t K, const REAL *A, int64_t a_rs, \
                           int64_t a_cs, const REAL *Bp, int64_t Kp, REAL *C, int64_t ldc,       \
                           int64_t cg, const REAL *bias);                                        \
        /* gemm_gates for one row (M 1, from 0), and the jobs (rows at most side_mr), \
         * some run beside the product's groups of side_np panels */                            \
        void (*gemv_side)(int64_t N, int G, int64_t K, const REAL *a, const REAL *Bp,          \
                          int64_t Kp, REAL *C, int64_t cg, const RNF_CAT(rnf_job_, SFX) * jobs,  \
                          int njobs);                                                            \
        int side_mr, side_np;                                                                    \
        /* register-only multiply-adds for rounds rounds: the flops done (gemm_tmpl.h) */       \
        int64_t (*peak)(int64_t rounds, REAL *sink);                                             \
        /* scratch: 8 * H elements of the calling thread */                                      \
        void (*lstm_fwd)(RNF_CAT(rnf_cp_, SFX), int64_t H, int64_t j0, int64_t j1,             \
                         const REAL *xw, REAL *hw, const REAL *cpv, REAL *hn, REAL *cn, REAL *y, \
                         REAL *zt);                                                              \
        void (*lstm_bwd)(RNF_CAT(rnf_cp_, SFX), int64_t H, int64_t j0, int64_t j1,             \
                         const REAL *zt, const REAL *cpv, const REAL *dh, const REAL *dc,        \
                         REAL *dz, REAL *dcp, REAL *dpeep, REAL *scratch);                       \
        void (*gru_lbr_fwd)(RNF_CAT(rnf_cp_, SFX), int64_t H, int64_t j0, int64_t j1,          \
                            const REAL *xw, REAL *hw, const REAL *bhn, const REAL *hp, REAL *hn, \
                            REAL *y, REAL *zt, REAL *thn);                                       \
        void (*gru_lbr_bwd)(RNF_CAT(rnf_cp_, SFX), int64_t H, int64_t j0, int64_t j1,          \
                            const REAL *zt, const REAL *thn, const REAL *hp, REAL *dh,           \
                            REAL *dgi, REAL *dgh, REAL *scratch);                                \
        void (*gru_rz_fwd)(RNF_CAT(rnf_cp_, SFX), int64_t H, int64_t j0, int64_t j1,           \
                           const REAL *xw, REAL *hw, const REAL *hp, REAL *rh, REAL *zt);        \
        void (*gru_n_fwd)(RNF_CAT(rnf_cp_, SFX), int64_t H, int64_t j0, int64_t j1,            \
                          const REAL *xw, REAL *hw, const REAL *hp, REAL *hn, REAL *y,           \
                          REAL *zt);                                                             \
        void (*gru_zn_bwd)(RNF_CAT(rnf_cp_, SFX), int64_t H, int64_t j0, int64_t j1,           \
                           const REAL *zt, const REAL *hp, REAL *dh, REAL *dg, REAL *scratch);   \
        void (*gru_r_bwd)(RNF_CAT(rnf_cp_, SFX), int64_t j0, int64_t j1, const REAL *zt,       \
                          const REAL *hp, const REAL *drh, REAL *dg, REAL *dhp, REAL *rh,        \
                          REAL *scratch);                                                        \
        void (*rnn_fwd)(RNF_CAT(rnf_cp_, SFX), int64_t j0, int64_t j1, const REAL *xw,         \
                        const REAL *hw, REAL *hn, REAL *y, REAL *zt);                            \
        void (*rnn_bwd)(RNF_CAT(rnf_cp_, SFX), int64_t j0, int64_t j1, const REAL *zt,         \
                        const REAL *dh, REAL *dz, REAL *scratch);                                \
    } RNF_CAT(rnf_ops_, SFX);

RNF_DECLARE_OPS(float, f32)
RNF_DECLARE_OPS(double, f64)

typedef struct {
    const char *name;
    rnf_ops_f32 f32;
    rnf_ops_f64 f64;
} rnf_kernels;

extern const rnf_kernels rnf_kernels_baseline;
extern const rnf_kernels rnf_kernels_avx2;
extern const rnf_kernels rnf_kernels_avx512;

const rnf_kernels *rnf_active_kernels(void);
int rnf_l3_rows_min(void); /* dispatch.c: rows a thread needs to stream W_hh from L3 */

#endif
