"""Weight converters: round trips, Keras's equations, and ONNX nodes run by
onnxruntime and by ONNX's reference evaluator."""
import numpy as np
import pytest

import rnnfast
from rnnfast import convert

from conftest import assert_close, make_problem

sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731


def weights(cell, I=3, H=4, seed=0, peephole=False):
    p = make_problem(cell, 5, 2, I, H, seed=seed, peephole=peephole)
    keys = ["w_ih", "w_hh", "b_ih", "b_hh"] + (["peephole"] if peephole else [])
    return p["x"], {k: p[k] for k in keys}


# ------------------------------------------------------------------ Keras

def keras_lstm(x, kernel, recurrent_kernel, bias):
    """Keras's LSTM step equations, gates i, f, c, o."""
    T, B, _ = x.shape
    H = recurrent_kernel.shape[0]
    h, c, ys = np.zeros((B, H)), np.zeros((B, H)), []
    for t in range(T):
        z = x[t] @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = np.split(z, 4, axis=1)
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        ys.append(h)
    return np.stack(ys)


def keras_gru(x, kernel, recurrent_kernel, bias, reset_after):
    """Keras's GRU step equations, gates z, r, h; h = z * h_prev + (1 - z) * hh."""
    T, B, _ = x.shape
    H = recurrent_kernel.shape[0]
    h, ys = np.zeros((B, H)), []
    Uz, Ur, Uh = np.split(recurrent_kernel, 3, axis=1)
    for t in range(T):
        if reset_after:
            xz, xr, xh = np.split(x[t] @ kernel + bias[0], 3, axis=1)
            rz, rr, rh = np.split(h @ recurrent_kernel + bias[1], 3, axis=1)
            z, r = sig(xz + rz), sig(xr + rr)
            hh = np.tanh(xh + r * rh)
        else:
            xz, xr, xh = np.split(x[t] @ kernel + bias, 3, axis=1)
            z, r = sig(xz + h @ Uz), sig(xr + h @ Ur)
            hh = np.tanh(xh + (r * h) @ Uh)
        h = z * h + (1 - z) * hh
        ys.append(h)
    return np.stack(ys)


def test_keras_lstm_both_ways():
    x, w = weights("lstm")
    k = convert.to_keras_lstm(**w)
    assert k["kernel"].shape == (3, 16) and k["recurrent_kernel"].shape == (4, 16)
    assert_close(keras_lstm(x, **k), rnnfast.lstm(x, **w).y, 1e-12)
    back = convert.from_keras_lstm(**k)
    assert_close(rnnfast.lstm(x, **back).y, rnnfast.lstm(x, **w).y, 1e-12)
    for name, v in convert.to_keras_lstm(**back).items():
        np.testing.assert_array_equal(v, k[name])


@pytest.mark.parametrize("reset_after", [True, False])
def test_keras_gru_both_ways(reset_after):
    x, w = weights("gru")
    k = convert.to_keras_gru(**w, linear_before_reset=reset_after)
    assert k["reset_after"] is reset_after
    assert k["bias"].shape == ((2, 12) if reset_after else (12,))
    kw = {n: k[n] for n in ("kernel", "recurrent_kernel", "bias")}
    ours = rnnfast.gru(x, **w, linear_before_reset=reset_after).y
    assert_close(keras_gru(x, **kw, reset_after=reset_after), ours, 1e-12)
    back = convert.from_keras_gru(**kw, reset_after=reset_after)
    assert back["linear_before_reset"] is reset_after
    assert_close(rnnfast.gru(x, **back).y, ours, 1e-12)
    for name, v in convert.to_keras_gru(**{n: back[n] for n in
                                           ("w_ih", "w_hh", "b_ih", "b_hh")},
                                        linear_before_reset=reset_after).items():
        np.testing.assert_array_equal(v, k[name])


def test_keras_without_bias_and_errors():
    x, w = weights("lstm")
    k = convert.to_keras_lstm(w["w_ih"], w["w_hh"])
    assert not k["bias"].any()
    d = convert.from_keras_lstm(k["kernel"], k["recurrent_kernel"])
    assert d["b_ih"] is None and d["b_hh"] is None
    with pytest.raises(ValueError, match="peephole: Keras LSTM has no peephole"):
        convert.to_keras_lstm(**weights("lstm", peephole=True)[1])
    with pytest.raises(ValueError, match=r"recurrent_kernel: expected shape \(H, 4H\)"):
        convert.from_keras_lstm(k["kernel"], k["recurrent_kernel"][:, :8])
    with pytest.raises(ValueError, match=r"kernel: expected shape \(I, 4H\)"):
        convert.from_keras_lstm(k["kernel"][:, :15], k["recurrent_kernel"])
    kg = convert.to_keras_gru(**weights("gru")[1])
    with pytest.raises(ValueError, match=r"bias: expected a 1-D array of shape \(3H,\)"):
        convert.from_keras_gru(kg["kernel"], kg["recurrent_kernel"], kg["bias"],
                               reset_after=False)
    with pytest.raises(TypeError, match="recurrent_kernel has dtype float32"):
        convert.from_keras_lstm(k["kernel"], k["recurrent_kernel"].astype(np.float32))


