"""The C codecs built natively with clang's libFuzzer + AddressSanitizer +
UndefinedBehaviorSanitizer (tests/fuzz/*.c, tests/fuzz/fuzz.sh):

- every crash input saved in tests/fuzz/regressions/<harness>/ (named after
  its bug) and every seed in tests/fuzz/corpus/<harness>/ replays cleanly;
- a short fuzzing run of each harness (a few seconds each) finds nothing.

These fail, never skip, when clang or its sanitizer runtimes are missing:
build_scripts/test.sh installs clang and libclang-rt-14-dev.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

# The harnesses are built once for the module (tens of seconds) with clang.
pytestmark = [pytest.mark.slow, pytest.mark.needs_clang]

REPO = Path(__file__).resolve().parents[1]
FUZZ_SH = REPO / "tests" / "fuzz" / "fuzz.sh"
FUZZ = REPO / "tests" / "fuzz"
HARNESSES = ["fuzz_cseg_decode", "fuzz_cseg_encode", "fuzz_raw", "fuzz_cseg_ops"]
SECONDS_EACH = 6  # 4 harnesses: ~25 s of fuzzing, plus the build


def _files(kind):
    """(harness, path) of every file in tests/fuzz/<kind>/<harness>/."""
    out = []
    for h in HARNESSES:
        folder = FUZZ / kind / h
        if folder.is_dir():
            out += [(h, p) for p in sorted(folder.iterdir()) if p.is_file()]
    return out


REGRESSIONS = _files("regressions")  # each named after its bug
SEEDS = _files("corpus")


def _run(args, env, timeout):
    return subprocess.run(["bash", str(FUZZ_SH), *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory):
    """Builds the harnesses once into a temporary folder; the environment
    for fuzz.sh to use them with a working corpus outside the repo."""
    assert shutil.which(os.environ.get("CC", "clang")), (
        "clang is required for the native fuzz tests "
        "(apt-get install clang libclang-rt-14-dev)")
    root = tmp_path_factory.mktemp("fuzz")
    env = dict(os.environ, FUZZ_BUILD_DIR=str(root / "build"),
               FUZZ_WORK_DIR=str(root / "work"))
    env.pop("NGC_FUZZ_LAX_NO_PLACE", None)  # the tests are strict
    r = _run(["build"], env, timeout=300)
    assert r.returncode == 0, f"fuzz.sh build failed:\n{r.stdout}\n{r.stderr}"
    env["FUZZ_SKIP_BUILD"] = "1"
    return env


def _replay(env, harness, paths):
    """Runs inputs through a sanitizer build once each (libFuzzer replays the
    files given as arguments, stopping at the first failure)."""
    binary = Path(env["FUZZ_BUILD_DIR"]) / harness
    r = subprocess.run([str(binary), "-rss_limit_mb=2048", "-timeout=10",
                        *map(str, paths)],
                       env=dict(env, NGC_FUZZ_VERBOSE="1"), capture_output=True,
                       text=True, timeout=300)
    rc = r.returncode
    ran = [line.split(" ", 1)[1] for line in r.stderr.splitlines()
           if line.startswith("Running: ")]
    assert rc == 0, (
        f"{harness} fails (exit {rc}) on {ran[-1] if ran else paths}:\n"
        f"{r.stderr[-6000:]}")


def test_regressions_folder_names_harnesses():
    folder = FUZZ / "regressions"
    if folder.is_dir():
        for sub in folder.iterdir():
            if sub.name != "README.md":
                assert sub.is_dir() and sub.name in HARNESSES, sub


@pytest.mark.parametrize("harness,path", REGRESSIONS,
                         ids=[f"{h}/{p.name}" for h, p in REGRESSIONS])
def test_regression(fuzz_env, harness, path):
    _replay(fuzz_env, harness, [path])


@pytest.mark.parametrize("harness", HARNESSES)
def test_seed_corpus(fuzz_env, harness):
    seeds = [p for h, p in SEEDS if h == harness]
    assert seeds, f"no seeds in tests/fuzz/corpus/{harness} (make_corpus.py)"
    _replay(fuzz_env, harness, seeds)


def test_short_fuzz_run(fuzz_env):
    """A few seconds of each harness (one process at a time); a crash prints
    its input's path."""
    r = _run([str(SECONDS_EACH), *HARNESSES], fuzz_env,
             timeout=SECONDS_EACH * len(HARNESSES) + 120)
    rc = r.returncode
    assert rc == 0, f"fuzzing found a failure:\n{r.stdout}\n{r.stderr[-8000:]}"
    for h in HARNESSES:
        assert h in r.stdout
