"""Shared fixtures. ``ngcodec`` is the installed package (pip install -e .);
``tests.spec`` and ``tests.common`` import by name with the repository root
on sys.path (``pythonpath`` in pyproject.toml)."""

import pytest

from tests import common


@pytest.fixture
def fib25():
    """The FIB-25 64^3 uint64 chunk, (Z, Y, X), a fresh copy per test."""
    return common.fib25()


@pytest.fixture(scope="session")
def dask_cluster():
    """A distributed LocalCluster of two worker processes (one thread each),
    shared by the Dask tests; yields its scheduler address."""
    from distributed import LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address