def test_inputs_are_not_modified_and_results_are_fresh():
    _, w = weights("lstm", peephole=True)
    before = {k: v.copy() for k, v in w.items()}
    o = convert.to_onnx_lstm(**w)
    back = convert.from_onnx_lstm(**o)
    for k, v in w.items():
        np.testing.assert_array_equal(v, before[k])
        np.testing.assert_array_equal(back[k], v)
        assert not np.shares_memory(back[k], v)


# ------------------------------------------------------------------ ONNX

@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_onnx_round_trip_is_exact(cell):
    _, w = weights(cell, peephole=cell == "lstm")
    o = getattr(convert, f"to_onnx_{cell}")(**w)
    back = getattr(convert, f"from_onnx_{cell}")(**o)
    back.pop("linear_before_reset", None)
    assert back.keys() == w.keys()
    for k in w:
        np.testing.assert_array_equal(back[k], w[k])


def test_onnx_direction_and_errors():
    _, wf = weights("gru", seed=1)
    _, wr = weights("gru", seed=2)
    of, orv = convert.to_onnx_gru(**wf), convert.to_onnx_gru(**wr)
    both = {k: np.concatenate([of[k], orv[k]]) for k in of}
    np.testing.assert_array_equal(convert.from_onnx_gru(**both, direction=1)["w_hh"],
                                  wr["w_hh"])
    with pytest.raises(ValueError, match="direction: W holds 2 direction"):
        convert.from_onnx_gru(**both, direction=2)
    with pytest.raises(ValueError, match=r"R: expected shape \[D, 3\*H, H\]"):
        convert.from_onnx_gru(both["W"], both["R"][:1])
    with pytest.raises(ValueError, match=r"W: expected a 3-D array"):
        convert.from_onnx_rnn(both["W"][0], both["R"])


def onnx_model(op, W, R, B, P=None, direction="forward", **attrs):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    ety = TensorProto.FLOAT if W.dtype == np.float32 else TensorProto.DOUBLE
    inits = [numpy_helper.from_array(W, "W"), numpy_helper.from_array(R, "R"),
             numpy_helper.from_array(B, "B")]
    inputs = ["X", "W", "R", "B", "L"]
    if P is not None:
        inputs += ["", "", "P"]
        inits.append(numpy_helper.from_array(P, "P"))
    node = helper.make_node(op, inputs, ["Y", "Y_h"], hidden_size=R.shape[2],
                            direction=direction, **attrs)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("X", ety, None),
                      helper.make_tensor_value_info("L", TensorProto.INT32, None)],
        [helper.make_tensor_value_info("Y", ety, None),
         helper.make_tensor_value_info("Y_h", ety, None)], inits)
    # IR 7, opset 14's own: an onnxruntime older than the onnx package
    # rejects the newer IR version that make_model writes by default
    return onnx, helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)],
                                   ir_version=7)


def run_onnx(engine, model, x, lengths):
    feeds = {"X": x, "L": np.asarray(lengths, dtype=np.int32)}
    if engine == "onnxruntime":
        ort = pytest.importorskip("onnxruntime")
        sess = ort.InferenceSession(model.SerializeToString(),
                                    providers=["CPUExecutionProvider"])
        return sess.run(None, feeds)
    from onnx.reference import ReferenceEvaluator
    return ReferenceEvaluator(model).run(None, feeds)


ONNX_CASES = [
    ("LSTM", "lstm", {}),
    ("GRU", "gru", {"linear_before_reset": 0}),
    ("GRU", "gru", {"linear_before_reset": 1}),
    ("RNN", "rnn", {}),
]


@pytest.mark.parametrize("engine", ["onnxruntime", "reference"])
@pytest.mark.parametrize("op,cell,attrs", ONNX_CASES)
def test_onnx_node_matches_rnnfast(engine, op, cell, attrs):
    """A bidirectional ONNX node with the converted weights gives the same
    Y and Y_h as rnnfast run per direction on the weights converted back."""
    pytest.importorskip("onnx")
    dtype = np.float32 if engine == "onnxruntime" else np.float64
    peep = cell == "lstm"
    x, wf = weights(cell, seed=1, peephole=peep)
    _, wr = weights(cell, seed=2, peephole=peep)
    x = x.astype(dtype)
    lengths = [5, 3] if engine == "onnxruntime" else [5, 5]  # the evaluator has no lengths
    conv = getattr(convert, f"to_onnx_{cell}")
    parts = [conv(**{k: v.astype(dtype) for k, v in w.items()}) for w in (wf, wr)]
    o = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    onnx, model = onnx_model(op, direction="bidirectional", **o, **attrs)
    Y, Y_h = run_onnx(engine, model, x, lengths)
    back = getattr(convert, f"from_onnx_{cell}")
    for d in (0, 1):
        kw = back(**o, direction=d, **({"linear_before_reset": bool(attrs["linear_before_reset"])}
                                        if cell == "gru" else {}))
        out = getattr(rnnfast, cell)(x.astype(np.float64),
                                     **{k: v.astype(np.float64) if isinstance(v, np.ndarray)
                                        else v for k, v in kw.items()},
                                     seq_lengths=lengths, reverse=d == 1)
        rtol = 1e-4 if dtype == np.float32 else 1e-10
        assert_close(Y[:, d], out.y, rtol, f"Y direction {d}")
        assert_close(Y_h[d], out.h_n, rtol, f"Y_h direction {d}")
