"""The README's Python examples run as written."""
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for code in blocks:  # one namespace: later blocks build on earlier ones
        exec(compile(code, str(README), "exec"), namespace)
    assert namespace["y"].shape == (50, 8, 32)
    assert namespace["layer"].training is False
