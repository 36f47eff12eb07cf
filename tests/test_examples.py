"""Smoke runs of examples/ (their --quick mode): each writes its pictures and
shows what it is there to show."""
import pathlib
import sys

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
pytest.importorskip("matplotlib")


def run(name, tmp_path, **kw):
    mod = __import__(name)
    return mod.main(["--quick", "--out", str(tmp_path)], **kw)


def pngs(path):
    return sorted(p.name for p in path.glob("*.png") if p.stat().st_size > 1000)


def test_exploding_gradients(tmp_path):
    res = run("exploding_gradients", tmp_path)
    assert pngs(tmp_path) == ["exploding_surface.png", "exploding_training.png"]
    assert not np.isfinite(res["plain"][-1][1])  # plain SGD blows up
    losses = [l_ for _, l_ in res["clipped"]]
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.01 * losses[0]


def test_memory_cell(tmp_path):
    res = run("memory_cell", tmp_path)
    assert pngs(tmp_path) == ["memory_cell_loss.png"]
    assert np.mean(res["losses"][-30:]) < 0.1 * np.mean(res["losses"][:30])
    assert res["accuracy"] > 0.9  # read-outs within 0.5 of the stored value
    np.testing.assert_allclose(res["hand"], [0, 0, 0, 0, 0, 7, 0, 0, 6], atol=1e-2)


def test_slot_filling(tmp_path):
    res = run("slot_filling", tmp_path)
    assert pngs(tmp_path) == ["slot_filling.png"]
    bi, uni = (np.mean(list(res[k].values())) for k in ("bidirectional", "unidirectional"))
    assert bi > 0.95 and bi > uni + 0.1


def test_port_weights(tmp_path):
    res = run("port_weights", tmp_path)
    if not res:
        pytest.skip("no framework to port from is installed")
    assert pngs(tmp_path) == ["port_weights.png"]
    for name, err, scale in res:
        assert err <= 1e-5 * max(scale, 1.0), name


def test_dask_inference(tmp_path):
    pytest.importorskip("distributed")
    assert run("dask_inference", tmp_path) is True
    assert pngs(tmp_path) == ["dask_inference.png"]
