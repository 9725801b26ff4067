"""Shared fixtures. ``ngcodec`` is the installed package (pip install -e .);
``tests.spec`` and ``tests.common`` import by name with the repository root
on sys.path (``pythonpath`` in pyproject.toml)."""

import pytest

from tests import common


@pytest.fixture
def fib25():
    """The FIB-25 64^3 uint64 chunk, (Z, Y, X), a fresh copy per test."""
    return common.fib25()
