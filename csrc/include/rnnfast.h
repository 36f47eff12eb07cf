/*
 * rnnfast.h -- the one C header the Cython layer sees.
 *
 * A call is described by an rnf_desc. The caller asks rnf_query() how many
 * bytes of workspace and tape the call needs, allocates them, and passes them
 * in. Kernels never allocate and never abort: every entry point returns an
 * rnf_status.
 *
 * Shapes use these letters: T steps, B batch rows, I input features, H hidden
 * units, G gates (4 LSTM, 3 GRU, 1 RNN). All arrays are C-contiguous, of the
 * descriptor's dtype (float or double), except seq_lengths (int64_t).
 * Weight layout is PyTorch's: gate blocks stacked along the rows.
 */
#ifndef RNNFAST_H
#define RNNFAST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RNF_MAX_THREADS 1024

typedef enum { RNF_CELL_LSTM = 0, RNF_CELL_GRU = 1, RNF_CELL_RNN = 2 } rnf_cell;
typedef enum { RNF_F32 = 0, RNF_F64 = 1 } rnf_dtype;
typedef enum {
    RNF_ACT_SIGMOID = 0,
    RNF_ACT_HARD_SIGMOID = 1, /* clip(0.2 x + 0.5, 0, 1) */
    RNF_ACT_TANH = 2,
    RNF_ACT_RELU = 3,
    RNF_ACT_IDENTITY = 4
} rnf_act;

typedef enum {
    RNF_OK = 0,
    RNF_ERR_DESC = 1,      /* descriptor field out of range */
    RNF_ERR_OVERFLOW = 2,  /* a size does not fit in size_t */
    RNF_ERR_WORKSPACE = 3, /* workspace smaller than rnf_query asked for */
    RNF_ERR_TAPE = 4,      /* tape smaller than rnf_query asked for */
    RNF_ERR_NULL = 5,      /* a required pointer is NULL */
    RNF_ERR_LENGTHS = 6,   /* a seq_lengths entry is outside [0, T] */
    RNF_ERR_PACKED = 7     /* packed weights made for another problem or kernel path */
} rnf_status;

typedef struct {
    int cell;                /* rnf_cell */
    int dtype;               /* rnf_dtype */
    int64_t steps, batch;    /* T, B: all sizes >= 0 */
    int64_t input_size;      /* I */
    int64_t hidden_size;     /* H */
    int reverse;             /* read each sequence from its last valid step down */
    int peephole;            /* LSTM only: peephole weights given */
    int linear_before_reset; /* GRU only */
    int training;            /* forward writes the tape that backward reads */
    double clip;             /* > 0: clamp gate pre-activations to [-clip, clip]; 0: off */
    int act[3];              /* LSTM f,g,h; GRU f,g; RNN act[0] (rnf_act) */
    int nthreads;            /* in [1, RNF_MAX_THREADS]; threads of the one OpenMP region */
    int packed;              /* weights come packed by rnf_pack in args.packed */
} rnf_desc;

typedef struct {
    const void *x;              /* [T, B, I] */
    const void *w_ih;           /* [G*H, I] */
    const void *w_hh;           /* [G*H, H] */
    const void *b_ih;           /* [G*H] or NULL (zero) */
    const void *b_hh;           /* [G*H] or NULL (zero) */
    const void *h0;             /* [B, H] or NULL (zero) */
    const void *c0;             /* [B, H] or NULL (zero); LSTM only */
    const void *peephole;       /* [3, H] rows i, f, o; LSTM with desc.peephole */
    const int64_t *seq_lengths; /* [B] in [0, T], or NULL (all T) */
    void *y;                    /* out [T, B, H]; 0 at padded steps */
    void *h_n;                  /* out [B, H] */
    void *c_n;                  /* out [B, H]; LSTM only, else may be NULL */
    const void *packed;         /* rnf_pack's buffer when desc.packed, else unused */
    size_t packed_bytes;        /* its size in bytes */
    /* Pairs of byte ranges the call compares while it runs, in the moments
     * a thread would wait at a step's barrier, and the rest after the time
     * loop: bit i of *verify_differ is set where the verify_bytes[i] bytes at
     * verify_a[i] and verify_b[i] differ (once one pair differs, the rest may
     * go unread). A layer runs on the copies of its weights it packed before
     * and checks them against its live weights this way; a set bit means the
     * results came from weights that have since changed. verify_count: 0 (no
     * compare; the pointers are unused) to RNF_DIFFERING_MAX. */
    int verify_count;
    const void *const *verify_a;
    const void *const *verify_b;
    const size_t *verify_bytes;
    uint64_t *verify_differ;
} rnf_fwd_args;

