#!/usr/bin/env bash
# The demo's running part (scripts/demo.sh builds, then calls this): starts the Descope sandbox
# and the calendar server from BUILD_DIR/bin, then
#   (default)  runs the narrated demo-client session and stops everything it started;
#   --serve    keeps both running on fixed ports (sandbox 8686, calendar server 8787) for MCP
#              Inspector, until Ctrl-C.
# Usage: scripts/demo-run.sh BUILD_DIR [--serve]
# Exit: the demo-client's status (0 = all four steps behaved), 2 usage, 3 start-up failure.
set -euo pipefail

build=${1:?usage: demo-run.sh BUILD_DIR [--serve]}
mode=${2:-run}
bin=$(cd "$build/bin" && pwd)
for b in descope-mcp calendar-server demo-client; do
  [ -x "$bin/$b" ] || { echo "demo: $bin/$b is missing (build first: scripts/demo.sh)" >&2; exit 3; }
done
# Loopback only: never send the demo's traffic through a proxy from the environment.
export NO_PROXY=127.0.0.1,localhost,::1 no_proxy=127.0.0.1,localhost,::1

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  B=$'\033[1m' D=$'\033[2m' R=$'\033[0m'
else
  B='' D='' R=''
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dmcp-demo.XXXXXX")
pids=()
cleanup() {
  # Stop exactly what this script started, by pid.
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A string field of the sandbox's one-line JSON ready line (its values are URLs and ids:
# no escapes inside).
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$tmp/sandbox.json"; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # PORT PID: until something listens, or the process died, or 10 s
  for _ in $(seq 1 100); do
    port_busy "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# ---- the sandbox: a local, Descope-shaped OpenID provider + connections API + calendar API ----
if [ "$mode" = --serve ]; then
  sandbox_listen=127.0.0.1:8686 exit_after=()
else
  sandbox_listen=127.0.0.1:0 exit_after=(--exit-after 300)
fi
"$bin/descope-mcp" sandbox --listen "$sandbox_listen" "${exit_after[@]}" \
  >"$tmp/sandbox.json" 2>"$tmp/sandbox.log" &
pids+=($!)
for _ in $(seq 1 100); do
  [ -s "$tmp/sandbox.json" ] && break
  kill -0 "${pids[0]}" 2>/dev/null || break
  sleep 0.1
done
if [ ! -s "$tmp/sandbox.json" ]; then
  echo "demo: the sandbox did not start:" >&2; cat "$tmp/sandbox.log" >&2; exit 3
fi
well_known=$(field well_known_url)
api_base=$(field api_base)
calendar_base=$(field calendar_api_base)
dev_token_endpoint=$(field dev_token_endpoint)
dev_client_id=$(field dev_client_id)
dev_secret=$(field dev_client_secret)

# ---- the calendar server, pointed at the sandbox ----
start_calendar() { # PORT
  mcp_url="http://127.0.0.1:$1/mcp"
  local lifetime=()
  [ "$mode" = --serve ] || lifetime=(timeout -k 5 300) # never outlives the demo
  "${lifetime[@]}" "$bin/calendar-server" --listen "127.0.0.1:$1" \
    --well-known-url "$well_known" --mcp-server-url "$mcp_url" \
    --descope-api-base "$api_base" --calendar-api-base "$calendar_base" \
    2>"$tmp/calendar.log" &
  cal_pid=$!
  pids+=("$cal_pid")
  wait_port "$1" "$cal_pid"
}
if [ "$mode" = --serve ]; then
  start_calendar 8787 || { echo "demo: the calendar server did not start:" >&2; cat "$tmp/calendar.log" >&2; exit 3; }
else
  started=no
  for _ in 1 2 3; do # a free ephemeral port; retried if another process takes it first
    port=$((20000 + RANDOM % 40000))
    port_busy "$port" && continue
    if start_calendar "$port"; then started=yes; break; fi
  done
  [ "$started" = yes ] || { echo "demo: the calendar server did not start:" >&2; cat "$tmp/calendar.log" >&2; exit 3; }
fi

echo "${B}descope-mcp demo${R}: an MCP server in C reading a Google-Calendar-like API on behalf of"
echo "its users, protected by OAuth tokens from a local Descope sandbox."
echo "  sandbox (OpenID provider, connections API, calendar API)  ${api_base}"
echo "  calendar server (MCP, Streamable HTTP)                     ${mcp_url}"

if [ "$mode" = --serve ]; then
  cat <<EOF

${B}Running until Ctrl-C.${R} Connect MCP Inspector:
  npx @modelcontextprotocol/inspector
  Transport: Streamable HTTP   URL: ${mcp_url}
  Open "Auth Settings" and run the OAuth flow: Inspector finds the sandbox through the
  server's protected-resource metadata, registers itself, and the sandbox's consent page
  lets you pick the user (U2alice is connected to Google Calendar, U2bob is not).
  Ask for the scopes: calendar.read outbound.token.fetch

Or mint a token yourself (sandbox test data, valid 10 minutes):
  curl -s -u '${dev_client_id}:${dev_secret}' -H 'content-type: application/json' \\
    -d '{"sub":"U2alice","scopes":["calendar.read","outbound.token.fetch"],"aud":"${mcp_url}","ttl":600}' \\
    ${dev_token_endpoint}
${D}Logs: ${tmp}/sandbox.log, ${tmp}/calendar.log${R}
EOF
  wait "${pids[@]}" || true
  exit 0
fi

rc=0
DEMO_DEV_CLIENT_SECRET=$dev_secret "$bin/demo-client" --mcp-url "$mcp_url" \
  --dev-token-endpoint "$dev_token_endpoint" --dev-client-id "$dev_client_id" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "--- calendar server log ---" >&2; tail -n 20 "$tmp/calendar.log" >&2
  echo "--- sandbox log ---" >&2; tail -n 20 "$tmp/sandbox.log" >&2
fi
echo "${D}Stopping the sandbox and the calendar server.${R}"
exit "$rc"
