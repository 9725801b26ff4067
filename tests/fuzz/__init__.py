"""The fuzzers: native libFuzzer harnesses (*.c, fuzz.sh) and the Python
drivers of the .wasm (fuzz_wasm.py, adversarial.py), run from the repository
root as ``python -m tests.fuzz.<name>``."""