typedef struct {
    const void *x;              /* [T, B, I], the forward input */
    const void *w_ih;           /* [G*H, I] */
    const void *w_hh;           /* [G*H, H] */
    const void *peephole;       /* [3, H] or NULL */
    const int64_t *seq_lengths; /* [B] or NULL, as in forward */
    const void *dy;             /* [T, B, H] or NULL (zero) */
    const void *dh_n;           /* [B, H] or NULL (zero) */
    const void *dc_n;           /* [B, H] or NULL (zero); LSTM only */
    void *dx;                   /* out [T, B, I] */
    void *dw_ih;                /* out [G*H, I] */
    void *dw_hh;                /* out [G*H, H] */
    void *db_ih;                /* out [G*H] */
    void *db_hh;                /* out [G*H] */
    void *dh0;                  /* out [B, H] */
    void *dc0;                  /* out [B, H]; LSTM only, else may be NULL */
    void *dpeephole;            /* out [3, H]; LSTM with desc.peephole, else may be NULL */
    const void *packed;         /* rnf_pack's buffer (packed with training) when desc.packed */
    size_t packed_bytes;        /* its size in bytes */
} rnf_bwd_args;

/* Bytes of workspace for forward and backward, and of tape (0 unless training). */
rnf_status rnf_query(const rnf_desc *d, size_t *fwd_workspace, size_t *bwd_workspace,
                     size_t *tape);

/* The threads a call of this descriptor runs on, of the d->nthreads it asks
 * for: fewer where its steps are split by hidden units and too small to pay
 * for a barrier each (RNNFAST_EXACT_THREADS=1 keeps them all). rnf_query
 * sizes the workspace for them. 0 for a bad descriptor. */
int rnf_call_threads(const rnf_desc *d);

/* Forward through all steps. tape may be NULL when !d->training. */
rnf_status rnf_forward(const rnf_desc *d, const rnf_fwd_args *a, void *workspace,
                       size_t workspace_bytes, void *tape, size_t tape_bytes);

/* Backward through time, reading the tape a training forward of the same
 * descriptor wrote. Every output is overwritten (never accumulated into). */
rnf_status rnf_backward(const rnf_desc *d, const rnf_bwd_args *a, void *workspace,
                        size_t workspace_bytes, const void *tape, size_t tape_bytes);

/*
 * Jordan network: the output, not the hidden state, is fed back.
 *     h_t = act_h(W x_t + U y_{t-1} + b_h),   y_t = act_o(V h_t + b_o)
 * Letters as above, plus O output units. Sequences run forward only; a row
 * of length L runs steps t < L, and its final output is y_{L-1} (y0 if L = 0).
 */
typedef struct {
    int dtype;               /* rnf_dtype */
    int64_t steps, batch;    /* T, B */
    int64_t input_size;      /* I */
    int64_t hidden_size;     /* H */
    int64_t output_size;     /* O */
    int act_h, act_o;        /* rnf_act of the hidden and the output layer */
    int training;            /* forward writes the tape that backward reads */
    int nthreads;            /* in [1, RNF_MAX_THREADS] */
} rnf_jordan_desc;

typedef struct {
    const void *x;              /* [T, B, I] */
    const void *w_ih;           /* W [H, I] */
    const void *w_yh;           /* U [H, O] */
    const void *b_h;            /* [H] or NULL (zero) */
    const void *w_ho;           /* V [O, H] */
    const void *b_o;            /* [O] or NULL (zero) */
    const void *y0;             /* [B, O] or NULL (zero) */
    const int64_t *seq_lengths; /* [B] in [0, T], or NULL (all T) */
    void *y;                    /* out [T, B, O]; 0 at padded steps */
    void *y_n;                  /* out [B, O]: each row's last output */
} rnf_jordan_fwd_args;

