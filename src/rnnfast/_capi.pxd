# cython: language_level=3
# Declarations of csrc/include/rnnfast.h (see there for every shape).
from libc.stdint cimport int64_t, uint64_t

cdef extern from "rnnfast.h" nogil:
    enum: RNF_MAX_THREADS
    enum: RNF_SAME_BYTES_SPLIT
    enum: RNF_DIFFERING_MAX

    ctypedef enum rnf_status:
        RNF_OK
        RNF_ERR_DESC
        RNF_ERR_OVERFLOW
        RNF_ERR_WORKSPACE
        RNF_ERR_TAPE
        RNF_ERR_NULL
        RNF_ERR_LENGTHS
        RNF_ERR_PACKED

    ctypedef struct rnf_desc:
        int cell
        int dtype
        int64_t steps, batch, input_size, hidden_size
        int reverse
        int peephole
        int linear_before_reset
        int training
        double clip
        int act[3]
        int nthreads
        int packed

    ctypedef struct rnf_fwd_args:
        const void *x
        const void *w_ih
        const void *w_hh
        const void *b_ih
        const void *b_hh
        const void *h0
        const void *c0
        const void *peephole
        const int64_t *seq_lengths
        void *y
        void *h_n
        void *c_n
        const void *packed
        size_t packed_bytes
        int verify_count
        const void *const *verify_a
        const void *const *verify_b
        const size_t *verify_bytes
        uint64_t *verify_differ

    ctypedef struct rnf_bwd_args:
        const void *x
        const void *w_ih
        const void *w_hh
        const void *peephole
        const int64_t *seq_lengths
        const void *dy
        const void *dh_n
        const void *dc_n
        void *dx
        void *dw_ih
        void *dw_hh
        void *db_ih
        void *db_hh
        void *dh0
        void *dc0
        void *dpeephole
        const void *packed
        size_t packed_bytes

    rnf_status rnf_query(const rnf_desc *d, size_t *fwd_workspace, size_t *bwd_workspace,
                         size_t *tape)
    int rnf_call_threads(const rnf_desc *d)
    rnf_status rnf_forward(const rnf_desc *d, const rnf_fwd_args *a, void *workspace,
                           size_t workspace_bytes, void *tape, size_t tape_bytes)
    rnf_status rnf_backward(const rnf_desc *d, const rnf_bwd_args *a, void *workspace,
                            size_t workspace_bytes, const void *tape, size_t tape_bytes)
    ctypedef struct rnf_jordan_desc:
        int dtype
        int64_t steps, batch, input_size, hidden_size, output_size
        int act_h, act_o
        int training
        int nthreads

    ctypedef struct rnf_jordan_fwd_args:
        const void *x
        const void *w_ih
        const void *w_yh
        const void *b_h
        const void *w_ho
        const void *b_o
        const void *y0
        const int64_t *seq_lengths
        void *y
        void *y_n

    ctypedef struct rnf_jordan_bwd_args:
        const void *x
        const void *w_ih
        const void *w_yh
        const void *w_ho
        const int64_t *seq_lengths
        const void *dy
        const void *dy_n
        void *dx
        void *dw_ih
        void *dw_yh
        void *db_h
        void *dw_ho
        void *db_o
        void *dy0

    rnf_status rnf_jordan_query(const rnf_jordan_desc *d, size_t *fwd_workspace,
                                size_t *bwd_workspace, size_t *tape)
    rnf_status rnf_jordan_forward(const rnf_jordan_desc *d, const rnf_jordan_fwd_args *a,
                                  void *workspace, size_t workspace_bytes, void *tape,
                                  size_t tape_bytes)
    rnf_status rnf_jordan_backward(const rnf_jordan_desc *d, const rnf_jordan_bwd_args *a,
                                   void *workspace, size_t workspace_bytes, const void *tape,
                                   size_t tape_bytes)
    rnf_status rnf_pack_query(const rnf_desc *d, size_t *bytes)
    rnf_status rnf_pack(const rnf_desc *d, const void *w_ih, const void *w_hh, void *packed,
                        size_t bytes)
    const char *rnf_arch_name()
    int rnf_set_arch(const char *name)
    int rnf_arch_supported(const char *name)
    int rnf_openmp_enabled()
    int rnf_max_threads()
    int rnf_cpus()
    int64_t rnf_l2_bytes()
    const char *rnf_build_flags()
    double rnf_peak_gflops(int dtype, int nthreads, double seconds) nogil
    uint64_t rnf_differing_bytes(int count, const void *const *a, const void *const *b,
                                 const size_t *n, int nthreads)
