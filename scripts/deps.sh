#!/usr/bin/env bash
# Installs what is missing on a Debian 12 machine (apt-get), and the pinned npm packages of the
# interop tests when asked (--npm). Idempotent and quiet when everything is there.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

pkgs=(build-essential cmake pkg-config libssl-dev libcurl4-openssl-dev libjansson-dev
      libmicrohttpd-dev uthash-dev libcmocka-dev clang libclang-rt-14-dev llvm wrk curl
      python3-jwt)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-}" = "--npm" ] && [ -f "$here/tests/interop/package.json" ]; then
  if [ ! -d "$here/tests/interop/node_modules" ] || \
     [ "$here/tests/interop/package-lock.json" -nt "$here/tests/interop/node_modules" ]; then
    echo "deps: installing the interop npm packages (pinned by tests/interop/package-lock.json)"
    (cd "$here/tests/interop" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$here/tests/interop/node_modules"
  fi
fi
