# cython: language_level=3
"""Thin wrappers over the C kernels (csrc/include/rnnfast.h).

The public modules validate arguments and hand over C-contiguous arrays of
the call's dtype; these functions re-check what the C code relies on (so a
direct call cannot crash the process), allocate outputs, workspace and tape
with NumPy, release the GIL around the C call and map status codes to
exceptions.
"""
import threading

import numpy as np

from rnnfast import _tapes

cimport numpy as cnp
from libc.stdint cimport int64_t, uint64_t

from rnnfast._capi cimport *

cnp.import_array()

CELL_CODES = {"lstm": 0, "gru": 1, "rnn": 2}
GATES = {"lstm": 4, "gru": 3, "rnn": 1}
MAX_THREADS = RNF_MAX_THREADS
SAME_BYTES_SPLIT = RNF_SAME_BYTES_SPLIT  # a compare thread's least share; stale() asks from twice it
STALE_MAX = RNF_DIFFERING_MAX  # pairs one stale() call takes
ACT_CODES = {"sigmoid": 0, "hard_sigmoid": 1, "tanh": 2, "relu": 3, "identity": 4}


cdef const void *_ptr(object a):
    if a is None:
        return NULL
    return cnp.PyArray_DATA(<cnp.ndarray>a)


# The dtypes the kernels take, as NumPy's (singleton) descriptors: an array
# whose descriptor is one of these, and is the one wanted, needs no slower test.
cdef object _F32 = np.dtype(np.float32), _F64 = np.dtype(np.float64)
cdef object _I64 = np.dtype(np.int64), _U8 = np.dtype(np.uint8)
cdef tuple _NATIVE = (_F32, _F64, _I64, _U8)


