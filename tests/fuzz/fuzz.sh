#!/usr/bin/env bash
# Coverage-guided fuzzing of the C codecs, built natively with clang's
# libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   tests/fuzz/fuzz.sh [SECONDS] [HARNESS...]   fuzz each harness SECONDS (10)
#   tests/fuzz/fuzz.sh replay [HARNESS...]      run the seed corpus and every
#                                               tests/fuzz/regressions/ file once
#   tests/fuzz/fuzz.sh build [HARNESS...]       only build
#   tests/fuzz/fuzz.sh coverage [HARNESS...]    line/region coverage of
#                                               wasm_src by the working corpus
#
# Each harness is built with every wasm_src/*.c (whatever the codecs are
# split into) and tests/fuzz/<harness>.c.
#
# HARNESS is fuzz_cseg_decode, fuzz_cseg_encode, fuzz_raw or fuzz_cseg_ops
# (default: all).
# Binaries go to $FUZZ_BUILD_DIR (build/fuzz, git-ignored). Each harness
# fuzzes a working corpus in $FUZZ_WORK_DIR/<harness>/corpus (default
# ${TMPDIR:-/tmp}/ngcodec-fuzz), outside the repo, seeded from
# tests/fuzz/corpus/<harness> and kept between runs, so a run never dirties
# the repository. Crash inputs land in $FUZZ_WORK_DIR/<harness>/artifacts/,
# each run's libFuzzer log in .../<harness>/logs/ (last.log: the latest).
# Extra libFuzzer flags: FUZZ_FLAGS="-use_value_profile=1 ...";
# FUZZ_SKIP_BUILD=1 reuses the binaries already in $FUZZ_BUILD_DIR;
# FUZZ_SRC_DIR=dir builds another copy of wasm_src (to try a patch).
#
# One fuzzing process at a time (no -jobs/-workers): the machines are small.
# Exits non-zero if a harness crashes, printing the crash input's path.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$repo/build/fuzz}
work=${FUZZ_WORK_DIR:-${TMPDIR:-/tmp}/ngcodec-fuzz}
src=${FUZZ_SRC_DIR:-$repo/wasm_src} # another copy of the codecs, e.g. a patch to try
CC=${CC:-clang}
all=(fuzz_cseg_decode fuzz_cseg_encode fuzz_raw fuzz_cseg_ops)

mode=fuzz seconds=10
case "${1:-}" in
  replay|build|coverage) mode=$1; shift ;;
  ''|*[!0-9]*) ;;
  *) seconds=$1; shift ;;
