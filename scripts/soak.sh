#!/usr/bin/env bash
# Soak and chaos run of mcp-echo-server built with AddressSanitizer + UBSan (issue 12).
#
#   scripts/soak.sh [--minutes N] [--short] [--build-dir DIR] [--keep]
#
# Builds mcp-echo-server and the token minter in build-soak/ (clang, -DDMCP_SANITIZE=ON,
# RelWithDebInfo) unless --build-dir DIR (or SOAK_BUILD_DIR) names a build to reuse; a reused
# build is checked for sanitizer reports only when its CMakeCache says DMCP_SANITIZE=ON.
# Then runs scripts/soak.py: N minutes (default 10) of load and abuse on loopback, the figures,
# and exit 0 only when every criterion holds (exit 1 names the ones that failed).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
minutes=10 short=() keep=() build=${SOAK_BUILD_DIR:-}
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --short) short=(--short); shift ;;
    --build-dir) build=$2; shift 2 ;;
    --keep) keep=(--keep); shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "soak.sh: wrk is required (apt-get install wrk)" >&2; exit 2; }
if [ -z "$build" ]; then
  build=$here/build-soak
  cmake -S "$here" -B "$build" -DCMAKE_C_COMPILER=clang -DDMCP_SANITIZE=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDMCP_BUILD_BENCH=OFF >/dev/null
  cmake --build "$build" -j 2 --target mcp-echo-server cli_mint_tool >/dev/null
fi
sanitized=()
if grep -q '^DMCP_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  sanitized=(--sanitized)
fi
exec /usr/bin/python3 "$here/scripts/soak.py" --server "$build/bin/mcp-echo-server" \
  --mint "$build/tests/cli_mint_tool" --minutes "$minutes" "${short[@]}" "${sanitized[@]}" \
  "${keep[@]}"
