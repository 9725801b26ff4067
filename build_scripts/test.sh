#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine and runs
# every test (Python, C fuzzers, Node, Chromium). This is the README's test
# command and exactly what .ci/run runs.
#
#   bash build_scripts/test.sh [pytest args...]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

# System tools: emscripten (rebuild check), clang + its runtimes (libFuzzer,
# sanitizers), Chromium (browser test), Node (JS tests).
need=()
command -v emcc >/dev/null || need+=(emscripten)
command -v clang >/dev/null || need+=(clang)
dpkg -s libclang-rt-14-dev >/dev/null 2>&1 || need+=(libclang-rt-14-dev)
command -v chromium >/dev/null || need+=(chromium)
command -v node >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# A virtual environment of its own unless one is active.
if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  . .venv/bin/activate
fi
python -m pip install -q --upgrade pip >/dev/null
python -m pip install -q -e ".[test]"

# Node packages of the JS tests (playwright-core drives Debian's Chromium).
if [ -f tests/js/package.json ]; then
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
fi

python -m pytest "$@"