typedef struct {
    const void *x;              /* [T, B, I], the forward input */
    const void *w_ih;           /* [H, I] */
    const void *w_yh;           /* [H, O] */
    const void *w_ho;           /* [O, H] */
    const int64_t *seq_lengths; /* [B] or NULL, as in forward */
    const void *dy;             /* [T, B, O] or NULL (zero) */
    const void *dy_n;           /* [B, O] or NULL (zero) */
    void *dx;                   /* out [T, B, I] */
    void *dw_ih;                /* out [H, I] */
    void *dw_yh;                /* out [H, O] */
    void *db_h;                 /* out [H] */
    void *dw_ho;                /* out [O, H] */
    void *db_o;                 /* out [O] */
    void *dy0;                  /* out [B, O] */
} rnf_jordan_bwd_args;

rnf_status rnf_jordan_query(const rnf_jordan_desc *d, size_t *fwd_workspace,
                            size_t *bwd_workspace, size_t *tape);
rnf_status rnf_jordan_forward(const rnf_jordan_desc *d, const rnf_jordan_fwd_args *a,
                              void *workspace, size_t workspace_bytes, void *tape,
                              size_t tape_bytes);
rnf_status rnf_jordan_backward(const rnf_jordan_desc *d, const rnf_jordan_bwd_args *a,
                               void *workspace, size_t workspace_bytes, const void *tape,
                               size_t tape_bytes);

/*
 * Weights packed once for many calls (layers keep them while the weights stay
 * the same). rnf_pack_query gives the bytes; rnf_pack fills them from w_ih
 * and w_hh for the descriptor's cell, dtype, I and H, on the kernel path in
 * use, for forward (and backward too when desc.training). The result does
 * not depend on nthreads. Calls with desc.packed = 1 read it from
 * args.packed instead of packing, and return RNF_ERR_PACKED if it was made
 * for other sizes, another cell or dtype, or another kernel path.
 */
rnf_status rnf_pack_query(const rnf_desc *d, size_t *bytes);
rnf_status rnf_pack(const rnf_desc *d, const void *w_ih, const void *w_hh, void *packed,
                    size_t bytes);

/* Run-time configuration. */
const char *rnf_arch_name(void);      /* kernel path in use: "avx512", "avx2", "baseline" */
int rnf_set_arch(const char *name);   /* 0 ok, -1 unknown, -2 not supported by this CPU */
int rnf_arch_supported(const char *name);
int rnf_openmp_enabled(void);         /* 1 if built with OpenMP */
int rnf_max_threads(void);            /* omp_get_max_threads(), or 1 */
int rnf_cpus(void);                   /* CPUs the process may run on, counted once: no call
                                         runs on more threads (rnf_call_threads) */
int64_t rnf_l2_bytes(void);           /* one core's L2 cache, as the C library reports it
                                         (1 MiB where it does not), read once */
const char *rnf_build_flags(void);    /* C flags the library was compiled with */
/* GFLOP/s of the active path's register-only multiply-add loop (no memory
 * traffic) on min(nthreads, rnf_cpus()) threads at once for about seconds
 * (at most 60): the most any product could reach. -1 for bad arguments. */
double rnf_peak_gflops(int dtype, int nthreads, double seconds);
/* 1 if the n bytes at a and b are equal (memcmp); from twice
 * RNF_SAME_BYTES_SPLIT bytes on, compared in parts on up to nthreads threads,
 * each with at least RNF_SAME_BYTES_SPLIT bytes. */
#define RNF_SAME_BYTES_SPLIT (128 * 1024)
int rnf_same_bytes(const void *a, const void *b, size_t n, int nthreads);
/* Of count pairs (at most RNF_DIFFERING_MAX; more: every bit set, nothing
 * read), bit i set where the n[i] bytes at a[i] and b[i] differ; all pairs in
 * one team of up to nthreads threads, as rnf_same_bytes splits its bytes. */
#define RNF_DIFFERING_MAX 64
uint64_t rnf_differing_bytes(int count, const void *const *a, const void *const *b,
                             const size_t *n, int nthreads);

#ifdef __cplusplus
}
#endif
#endif /* RNNFAST_H */
