"""The implementations the benchmarks compare, each as a callable built once
per problem so only the call is timed: rnnfast, a hand-written NumPy loop
(one BLAS matmul per step), and PyTorch and ONNX Runtime when installed."""
from __future__ import annotations

from typing import Callable, Dict, Optional

import numpy as np

import rnnfast

GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def problem(cell: str, T: int, B: int, I: int, H: int, dtype=np.float32, seed=0) -> Dict:
    rng = np.random.default_rng(seed)
    G, s = GATES[cell], 1 / np.sqrt(H)
    u = lambda *shape: rng.uniform(-s, s, shape).astype(dtype)  # noqa: E731
    return dict(cell=cell, x=rng.standard_normal((T, B, I)).astype(dtype),
                w_ih=u(G * H, I), w_hh=u(G * H, H), b_ih=u(G * H), b_hh=u(G * H),
                dy=rng.standard_normal((T, B, H)).astype(dtype))


def flops(cell: str, T: int, B: int, I: int, H: int, training: bool = False) -> float:
    """Matrix-product flops: 2 T B G H (I + H) forward, three times that for training."""
    f = 2.0 * T * B * GATES[cell] * H * (I + H)
    return 3 * f if training else f


def rnnfast_fn(p: Dict, training: bool = False) -> Callable[[], object]:
    """An rnnfast layer holding the weights, as the peers' modules and
    sessions do (it keeps its packed weights between calls)."""
    cell, x = p["cell"], p["x"]
    H = p["w_hh"].shape[1]
    layer = {"lstm": rnnfast.LSTM, "gru": rnnfast.GRU, "rnn": rnnfast.RNN}[cell](
        x.shape[2], H, dtype=x.dtype)
    layer.load_state_dict({"weight_ih_l0": p["w_ih"], "weight_hh_l0": p["w_hh"],
                           "bias_ih_l0": p["b_ih"], "bias_hh_l0": p["b_hh"]})
    if training:
        def run():
            layer.zero_grad()
            y = layer(x)[0]
            layer.backward(p["dy"])
            return y
        return run
    layer.eval()
    return lambda: layer(x)[0]


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def numpy_fn(p: Dict, training: bool = False) -> Optional[Callable[[], object]]:
    """The loop a NumPy user writes by hand (forward only)."""
    if training:
        return None
    cell, x, W, U = p["cell"], p["x"], p["w_ih"], p["w_hh"]
    b_ih, b_hh = p["b_ih"], p["b_hh"]
    T, B, _ = x.shape
    H = U.shape[1]

    def run():
        xw = x @ W.T + b_ih
        h = np.zeros((B, H), x.dtype)
        c = np.zeros_like(h)
        y = np.empty((T, B, H), x.dtype)
        for t in range(T):
            if cell == "lstm":
                i, f, g, o = np.split(xw[t] + h @ U.T + b_hh, 4, axis=1)
                c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
                h = _sigmoid(o) * np.tanh(c)
            elif cell == "gru":
                xr, xz, xn = np.split(xw[t], 3, axis=1)
                hr, hz, hn = np.split(h @ U.T + b_hh, 3, axis=1)
                r, z = _sigmoid(xr + hr), _sigmoid(xz + hz)
                h = (1 - z) * np.tanh(xn + r * hn) + z * h
            else:
                h = np.tanh(xw[t] + h @ U.T + b_hh)
            y[t] = h
        return y
    return run


def torch_fn(p: Dict, training: bool = False) -> Optional[Callable[[], object]]:
    try:
        import torch
    except ImportError:
        return None
    cell, x = p["cell"], p["x"]
    H = p["w_hh"].shape[1]
    mod = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell](x.shape[2], H)
    mod = mod.to(torch.float64 if x.dtype == np.float64 else torch.float32)
    with torch.no_grad():
        for name, key in (("weight_ih_l0", "w_ih"), ("weight_hh_l0", "w_hh"),
                          ("bias_ih_l0", "b_ih"), ("bias_hh_l0", "b_hh")):
            getattr(mod, name).copy_(torch.from_numpy(p[key]))
    xt, dy = torch.from_numpy(x), torch.from_numpy(p["dy"])
    if training:
        xg = xt.clone().requires_grad_(True)

        def run():
            mod.zero_grad(set_to_none=True)
            y = mod(xg)[0]
            y.backward(dy)
            return y
        return run

    def run_inference():
        with torch.inference_mode():
            return mod(xt)[0]
    return run_inference


def ort_fn(p: Dict, training: bool = False) -> Optional[Callable[[], object]]:
    if training or p["cell"] == "rnn":
        return None
    try:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return None
    cell, x = p["cell"], p["x"]
    H = p["w_hh"].shape[1]
    o = getattr(rnnfast.convert, f"to_onnx_{cell}")(p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"])
    W, R, Bv = o["W"], o["R"], o["B"]
    ety = TensorProto.FLOAT if x.dtype == np.float32 else TensorProto.DOUBLE
    attrs = {"hidden_size": H}
    if cell == "gru":
        attrs["linear_before_reset"] = 1
    node = helper.make_node(cell.upper(), ["X", "W", "R", "B"], ["Y"], **attrs)
    graph = helper.make_graph(
        [node], "rnn", [helper.make_tensor_value_info("X", ety, list(x.shape))],
        [helper.make_tensor_value_info("Y", ety, None)],
        [numpy_helper.from_array(W, "W"), numpy_helper.from_array(R, "R"),
         numpy_helper.from_array(Bv, "B")])
    # IR 7, opset 14's own: an onnxruntime older than the onnx package
    # rejects the newer IR version that make_model writes by default
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)],
                              ir_version=7)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = rnnfast.get_num_threads()
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    try:  # ONNX Runtime lacks some kernels (GRU in float64): no peer then
        sess.run(None, {"X": x})
    except Exception:  # noqa: BLE001 -- onnxruntime raises its own exception types
        return None
    return lambda: sess.run(None, {"X": x})


PEERS = {"numpy": numpy_fn, "torch": torch_fn, "onnxruntime": ort_fn}
