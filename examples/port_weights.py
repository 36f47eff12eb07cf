"""Bring trained weights from PyTorch, ONNX or Keras, then infer with NumPy
and rnnfast alone, and check the results agree.

For each framework that is installed, a small recurrent model is built with
random weights, its weights are exported the framework's own way (a PyTorch
state_dict, an ONNX model's initialisers; Keras weights when TensorFlow is
there), the framework's output is recorded, and rnnfast reproduces it from the
weights alone. A plot overlays one hidden unit's trajectory from both.

    python examples/port_weights.py      # writes port_weights.png
"""
import numpy as np

import rnnfast
from _common import parse, pyplot


def from_pytorch(x):
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    net = torch.nn.LSTM(x.shape[2], 16, num_layers=2, bidirectional=True)
    with torch.no_grad():
        want = net(torch.from_numpy(x))[0].numpy()
    state = {k: v.numpy() for k, v in net.state_dict().items()}  # all rnnfast needs
    layer = rnnfast.LSTM(x.shape[2], 16, num_layers=2, bidirectional=True).eval()
    layer.load_state_dict(state)
    return "PyTorch nn.LSTM (2 layers, bidirectional)", want, layer(x)[0]


def from_onnx(x):
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return None
    rng = np.random.default_rng(1)
    H, I = 16, x.shape[2]
    W = rng.uniform(-0.3, 0.3, (1, 3 * H, I)).astype(np.float32)
    R = rng.uniform(-0.3, 0.3, (1, 3 * H, H)).astype(np.float32)
    B = rng.uniform(-0.3, 0.3, (1, 6 * H)).astype(np.float32)
    node = helper.make_node("GRU", ["X", "W", "R", "B"], ["Y"], hidden_size=H)
    graph = helper.make_graph(
        [node], "gru", [helper.make_tensor_value_info("X", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(a, n) for a, n in ((W, "W"), (R, "R"), (B, "B"))])
    # IR 7, opset 14's own: an onnxruntime older than the onnx package
    # rejects the newer IR version that make_model writes by default
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)],
                              ir_version=7)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = sess.run(None, {"X": x})[0][:, 0]  # Y [T, D, B, H]
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    w = rnnfast.convert.from_onnx_gru(inits["W"], inits["R"], inits["B"])  # ONNX default form
    return "ONNX GRU (onnxruntime)", want, rnnfast.gru(x, **w).y


def from_keras(x):
    try:
        import keras
    except ImportError:
        return None
    layer = keras.layers.LSTM(16, return_sequences=True)
    want = np.asarray(layer(np.swapaxes(x, 0, 1)))  # Keras is batch-major
    kernel, recurrent, bias = layer.get_weights()
    w = rnnfast.convert.from_keras_lstm(kernel, recurrent, bias)
    return "Keras LSTM", np.swapaxes(want, 0, 1), rnnfast.lstm(x, **w).y


def main(argv=None):
    args = parse(__doc__, argv)
    x = np.random.default_rng(0).standard_normal((30, 4, 8)).astype(np.float32)
    results = [r for r in (f(x) for f in (from_pytorch, from_onnx, from_keras)) if r]
    if not results:
        print("none of PyTorch, onnxruntime or Keras is installed: nothing to port")
        return []
    plt = pyplot()
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.5), squeeze=False)
    report = []
    for ax, (name, want, got) in zip(axes[0], results):
        err = float(np.max(np.abs(got - want)))
        scale = float(np.max(np.abs(want)))
        print(f"{name}: max |rnnfast - framework| = {err:.2e} (outputs up to {scale:.2f})")
        report.append((name, err, scale))
        ax.plot(want[:, 0, 0], "k-", lw=3, alpha=0.4, label="framework")
        ax.plot(got[:, 0, 0], "r--", label="rnnfast")
        ax.set(title=name, xlabel="step", ylabel="unit 0 of sequence 0")
        ax.legend()
    fig.tight_layout()
    fig.savefig(f"{args.out}/port_weights.png", dpi=100)
    return report


if __name__ == "__main__":
    main()
