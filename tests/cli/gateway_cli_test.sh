#!/bin/sh
# The `descope-mcp gateway` command-line contract (issue 11), from the outside and offline:
# --help (0), --check of good and bad flag sets and config files (0 / 2), unknown flags (2),
# a config that names the caller's Authorization as an identity header (2), an unreachable
# issuer at start (4). No server is started that could stay behind (the issuer is a closed port).
set -u
bin=$1
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
expect() { # code description command...
  want=$1; what=$2; shift 2
  "$@" >"$tmp/out" 2>&1
  got=$?
  if [ "$got" -eq "$want" ]; then echo "ok   - $what"; else echo "FAIL - $what (exit $got, want $want)"; cat "$tmp/out"; fail=1; fi
}
wk=http://127.0.0.1:1/.well-known/openid-configuration
url=http://127.0.0.1:9/mcp
expect 0 "--help" "$bin" gateway --help
expect 2 "unknown flag" "$bin" gateway --bogus
expect 0 "--check with flags" "$bin" gateway --check --well-known-url $wk --mcp-server-url $url --upstream http://127.0.0.1:2/mcp --tool-scope 'cal__*=calendar.read,x' --connection google=X-Google-Token
expect 2 "--check without an upstream" "$bin" gateway --check --well-known-url $wk --mcp-server-url $url
expect 2 "--check with an ftp upstream" "$bin" gateway --check --well-known-url $wk --mcp-server-url $url --upstream ftp://h/x
expect 2 "--tool-scope without =" "$bin" gateway --check --well-known-url $wk --mcp-server-url $url --upstream http://h/mcp --tool-scope nothing
expect 2 "--upstream-stdio without a command" "$bin" gateway --check --well-known-url $wk --mcp-server-url $url --upstream-stdio
cat >"$tmp/good.json" <<JSON
{"auth":{"well_known_url":"$wk","mcp_server_url":"$url"},
 "upstreams":[{"name":"cal","url":"http://127.0.0.1:2/mcp"},{"name":"files","url":"http://127.0.0.1:3/mcp"}],
 "tools":[{"match":"cal__*","scopes":["calendar.read"]}],"filter_list":true,
 "identity_headers":{"user":"X-User","tenant":null},"timeouts":{"request_ms":5000}}
JSON
expect 0 "--check of a config file" "$bin" gateway --check --config "$tmp/good.json"
echo '{"auth":{"well_known_url":"'$wk'","mcp_server_url":"'$url'"},"upstreams":[{"url":"http://h/mcp"}],"identity_headers":{"user":"Authorization"}}' >"$tmp/auth.json"
expect 2 "Authorization refused as an identity header" "$bin" gateway --check --config "$tmp/auth.json"
echo '{"auth":{"well_known_url":"'$wk'","mcp_server_url":"'$url'"},"upstreams":[{"url":"http://h/mcp"}],"surprise":1}' >"$tmp/unk.json"
expect 2 "unknown config key refused" "$bin" gateway --check --config "$tmp/unk.json"
# The signed assertion (config "assertion"): good, and each refusal.
a() { printf '{"auth":{"well_known_url":"%s","mcp_server_url":"%s"},"upstreams":[{"url":"http://h/mcp"%s}],%s"assertion":%s}\n' "$wk" "$url" "${3:-}" "${2:-}" "$1" >"$tmp/as.json"; }
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/p256.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$tmp/p384.pem" 2>/dev/null
a '{}'; expect 0 "assertion with defaults (generated key)" "$bin" gateway --check --config "$tmp/as.json"
a '{"key_file":"'"$tmp"'/p256.pem","ttl_seconds":300,"header":"Authorization","jwks_path":"/keys"}'
expect 0 "assertion with a P-256 key_file, in Authorization" "$bin" gateway --check --config "$tmp/as.json"
a '{"key_file":"'"$tmp"'/p384.pem"}'; expect 2 "assertion key on P-384 refused" "$bin" gateway --check --config "$tmp/as.json"
grep -q "P-256" "$tmp/out" && ! grep -q "PRIVATE" "$tmp/out" || { echo "FAIL - the P-384 refusal names the curve, not the key"; cat "$tmp/out"; fail=1; }
a '{"key_file":"'"$tmp"'/none.pem"}'; expect 2 "missing assertion key_file refused" "$bin" gateway --check --config "$tmp/as.json"
a '{"key_file":"'"$tmp"'/as.json"}'; expect 2 "assertion key_file that is no key refused" "$bin" gateway --check --config "$tmp/as.json"
a '{"ttl_seconds":0}'; expect 2 "assertion ttl_seconds 0 refused" "$bin" gateway --check --config "$tmp/as.json"
a '{"ttl_seconds":3601}'; expect 2 "assertion ttl_seconds 3601 refused" "$bin" gateway --check --config "$tmp/as.json"
a '{"jwks_path":"/mcp"}'; expect 2 "assertion jwks_path on the MCP endpoint refused" "$bin" gateway --check --config "$tmp/as.json"
a '{"jwks_path":"/.well-known/oauth-protected-resource/mcp"}'; expect 2 "assertion jwks_path on the PRM refused" "$bin" gateway --check --config "$tmp/as.json"
a '{"jwks_path":"keys"}'; expect 2 "assertion jwks_path without / refused" "$bin" gateway --check --config "$tmp/as.json"
a '{"header":"X-MCP-User-Id"}'; expect 2 "assertion header = an identity header refused" "$bin" gateway --check --config "$tmp/as.json"
a '{"header":"X-Svc"}' '' ',"headers":{"X-Svc":"k"}'; expect 2 "assertion header = an upstream static header refused" "$bin" gateway --check --config "$tmp/as.json"
a '{"bogus":1}'; expect 2 "assertion with an unknown key refused" "$bin" gateway --check --config "$tmp/as.json"
echo '{"upstreams":' >"$tmp/broken.json"
expect 2 "broken JSON" "$bin" gateway --check --config "$tmp/broken.json"
expect 2 "missing config file" "$bin" gateway --check --config "$tmp/none.json"
expect 4 "issuer unreachable at start" "$bin" gateway --listen 127.0.0.1:0 --well-known-url $wk --mcp-server-url $url --upstream http://127.0.0.1:2/mcp --connect-timeout 200
exit $fail
