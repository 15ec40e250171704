#!/usr/bin/env bash
# The README's first command: installs what is missing, builds everything, then runs a short
# narrated session against a local Descope sandbox and the calendar server (scripts/demo-run.sh).
#   scripts/demo.sh           the narrated demo; stops everything it started
#   scripts/demo.sh --serve   keeps the sandbox (127.0.0.1:8686) and the calendar server
#                             (http://127.0.0.1:8787/mcp) running for MCP Inspector, until Ctrl-C
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
case "${1:-}" in
  "" | --serve) ;;
  *) echo "usage: scripts/demo.sh [--serve]" >&2; exit 2 ;;
esac
"$here/scripts/deps.sh"
echo "demo: building (first time: a minute or two)..."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
exec "$here/scripts/demo-run.sh" "$here/build" "$@"
