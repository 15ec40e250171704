# Interop tests against software we did not write (oidc-provider, jose, the official MCP
# TypeScript SDK, the MCP conformance suite, PyJWT). Pinned by tests/interop/package-lock.json;
# installed by `scripts/deps.sh --npm`. Every test exits 77 (skipped, never passed) when
# tests/interop/node_modules is absent, and the binary-driven ones when the binary they test
# does not exist in this build yet. Each bounds its own runtime and kills what it starts.
set(_interop_dir ${CMAKE_CURRENT_LIST_DIR})
set(_interop_env
  "DMCP_BIN_DIR=${CMAKE_BINARY_DIR}/bin;DMCP_SOURCE_DIR=${PROJECT_SOURCE_DIR}")

function(dmcp_interop_test name)
  add_test(NAME ${name} COMMAND ${ARGN})
  set_tests_properties(${name} PROPERTIES
    SKIP_RETURN_CODE 77 TIMEOUT 150 LABELS interop ENVIRONMENT "${_interop_env}")
endfunction()

dmcp_interop_test(interop.harness
  ${_interop_dir}/run-test.sh harness/self_check.test.mjs)
dmcp_interop_test(interop.validate.oidc_provider
  ${_interop_dir}/run-test.sh validate/oidc_provider.test.mjs)
dmcp_interop_test(interop.validate.jose_all_algs
  ${_interop_dir}/run-test.sh validate/jose_all_algs.test.mjs)
dmcp_interop_test(interop.mcp.http
  ${_interop_dir}/run-test.sh mcp/http.test.mjs)
dmcp_interop_test(interop.mcp.stdio
  ${_interop_dir}/run-test.sh mcp/stdio.test.mjs)
# 2026-07-28 over stdio: the v2 client (StdioClientTransport) with elicitation and
# subscriptions/listen; the v1 client doing the same over 2025 beside it.
dmcp_interop_test(interop.mcp.stdio_eras
  ${_interop_dir}/run-test.sh mcp/stdio_eras.test.mjs)
dmcp_interop_test(interop.mcp.notifications
  ${_interop_dir}/run-test.sh mcp/notifications.test.mjs)
dmcp_interop_test(interop.mcp.eras
  ${_interop_dir}/run-test.sh mcp/eras.test.mjs)
# The same client tests against the TypeScript-SDK baseline server: proves the tests (and the
# benchmark's baseline) with software we did not write, whatever state our server is in.
dmcp_interop_test(interop.mcp.http.ts_baseline
  ${_interop_dir}/run-test.sh mcp/http.test.mjs --peer ts)
dmcp_interop_test(interop.mcp.stdio.ts_baseline
  ${_interop_dir}/run-test.sh mcp/stdio.test.mjs --peer ts)
dmcp_interop_test(interop.conformance
  ${_interop_dir}/conformance/run.sh)
dmcp_interop_test(interop.conformance.auth
  ${_interop_dir}/conformance/run.sh --auth)
# conformance 0.2.0-alpha.12: --requirements 2025-11-25 and 2026-07-28 (the stateless
# revision) against the same binary and endpoint.
dmcp_interop_test(interop.conformance.next
  ${_interop_dir}/conformance/run.sh --next)
dmcp_interop_test(interop.conformance.next.auth
  ${_interop_dir}/conformance/run.sh --next --auth)

# Two-second smoke of the HTTP benchmark (bench/http/run.sh): the machinery works and both
# servers answer every request correctly under load. Not a performance assertion.
dmcp_interop_test(interop.bench.http.smoke
  ${PROJECT_SOURCE_DIR}/bench/http/run.sh --smoke --build ${CMAKE_BINARY_DIR})
# It saturates the CPU for 2 s per server: never alongside the timing-sensitive tests.
set_tests_properties(interop.bench.http.smoke PROPERTIES RUN_SERIAL TRUE)

# descope-mcp gateway (issue 11): the TS client through the gateway to a recording TS SDK
# upstream and a misbehaving one (auth, rules, progress, sampling, no token upstream, faults).
dmcp_interop_test(interop.gateway.http
  ${_interop_dir}/run-test.sh gateway/http.test.mjs)
