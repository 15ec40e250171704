#!/usr/bin/env bash
# The README's test command: installs what is missing, then builds and runs every test twice:
# with gcc, and with clang + AddressSanitizer + UndefinedBehaviorSanitizer. Warnings are
# errors in both. Build folders: build-test-gcc/ and build-test-asan/.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
"$here/scripts/deps.sh" --npm

jobs=$(nproc 2>/dev/null || echo 2)
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
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DDMCP_SANITIZE=ON \
  -DDMCP_BUILD_BENCH=OFF

if [ $status -ne 0 ]; then
  echo "FAILED: see the output above"
fi
exit $status