cdef int _need(object a, str name, tuple shape, object dtype, bint optional=False) except -1:
    """Internal contract check: exact dtype, shape and C order."""
    if a is None:
        if optional:
            return 0
        raise ValueError(f"{name}: required")
    if not isinstance(a, cnp.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(a).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>a
    cdef object descr = <object>cnp.PyArray_DESCR(arr)
    if not (descr is dtype and descr in _NATIVE):
        if descr != dtype or not descr.isnative:
            raise TypeError(f"{name}: expected dtype {np.dtype(dtype)}, got {descr}")
    cdef int ndim = cnp.PyArray_NDIM(arr), k
    cdef bint same = ndim == len(shape)
    if same:
        for k in range(ndim):
            if cnp.PyArray_DIMS(arr)[k] != <cnp.npy_intp>shape[k]:
                same = False
                break
    if not same:
        raise ValueError(f"{name}: expected shape {shape}, got {a.shape}")
    if not (cnp.PyArray_IS_C_CONTIGUOUS(arr) and cnp.PyArray_ISALIGNED(arr)):
        raise ValueError(f"{name}: expected an aligned C-contiguous array")
    return 0


cdef tuple _dims(object a, str name, int ndim):
    """The shape of a, which must be an ndarray of ndim dimensions (read
    before the full check, which needs the sizes)."""
    if not isinstance(a, cnp.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(a).__name__}")
    if cnp.PyArray_NDIM(<cnp.ndarray>a) != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {a.shape}")
    return a.shape


cdef tuple _sequence_sizes(str cell, x, w_ih, w_hh, peephole, seq_lengths, packed):
    """(T, B, I, H, G*H) of a sequence call, after checking the arrays that
    forward and backward share."""
    T, B, I = _dims(x, "x", 3)
    H = _dims(w_hh, "w_hh", 2)[1]
    GH = GATES.get(cell, 0) * H
    dtype = x.dtype
    _need(x, "x", (T, B, I), dtype)
    _need(w_ih, "w_ih", (GH, I), dtype)
    _need(w_hh, "w_hh", (GH, H), dtype)
    _need(peephole, "peephole", (3, H), dtype, True)
    _need(seq_lengths, "seq_lengths", (B,), _I64, True)
    _need(packed, "packed", (_nbytes(packed),), _U8, True)
    return T, B, I, H, GH


cdef tuple _jordan_sizes(x, w_ih, w_yh, w_ho, seq_lengths):
    """(T, B, I, H, O) of a Jordan call, after checking the arrays that
    forward and backward share."""
    T, B, I = _dims(x, "x", 3)
    H, O = _dims(w_ih, "w_ih", 2)[0], _dims(w_ho, "w_ho", 2)[0]
    dtype = x.dtype
    _need(x, "x", (T, B, I), dtype)
    _need(w_ih, "w_ih", (H, I), dtype)
    _need(w_yh, "w_yh", (H, O), dtype)
    _need(w_ho, "w_ho", (O, H), dtype)
    _need(seq_lengths, "seq_lengths", (B,), _I64, True)
    return T, B, I, H, O


cdef size_t _nbytes(object packed):
    """Size of a packed-weights buffer (0 for None); _need checks it is one."""
    return getattr(packed, "nbytes", 0) if packed is not None else 0


cdef int _dtype_code(dtype) except -1:
    """0 for float32, 1 for float64; anything else is refused before C sees it."""
    if dtype is _F32:
        return 0
    if dtype is _F64:
        return 1
    dt = np.dtype(dtype)
    if dt == np.float32 and dt.isnative:
        return 0
    if dt == np.float64 and dt.isnative:
        return 1
    raise TypeError(f"dtype: expected float32 or float64, got {dt}")


cdef int _fill_desc(rnf_desc *d, str cell, dtype, int64_t T, int64_t B, int64_t I, int64_t H,
                    bint reverse, bint peephole, bint lbr, bint training, double clip,
                    tuple acts, int nthreads, bint packed=False) except -1:
    if cell not in CELL_CODES:
        raise ValueError(f"cell: expected one of {sorted(CELL_CODES)}, got {cell!r}")
    if not 1 <= nthreads <= MAX_THREADS:
        raise ValueError(f"nthreads: expected 1 to {MAX_THREADS}, got {nthreads}")
    if len(acts) != 3:
        raise ValueError(f"acts: expected 3 activation codes, got {len(acts)}")
    d.cell = CELL_CODES[cell]
    d.dtype = _dtype_code(dtype)
    d.steps, d.batch, d.input_size, d.hidden_size = T, B, I, H
    d.reverse, d.peephole, d.linear_before_reset, d.training = reverse, peephole, lbr, training
    d.clip = clip
    for k in range(3):
        d.act[k] = acts[k]
    d.nthreads = nthreads
    d.packed = packed
    return 0


cdef _raise_status(rnf_status st, str where):
    if st == RNF_OK:
        return
    if st == RNF_ERR_OVERFLOW:
        raise MemoryError(f"{where}: the buffers for these sizes do not fit in memory")
    if st == RNF_ERR_LENGTHS:
        raise ValueError(f"{where}: seq_lengths entries must lie in [0, T]")
    if st == RNF_ERR_DESC:
        raise ValueError(f"{where}: invalid sizes or options")
    if st == RNF_ERR_PACKED:
        raise ValueError(f"{where}: the packed weights were made for another problem or "
                         "kernel path")
    raise RuntimeError(f"{where}: internal error (status {int(st)})")


def buffer_sizes(str cell, dtype, int64_t T, int64_t B, int64_t I, int64_t H, *,
                 bint peephole=False, bint lbr=True, bint training=False):
    """Bytes of (forward workspace, backward workspace, tape) for a call."""
    cdef rnf_desc d
    cdef size_t fw = 0, bw = 0, tp = 0
    _fill_desc(&d, cell, dtype, T, B, I, H, False, peephole, lbr, training, 0.0, (0, 2, 2), 1)
    _raise_status(rnf_query(&d, &fw, &bw, &tp), "sizes")
    return int(fw), int(bw), int(tp)


def call_threads(str cell, dtype, int64_t T, int64_t B, int64_t I, int64_t H, *,
                 int nthreads, bint peephole=False, bint training=False):
    """The threads a call runs on, of the nthreads it asks for
    (rnf_call_threads: fewer where a step split by hidden units is too small
    to pay for its barrier)."""
    cdef rnf_desc d
    _fill_desc(&d, cell, dtype, T, B, I, H, False, peephole, True, training, 0.0, (0, 2, 2),
               nthreads)
    cdef int n = rnf_call_threads(&d)
    if n < 1:
        raise ValueError(f"call_threads: no such call ({cell}, T={T}, B={B}, I={I}, H={H})")
    return n


def _alloc_bytes(size_t n, str what):
    try:
        return np.empty(n, dtype=np.uint8)
    except (MemoryError, ValueError) as e:
        raise MemoryError(f"cannot allocate {n} bytes of {what}") from e


# Workspace is scratch that only lives for one C call, which never reads what
# it did not write in that call. Reusing one buffer per Python thread saves the
# kernel's zeroing of fresh pages, which lands inside the time loop: about a
# tenth of a training step at large sizes (LSTM T50 B512 H1024, 479 MB of
# backward workspace: 3.7 s -> 3.1 s per backward), a third or more on some
# hosts. Buffers above WORKSPACE_CACHE_MAX (the tape pool's limit too) are
# not kept.
WORKSPACE_CACHE_MAX = 1 << 30
_cache = threading.local()


def _workspace(size_t n):
    buf = getattr(_cache, "ws", None)
    if buf is not None and buf.nbytes >= n:
        return buf
    buf = _alloc_bytes(n, "workspace")
    if n <= WORKSPACE_CACHE_MAX:
        _cache.ws = buf
    return buf


def release_workspace():
    """Drop this thread's cached workspace and idle tape buffers."""
    _cache.ws = None
    _tapes.release()


def forward(str cell, x, w_ih, w_hh, b_ih, b_hh, h0, c0, peephole, seq_lengths, *,
            bint reverse, double clip, tuple acts, bint lbr, bint training, int nthreads,
            packed=None, verify=None):
    """Run a sequence forward. Returns (y, h_n, c_n or None, tape or None,
    stale). packed: pack()'s buffer for these weights, or None to pack in the
    call. verify: None, or (snaps, lives) as stale() takes them, compared
    while the call runs (rnf_fwd_args.verify); stale has bit i set where
    stale() would, and is 0 without verify."""
    cdef int64_t T, B, I, H, GH
    T, B, I, H, GH = _sequence_sizes(cell, x, w_ih, w_hh, peephole, seq_lengths, packed)
    dtype = x.dtype
    cdef bint lstm = cell == "lstm"
    _need(b_ih, "b_ih", (GH,), dtype, True)
    _need(b_hh, "b_hh", (GH,), dtype, True)
    _need(h0, "h0", (B, H), dtype, True)
    _need(c0, "c0", (B, H), dtype, True)

    cdef rnf_desc d
    _fill_desc(&d, cell, dtype, T, B, I, H, reverse, peephole is not None, lbr, training,
               clip, acts, nthreads, packed is not None)
    cdef size_t fw = 0, bw = 0, tb = 0
    _raise_status(rnf_query(&d, &fw, &bw, &tb), "forward")
    ws = _workspace(fw)
    tape = _tapes.take(tb) if training else None
    y = _tapes.array((T, B, H), dtype) if training else np.empty((T, B, H), dtype=dtype)
    h_n = np.empty((B, H), dtype=dtype)
    c_n = np.empty((B, H), dtype=dtype) if lstm else None

    cdef rnf_fwd_args a
    a.x, a.w_ih, a.w_hh = _ptr(x), _ptr(w_ih), _ptr(w_hh)
    a.b_ih, a.b_hh, a.h0, a.c0 = _ptr(b_ih), _ptr(b_hh), _ptr(h0), _ptr(c0)
    a.peephole, a.seq_lengths = _ptr(peephole), <const int64_t *>_ptr(seq_lengths)
    a.y, a.h_n, a.c_n = <void *>_ptr(y), <void *>_ptr(h_n), <void *>_ptr(c_n)
    a.packed, a.packed_bytes = _ptr(packed), _nbytes(packed)
    cdef _Pairs p
    cdef uint64_t mask = 0, differ = 0
    a.verify_count, a.verify_differ = 0, NULL
    a.verify_a = a.verify_b = NULL
    a.verify_bytes = NULL
    if verify is not None:
        mask = _pairs(&p, verify[0], verify[1], "verify")
        a.verify_count, a.verify_a, a.verify_b, a.verify_bytes = p.m, p.pa, p.pb, p.nb
        a.verify_differ = &differ
    cdef void *wsp = <void *>_ptr(ws)
    cdef void *tpp = <void *>_ptr(tape)
    cdef rnf_status st
    with nogil:
        st = rnf_forward(&d, &a, wsp, fw, tpp, tb)
    _raise_status(st, "forward")
    if verify is not None:
        mask |= _entries(&p, differ)
    return y, h_n, c_n, tape, mask


def backward(str cell, x, w_ih, w_hh, peephole, seq_lengths, dy, dh_n, dc_n, tape, *,
             bint reverse, double clip, tuple acts, bint lbr, int nthreads, packed=None):
    """Backward through time from a training forward's tape.

    Returns (dx, dw_ih, dw_hh, db_ih, db_hh, dh0, dc0 or None, dpeephole or None).
    """
    cdef int64_t T, B, I, H, GH
    T, B, I, H, GH = _sequence_sizes(cell, x, w_ih, w_hh, peephole, seq_lengths, packed)
    dtype = x.dtype
    cdef bint lstm = cell == "lstm"
    _need(dy, "dy", (T, B, H), dtype, True)
    _need(dh_n, "dh_n", (B, H), dtype, True)
    _need(dc_n, "dc_n", (B, H), dtype, True)

    cdef rnf_desc d
    _fill_desc(&d, cell, dtype, T, B, I, H, reverse, peephole is not None, lbr, True, clip,
               acts, nthreads, packed is not None)
    cdef size_t fw = 0, bw = 0, tb = 0
    _raise_status(rnf_query(&d, &fw, &bw, &tb), "backward")
    _need(tape, "tape", (tb,), _U8)
    ws = _workspace(bw)
    dx = _tapes.array((T, B, I), dtype)
    dw_ih = _tapes.array((GH, I), dtype)
    dw_hh = _tapes.array((GH, H), dtype)
    db_ih = np.empty((GH,), dtype=dtype)
    db_hh = np.empty((GH,), dtype=dtype)
    dh0 = np.empty((B, H), dtype=dtype)
    dc0 = np.empty((B, H), dtype=dtype) if lstm else None
    dpeep = np.empty((3, H), dtype=dtype) if peephole is not None else None

    cdef rnf_bwd_args a
    a.x, a.w_ih, a.w_hh, a.peephole = _ptr(x), _ptr(w_ih), _ptr(w_hh), _ptr(peephole)
    a.seq_lengths = <const int64_t *>_ptr(seq_lengths)
    a.dy, a.dh_n, a.dc_n = _ptr(dy), _ptr(dh_n), _ptr(dc_n)
    a.dx, a.dw_ih, a.dw_hh = <void *>_ptr(dx), <void *>_ptr(dw_ih), <void *>_ptr(dw_hh)
    a.db_ih, a.db_hh = <void *>_ptr(db_ih), <void *>_ptr(db_hh)
    a.dh0, a.dc0, a.dpeephole = <void *>_ptr(dh0), <void *>_ptr(dc0), <void *>_ptr(dpeep)
    a.packed, a.packed_bytes = _ptr(packed), _nbytes(packed)
    cdef void *wsp = <void *>_ptr(ws)
    cdef const void *tpp = _ptr(tape)
    cdef rnf_status st
    with nogil:
        st = rnf_backward(&d, &a, wsp, bw, tpp, tb)
    _raise_status(st, "backward")
    return dx, dw_ih, dw_hh, db_ih, db_hh, dh0, dc0, dpeep


def pack(str cell, w_ih, w_hh, *, bint training, int nthreads):
    """Pack w_ih (G*H, I) and w_hh (G*H, H) once for many calls on the kernel
    path in use (for backward too when training). Returns the buffer that
    forward(..., packed=) and backward(..., packed=) take."""
    cdef int64_t H = _dims(w_hh, "w_hh", 2)[1]
    cdef int64_t I = _dims(w_ih, "w_ih", 2)[1]
    cdef int64_t GH = GATES.get(cell, 0) * H
    dtype = w_hh.dtype
    _need(w_ih, "w_ih", (GH, I), dtype)
    _need(w_hh, "w_hh", (GH, H), dtype)
    cdef rnf_desc d
    _fill_desc(&d, cell, dtype, 0, 0, I, H, False, False, True, training, 0.0, (0, 2, 2),
               nthreads)
    cdef size_t n = 0
    _raise_status(rnf_pack_query(&d, &n), "pack")
    buf = _alloc_bytes(n, "packed weights")
    cdef const void *wi = _ptr(w_ih)
    cdef const void *wh = _ptr(w_hh)
    cdef void *bp = <void *>_ptr(buf)
    cdef rnf_status st
    with nogil:
        st = rnf_pack(&d, wi, wh, bp, n)
    _raise_status(st, "pack")
    return buf


cdef int _jordan_desc(rnf_jordan_desc *d, dtype, int64_t T, int64_t B, int64_t I, int64_t H,
                      int64_t O, int act_h, int act_o, bint training, int nthreads) except -1:
    if not 1 <= nthreads <= MAX_THREADS:
        raise ValueError(f"nthreads: expected 1 to {MAX_THREADS}, got {nthreads}")
    d.dtype = _dtype_code(dtype)
    d.steps, d.batch, d.input_size, d.hidden_size, d.output_size = T, B, I, H, O
    d.act_h, d.act_o, d.training, d.nthreads = act_h, act_o, training, nthreads
    return 0


def jordan_forward(x, w_ih, w_yh, b_h, w_ho, b_o, y0, seq_lengths, *, int act_h, int act_o,
                   bint training, int nthreads):
    """Jordan network forward. Returns (y, y_n, tape or None)."""
    cdef int64_t T, B, I, H, O
    T, B, I, H, O = _jordan_sizes(x, w_ih, w_yh, w_ho, seq_lengths)
    dtype = x.dtype
    _need(b_h, "b_h", (H,), dtype, True)
    _need(b_o, "b_o", (O,), dtype, True)
    _need(y0, "y0", (B, O), dtype, True)
    cdef rnf_jordan_desc d
    _jordan_desc(&d, dtype, T, B, I, H, O, act_h, act_o, training, nthreads)
    cdef size_t fw = 0, bw = 0, tb = 0
    _raise_status(rnf_jordan_query(&d, &fw, &bw, &tb), "forward")
    ws = _workspace(fw)
    tape = _tapes.take(tb) if training else None
    y = _tapes.array((T, B, O), dtype) if training else np.empty((T, B, O), dtype=dtype)
    y_n = np.empty((B, O), dtype=dtype)
    cdef rnf_jordan_fwd_args a
    a.x, a.w_ih, a.w_yh, a.b_h = _ptr(x), _ptr(w_ih), _ptr(w_yh), _ptr(b_h)
    a.w_ho, a.b_o, a.y0 = _ptr(w_ho), _ptr(b_o), _ptr(y0)
    a.seq_lengths = <const int64_t *>_ptr(seq_lengths)
    a.y, a.y_n = <void *>_ptr(y), <void *>_ptr(y_n)
    cdef void *wsp = <void *>_ptr(ws)
    cdef void *tpp = <void *>_ptr(tape)
    cdef rnf_status st
    with nogil:
        st = rnf_jordan_forward(&d, &a, wsp, fw, tpp, tb)
    _raise_status(st, "forward")
    return y, y_n, tape


def jordan_backward(x, w_ih, w_yh, w_ho, seq_lengths, dy, dy_n, tape, *, int act_h,
                    int act_o, int nthreads):
    """Jordan network backward. Returns (dx, dw_ih, dw_yh, db_h, dw_ho, db_o, dy0)."""
    cdef int64_t T, B, I, H, O
    T, B, I, H, O = _jordan_sizes(x, w_ih, w_yh, w_ho, seq_lengths)
    dtype = x.dtype
    _need(dy, "dy", (T, B, O), dtype, True)
    _need(dy_n, "dy_n", (B, O), dtype, True)
    cdef rnf_jordan_desc d
    _jordan_desc(&d, dtype, T, B, I, H, O, act_h, act_o, True, nthreads)
    cdef size_t fw = 0, bw = 0, tb = 0
    _raise_status(rnf_jordan_query(&d, &fw, &bw, &tb), "backward")
    _need(tape, "tape", (tb,), _U8)
    ws = _workspace(bw)
    dx = _tapes.array((T, B, I), dtype)
    dw_ih = _tapes.array((H, I), dtype)
    dw_yh = _tapes.array((H, O), dtype)
    db_h = np.empty((H,), dtype=dtype)
    dw_ho = _tapes.array((O, H), dtype)
    db_o = np.empty((O,), dtype=dtype)
    dy0 = np.empty((B, O), dtype=dtype)
    cdef rnf_jordan_bwd_args a
    a.x, a.w_ih, a.w_yh, a.w_ho = _ptr(x), _ptr(w_ih), _ptr(w_yh), _ptr(w_ho)
    a.seq_lengths = <const int64_t *>_ptr(seq_lengths)
    a.dy, a.dy_n = _ptr(dy), _ptr(dy_n)
    a.dx, a.dw_ih = <void *>_ptr(dx), <void *>_ptr(dw_ih)
    a.dw_yh, a.db_h = <void *>_ptr(dw_yh), <void *>_ptr(db_h)
    a.dw_ho, a.db_o, a.dy0 = <void *>_ptr(dw_ho), <void *>_ptr(db_o), <void *>_ptr(dy0)
    cdef void *wsp = <void *>_ptr(ws)
    cdef const void *tpp = _ptr(tape)
    cdef rnf_status st
    with nogil:
        st = rnf_jordan_backward(&d, &a, wsp, bw, tpp, tb)
    _raise_status(st, "backward")
    return dx, dw_ih, dw_yh, db_h, dw_ho, db_o, dy0


def arch_name():
    """Name of the kernel path in use (baseline, avx2, avx512)."""
    return rnf_arch_name().decode()


def arch_supported(str name):
    """True if this CPU can run the named kernel path."""
    return bool(rnf_arch_supported(name.encode()))


def set_arch(str name):
    """Force a kernel path (for tests and comparisons)."""
    cdef int r = rnf_set_arch(name.encode())
    if r == -1:
        raise ValueError(f"arch: unknown kernel path {name!r}")
    if r == -2:
        raise ValueError(f"arch: this CPU cannot run the {name!r} kernels")


def openmp_enabled():
    return bool(rnf_openmp_enabled())


def max_threads():
    return int(rnf_max_threads())


def cpus():
    """The CPUs the process may run on, as OpenMP counted them at the first
    ask: no call runs on more threads."""
    return int(rnf_cpus())


def l2_bytes():
    """One core's L2 cache in bytes, as the C library reports it (1 MiB
    where it does not): the kernels choose some splits and blockings by it."""
    return int(rnf_l2_bytes())


def build_flags():
    return rnf_build_flags().decode()


def peak_gflops(dtype, int nthreads, double seconds=0.2):
    """GFLOP/s of the active kernel path's register-only multiply-add loop
    on min(nthreads, cpus()) threads at once, for about `seconds`: the most
    any product could reach on this CPU, with no memory traffic at all."""
    cdef int code = _dtype_code(dtype)
    if not 1 <= nthreads <= MAX_THREADS:
        raise ValueError(f"nthreads: expected 1 to {MAX_THREADS}, got {nthreads}")
    if not 0 < seconds <= 60:
        raise ValueError(f"seconds: expected a number in (0, 60], got {seconds}")
    cdef double g
    with nogil:
        g = rnf_peak_gflops(code, nthreads, seconds)
    return g


cdef struct _Pairs:
    # the pairs of a snapshot list and a live list that a C compare reads:
    # m pairs (pa[k], pb[k], nb[k] bytes) of the lists' entries idx[k]
    const void *pa[RNF_DIFFERING_MAX]
    const void *pb[RNF_DIFFERING_MAX]
    size_t nb[RNF_DIFFERING_MAX]
    int idx[RNF_DIFFERING_MAX]
    int m
    size_t total


cdef uint64_t _pairs(_Pairs *p, snaps, lives, str fname) except? 0xFFFFFFFFFFFFFFFF:
    """Fill p with the pairs whose bytes are to be compared; returns the
    bits of those stale already: no snapshot, or another dtype or shape."""
    cdef Py_ssize_t count = len(lives), i, k
    if len(snaps) != count or count > RNF_DIFFERING_MAX:
        raise ValueError(f"{fname}: expected as many snapshots as arrays, at most "
                         f"{RNF_DIFFERING_MAX}, got {len(snaps)} and {count}")
    cdef uint64_t mask = 0
    cdef cnp.ndarray s, v
    p.m, p.total = 0, 0
    for i in range(count):
        v = <cnp.ndarray?>lives[i]
        if not cnp.PyArray_IS_C_CONTIGUOUS(v):
            raise ValueError(f"{fname}: expected C-contiguous arrays")
        o = snaps[i]
        if o is None:
            mask |= (<uint64_t>1) << i
            continue
        s = <cnp.ndarray?>o
        if not cnp.PyArray_IS_C_CONTIGUOUS(s):
            raise ValueError(f"{fname}: expected C-contiguous snapshots")
        same = cnp.PyArray_NDIM(s) == cnp.PyArray_NDIM(v) and (
            <object>cnp.PyArray_DESCR(s) is <object>cnp.PyArray_DESCR(v)
            or <object>cnp.PyArray_DESCR(s) == <object>cnp.PyArray_DESCR(v))
        if same:
            for k in range(cnp.PyArray_NDIM(v)):
                if cnp.PyArray_DIMS(s)[k] != cnp.PyArray_DIMS(v)[k]:
                    same = False
                    break
        if not same:
            mask |= (<uint64_t>1) << i
            continue
        p.pa[p.m], p.pb[p.m] = cnp.PyArray_DATA(s), cnp.PyArray_DATA(v)
        p.nb[p.m], p.idx[p.m] = <size_t>cnp.PyArray_NBYTES(v), <int>i
        p.total += p.nb[p.m]
        p.m += 1
    return mask


cdef uint64_t _entries(const _Pairs *p, uint64_t differ):
    """The C compare's bits (one per pair) as bits of the lists' entries."""
    cdef uint64_t mask = 0
    cdef int k
    for k in range(p.m):
        if differ >> k & 1:
            mask |= (<uint64_t>1) << p.idx[k]
    return mask


def stale(snaps, lives, threads):
    """Bit i set where snaps[i] no longer matches lives[i]: it is None, or
    its dtype or shape differs, or its bytes do. lives: C-contiguous arrays,
    at most STALE_MAX, each with its snapshot (a C-contiguous array) or None.
    All pairs are compared in one C call without the GIL; threads() gives the
    threads to split them between, and is asked only where the bytes in all
    reach twice SAME_BYTES_SPLIT, where a team starts (rnf_memory_team: a
    thread for each SAME_BYTES_SPLIT bytes; a smaller compare runs on the
    calling thread)."""
    cdef _Pairs p
    cdef uint64_t mask = _pairs(&p, snaps, lives, "stale"), d
    cdef int nth = threads() if p.total >= 2 * RNF_SAME_BYTES_SPLIT else 1
    with nogil:
        d = rnf_differing_bytes(p.m, p.pa, p.pb, p.nb, nth)
    return mask | _entries(&p, d)
