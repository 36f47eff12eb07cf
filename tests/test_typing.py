"""Type information ships with the package: py.typed, and a stub for the
compiled module that names everything it exports."""
import ast
import pathlib

import rnnfast
from rnnfast import _kernels

PKG = pathlib.Path(rnnfast.__file__).parent


def test_py_typed_and_stub_are_installed():
    assert (PKG / "py.typed").exists()
    assert (PKG / "_kernels.pyi").exists()


def test_stub_covers_the_compiled_module():
    tree = ast.parse((PKG / "_kernels.pyi").read_text())
    stubbed = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    stubbed |= {t.id for n in tree.body if isinstance(n, ast.AnnAssign) for t in [n.target]}
    public = {k for k in dir(_kernels) if not k.startswith("_")
              and (callable(getattr(_kernels, k)) or k.isupper())
              and getattr(getattr(_kernels, k), "__module__", "rnnfast._kernels")
              == "rnnfast._kernels"}
    public -= {"np", "threading"}
    assert public <= stubbed, f"not in the stub: {sorted(public - stubbed)}"


def test_public_functions_have_docstrings_with_shapes():
    for name in rnnfast.__all__:
        obj = getattr(rnnfast, name)
        if callable(obj) and not isinstance(obj, type(rnnfast)):
            assert obj.__doc__ and len(obj.__doc__) > 20, name
    for name in ("lstm", "gru", "rnn", "jordan", "lstm_cell", "LSTM", "JordanRNN"):
        assert "(" in getattr(rnnfast, name).__doc__ and "B" in getattr(rnnfast, name).__doc__