# Connection tokens from a fake Descope into the configured upstream header; not connected →
# a tool error (tests/connections-cli/fake_descope).
dmcp_interop_test(interop.gateway.connections
  ${_interop_dir}/run-test.sh gateway/connections.test.mjs)
# The HTTP upstream client on kept-alive connections (fast path and libcurl).
dmcp_interop_test(interop.gateway.keepalive
  ${_interop_dir}/run-test.sh gateway/keepalive.test.mjs)
# The signed upstream assertion and its JWKS, checked with jose and PyJWT.
dmcp_interop_test(interop.gateway.assertion
  ${_interop_dir}/run-test.sh gateway/assertion.test.mjs)
# Conformance 0.1.16 through the gateway: suite -> auth-proxy (token) -> descope-mcp gateway ->
# conformance-server over Streamable HTTP (tests/interop/gateway/conformance-via-gateway.sh).
add_test(NAME interop.gateway.conformance COMMAND ${_interop_dir}/conformance/run.sh --auth)
set_tests_properties(interop.gateway.conformance PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 200
  LABELS interop ENVIRONMENT
  "${_interop_env};CONFORMANCE_SERVER=${_interop_dir}/gateway/conformance-via-gateway.sh")
# Conformance 0.2.0-alpha.12 (--requirements 2025-11-25 and 2026-07-28, no expected-failures
# list) the same way: a 2026 client through the gateway to a 2025 upstream session.
add_test(NAME interop.gateway.conformance.next COMMAND ${_interop_dir}/conformance/run.sh --next --auth)
set_tests_properties(interop.gateway.conformance.next PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 200
  LABELS interop ENVIRONMENT
  "${_interop_env};CONFORMANCE_SERVER=${_interop_dir}/gateway/conformance-via-gateway.sh")
# Server->client requests outside a call: a TS SDK upstream's roots/list right after
# initialized reaches the TS client's GET stream and its answer the upstream; refusals (no
# capability: -32601, no stream: -32603) (gateway/relay.test.mjs, gateway/roots-upstream.mjs).
dmcp_interop_test(interop.gateway.relay
  ${_interop_dir}/run-test.sh gateway/relay.test.mjs)
# Two different upstreams behind one endpoint: prefixes for tools and prompts, merged lists,
# resources/read routed to the upstream that has the resource.
dmcp_interop_test(interop.gateway.multi
  ${_interop_dir}/run-test.sh gateway/multi.test.mjs)
# Replicas without affinity: three gateways sharing sessions in one redis-server behind nginx.
dmcp_interop_test(interop.gateway.replicas
  ${_interop_dir}/run-test.sh gateway/replicas.test.mjs)
# Scale-out (issue 10, docs/scaling.md): N instances sharing one loopback redis-server
# (--store), behind nginx or HAProxy round robin without stickiness; every process started by
# tests/interop/lib/cluster.mjs and killed by PID. Exit 77 when redis-server, nginx or haproxy
# is not installed (scripts/deps.sh installs them).
dmcp_interop_test(interop.scale.conformance
  ${_interop_dir}/run-test.sh scale/conformance.test.mjs)
dmcp_interop_test(interop.scale.sessions
  ${_interop_dir}/run-test.sh scale/sessions.test.mjs)
dmcp_interop_test(interop.scale.kill_stream
  ${_interop_dir}/run-test.sh scale/kill_stream.test.mjs)
dmcp_interop_test(interop.scale.redis_restart
  ${_interop_dir}/run-test.sh scale/redis_restart.test.mjs)
dmcp_interop_test(interop.scale.haproxy
  ${_interop_dir}/run-test.sh scale/haproxy.test.mjs)
dmcp_interop_test(interop.scale.notify
  ${_interop_dir}/run-test.sh scale/notify.test.mjs)
dmcp_interop_test(interop.scale.delete_stream
  ${_interop_dir}/run-test.sh scale/delete_stream.test.mjs)
set_tests_properties(interop.scale.conformance interop.scale.sessions interop.scale.kill_stream
  interop.scale.redis_restart interop.scale.haproxy interop.scale.notify
  interop.scale.delete_stream PROPERTIES LABELS "interop;scale")
# Load through nginx for ~8 s while Redis goes away and comes back: not beside timing-sensitive tests.
set_tests_properties(interop.scale.redis_restart PROPERTIES RUN_SERIAL TRUE)
