#!/usr/bin/env bash
# upstreams[].max_children / idle_seconds (issue 11 follow-up): accepted for stdio upstreams,
# rejected with a clear message when out of range, non-integer, or on an HTTP upstream.
# Uses `descope-mcp gateway --check` (no network). DMCP_BIN_DIR must point at the build's bin.
set -u
bin="${DMCP_BIN_DIR:?}/descope-mcp"
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
fail=0
run() { # expect-rc expect-text json
    printf '%s' "$3" > "$dir/c.json"
    out=$(timeout 30 "$bin" gateway --config "$dir/c.json" --check \
        --well-known-url http://127.0.0.1:1/.well-known/openid-configuration \
        --mcp-server-url http://127.0.0.1:8080/mcp 2>&1); rc=$?
    if [ "$rc" != "$1" ] || ! grep -qF -- "$2" <<<"$out"; then
        echo "FAIL: $3 -> rc=$rc out=$out (want rc=$1, '$2')"; fail=1
    fi
}
run 0 "configuration OK" '{"upstreams":[{"command":["cat"],"max_children":5,"idle_seconds":30}]}'
run 2 "max_children must be an integer 1..100000" '{"upstreams":[{"command":["cat"],"max_children":0}]}'
run 2 "max_children must be an integer 1..100000" '{"upstreams":[{"command":["cat"],"max_children":"4"}]}'
run 2 "idle_seconds must be an integer 1..86400" '{"upstreams":[{"command":["cat"],"idle_seconds":86401}]}'
run 2 "applies to stdio (command) upstreams only" '{"upstreams":[{"url":"http://127.0.0.1:1/mcp","max_children":3}]}'
[ $fail = 0 ] && echo "config-children: OK"
exit $fail