esac
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=("${all[@]}")
codecs=("$src"/*.c) # every C source of the module, by glob
[ -f "${codecs[0]}" ] || { echo "fuzz.sh: no C sources in $src" >&2; exit 2; }
for h in "${harnesses[@]}"; do
  [ -f "$repo/tests/fuzz/$h.c" ] || { echo "fuzz.sh: no harness $h (have: ${all[*]})" >&2; exit 2; }
done

max_len() {
  case "$1" in
    fuzz_cseg_decode) echo 131072 ;; # the FIB-25 seed is 71 KB
    fuzz_cseg_encode) echo 16384 ;;
    fuzz_cseg_ops) echo 16384 ;; # small seeds; ~20 checked calls per input
    *) echo 4096 ;;
  esac
}

# Which codec sources a run tested: the sha256 of wasm_src/*.[ch] (they may
# be uncommitted work) next to the commit.
src_id=$(cat "$src"/*.[ch] | sha256sum | cut -c1-12)
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo none)
dirty=$(git -C "$repo" status --porcelain -- wasm_src 2>/dev/null | grep -q . && echo "+dirty" || true)
if [ -n "${FUZZ_SKIP_BUILD:-}" ]; then
  for h in "${harnesses[@]}"; do
    [ -x "$build/$h" ] || { echo "fuzz.sh: FUZZ_SKIP_BUILD set but $build/$h is missing" >&2; exit 2; }
  done
else
  command -v "$CC" >/dev/null || { echo "fuzz.sh: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
  mkdir -p "$build"
  for h in "${harnesses[@]}"; do
    "$CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
      -Wall -Wextra -I "$src" -I "$repo/tests/fuzz" \
      "${codecs[@]}" "$repo/tests/fuzz/$h.c" -o "$build/$h.tmp"
    mv "$build/$h.tmp" "$build/$h"
  done
  echo "fuzz.sh: built ${harnesses[*]} in $build ($("$CC" --version | head -n 1))"
fi
if [ "$src" = "$repo/wasm_src" ]; then
  echo "fuzz.sh: wasm_src sha256 $src_id at commit $commit$dirty"
else
  echo "fuzz.sh: codecs from $src (sha256 $src_id)"
fi
[ "$mode" = build ] && exit 0

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [ "$mode" = coverage ]; then
  # A source-based coverage build (no sanitizers) replays the working
  # corpus and the seeds; llvm-cov reports on wasm_src only.
  profdata=$(command -v llvm-profdata-14 || command -v llvm-profdata)
  llvmcov=$(command -v llvm-cov-14 || command -v llvm-cov)
  mkdir -p "$build/coverage"
  objects=() profraws=()
  for h in "${harnesses[@]}"; do
    bin=$build/coverage/$h
    "$CC" -g -O1 -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
      -I "$src" -I "$repo/tests/fuzz" "${codecs[@]}" "$repo/tests/fuzz/$h.c" -o "$bin"
    rm -f "$bin".profraw
    mkdir -p "$work/$h/corpus"
    LLVM_PROFILE_FILE=$bin.profraw "$bin" -runs=0 -rss_limit_mb=2048 \
      "$work/$h/corpus" "$repo/tests/fuzz/corpus/$h" >/dev/null 2>&1
    objects+=(-object "$bin")
    profraws+=("$bin.profraw")
  done
  "$profdata" merge -sparse "${profraws[@]}" -o "$build/coverage/all.profdata"
  "$llvmcov" report "${objects[@]:1}" -instr-profile="$build/coverage/all.profdata" \
    -ignore-filename-regex='tests/fuzz/'
  echo "fuzz.sh: line by line: $llvmcov show ${objects[*]:1} -instr-profile=$build/coverage/all.profdata ${codecs[*]}"
  exit 0
fi

status=0
if [ "$mode" = replay ]; then
  for h in "${harnesses[@]}"; do
    files=()
    for d in "$repo/tests/fuzz/corpus/$h" "$repo/tests/fuzz/regressions/$h"; do
      [ -d "$d" ] && while IFS= read -r f; do files+=("$f"); done < <(find "$d" -type f | sort)
    done
    [ ${#files[@]} -gt 0 ] || continue
    log=$(mktemp)
    # libFuzzer runs each file given as an argument once and stops.
    if "$build/$h" -rss_limit_mb=2048 -timeout=10 "${files[@]}" >"$log" 2>&1; then
      echo "fuzz.sh: $h replayed ${#files[@]} files: ok"
    else
      cat "$log" >&2
      failed=$(grep -o "^Running: .*" "$log" | tail -n 1 | cut -d' ' -f2-)
      echo "fuzz.sh: $h FAILED on $failed" >&2
      status=1
    fi
    rm -f "$log"
  done
  exit $status
fi

printf '%-18s %8s %12s %8s %6s %6s %12s %8s %5s\n' harness seconds execs exec/s cov ft corpus failures slow
summary=()
for h in "${harnesses[@]}"; do
  dir=$work/$h
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -n "$repo/tests/fuzz/corpus/$h/"* "$dir/corpus/" 2>/dev/null || true
  mkdir -p "$dir/logs"
  log=$dir/logs/$(date -u +%Y%m%dT%H%M%SZ)-${seconds}s.log
  ln -sfn "$log" "$dir/last.log"
  # crash-, leak-, timeout-, oom- files are failures; slow-unit- files are
  # inputs that took long without reaching -timeout.
  count() { find "$dir/artifacts" -type f -name "$1" | wc -l; }
  before=$(count '*') slow_before=$(count 'slow-unit-*')
  rc=0
  # shellcheck disable=SC2086
  "$build/$h" "$dir/corpus" -max_total_time="$seconds" -max_len="$(max_len "$h")" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" ${FUZZ_FLAGS:-} >"$log" 2>&1 || rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  last=$(grep -E '#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || true)
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || true)
  corp=$(echo "$last" | grep -o 'corp: [0-9]*/[0-9]*[A-Za-z]*' | cut -d' ' -f2 || true)
  slow=$(( $(count 'slow-unit-*') - slow_before ))
  failures=$(( $(count '*') - before - slow ))
  printf '%-18s %8s %12s %8s %6s %6s %12s %8s %5s\n' "$h" "$seconds" "${execs:-?}" "${speed:-?}" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}" "$failures" "$slow"
  if [ $rc -ne 0 ]; then
    status=1
    tail -n 60 "$log" >&2
    input=$(grep -o 'Test unit written to .*' "$log" | tail -n 1 | cut -d' ' -f5- || true)
    summary+=("$h: exit $rc; crash input: ${input:-see $log}; log: $log")
  fi
done
for line in "${summary[@]}"; do echo "fuzz.sh: CRASH $line" >&2; done
exit $status
