"""Shared fixtures. ``ngcodec`` is the installed package (pip install -e .);
``tests.spec`` and ``tests.common`` import by name with the repository root
on sys.path (``pythonpath`` in pyproject.toml)."""

import sys

import pytest

from tests import common

# TRANSITION: test files not yet switched to ``from tests import common``
# (test_corruption, test_isolation, test_js, test_limits, test_verify) still
# say ``import common``; this alias serves them. Delete once they have.
sys.modules.setdefault("common", common)


@pytest.fixture
def fib25():
    """The FIB-25 64^3 uint64 chunk, (Z, Y, X), a fresh copy per test."""
    return common.fib25()
