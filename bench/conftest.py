"""pytest-benchmark setup: each benchmark starts after the previous one's
thread pools have gone idle (they spin-wait after a call, and on a 2-core
machine that steals the cores from whatever runs next)."""
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _settle():
    time.sleep(0.2)
    yield
