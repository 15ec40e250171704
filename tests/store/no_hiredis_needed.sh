#!/bin/sh
# Issue 10: the in-process store (the default) adds no run-time dependency. libdmcp and the
# programs built on it must not list libhiredis as NEEDED (src/store/hiredis_dl.c loads it on
# the first redis:// store instead). Usage: no_hiredis_needed.sh FILE...
set -eu
command -v readelf >/dev/null || { echo "readelf not installed"; exit 77; }
fail=0
for f in "$@"; do
  needed=$(readelf -d "$f" | awk '/\(NEEDED\)/ {print $NF}')
  [ -n "$needed" ] || { echo "FAIL $f: no NEEDED entries read"; fail=1; continue; }
  if printf '%s\n' "$needed" | grep -qi hiredis; then
    echo "FAIL $f needs $(printf '%s\n' "$needed" | grep -i hiredis)"; fail=1
  else
    echo "ok   $f: $(printf '%s\n' "$needed" | tr -d '[]' | tr '\n' ' ')"
  fi
done
exit $fail
