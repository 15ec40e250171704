#!/usr/bin/env bash
# The README's test command: installs what is missing, then builds and runs every test twice:
# with gcc, and with clang + AddressSanitizer + UndefinedBehaviorSanitizer. Warnings are
# errors in both. Build folders: build-test-gcc/ and build-test-asan/.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
"$here/scripts/deps.sh" --npm

jobs=$(nproc 2>/dev/null || echo 2)
# deps.sh installed promtool: the metrics tests must not skip its check.
export DMCP_REQUIRE_PROMTOOL=1
status=0

run_suite() {
  local name=$1; shift
  echo "=== $name: configure and build ==="
  cmake -S . -B "build-test-$name" -DDMCP_WERROR=ON "$@" >/dev/null
  cmake --build "build-test-$name" -j "$jobs" >/dev/null
  echo "=== $name: ctest ==="
  if ! (cd "build-test-$name" && ctest --output-on-failure -j "$jobs" --timeout 600); then
    status=1
  fi
}

run_suite gcc -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo
# Every parser is fuzzed: a short libFuzzer run per target (clang), starting from the seed
# corpora the replay tests above already ran. DMCP_FUZZ_SECONDS=0 skips this stage.
fuzz_seconds=${DMCP_FUZZ_SECONDS:-8}
if [ "$fuzz_seconds" -gt 0 ]; then
  echo "=== fuzz: configure and build (clang, libFuzzer) ==="
  cmake -S . -B build-test-fuzz -DDMCP_WERROR=ON -DCMAKE_C_COMPILER=clang -DDMCP_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDMCP_BUILD_EXAMPLES=OFF -DDMCP_BUILD_BENCH=OFF >/dev/null
  targets=$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')
  # shellcheck disable=SC2086
  cmake --build build-test-fuzz -j "$jobs" --target $targets >/dev/null
  echo "=== fuzz: ${fuzz_seconds} s per target ==="
  fuzz_failed=0 fuzz_ran=0
  for t in $targets; do
    corpus=tests/fuzz/corpus/${t#fuzz_}
    work=$(mktemp -d)
    cp -r "$corpus"/. "$work"/ 2>/dev/null || true
    if build-test-fuzz/fuzz/"$t" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 \
         -print_final_stats=0 "$work" >"$work.log" 2>&1; then
      echo "fuzz $t: ok ($(grep -o 'Done [0-9]* runs' "$work.log" | tail -1))"
      fuzz_ran=$((fuzz_ran + 1))
    else
      echo "fuzz $t: FAILED"; tail -40 "$work.log"; fuzz_failed=$((fuzz_failed + 1)); status=1
    fi
    rm -rf "$work" "$work.log"
  done
  echo "fuzz: $fuzz_ran targets clean, $fuzz_failed with findings"
fi

ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DDMCP_SANITIZE=ON \
  -DDMCP_BUILD_BENCH=OFF

if [ $status -ne 0 ]; then
  echo "FAILED: see the output above"
fi
exit $status
