"""Makes ``ngcodec`` (from pyhost/, unless installed) and ``tests/common.py``
importable, and provides the shared data fixtures."""

import sys
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent
_PYHOST = _TESTS.parent / "pyhost"

if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))
# Appended, so an installed package (pip install -e .) is found first.
if str(_PYHOST) not in sys.path:
    sys.path.append(str(_PYHOST))


@pytest.fixture
def fib25():
    """The FIB-25 64^3 uint64 chunk, (Z, Y, X), a fresh copy per test."""
    import common

    return common.fib25()
