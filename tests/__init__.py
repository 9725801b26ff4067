"""ngcodec's test suite: a package so tests and the tools beside them import
``tests.spec`` and ``tests.common`` by name (pytest puts the repository root
on sys.path: ``pythonpath`` in pyproject.toml; tools run from the root as
``python -m tests.fuzz.fuzz_wasm``)."""
