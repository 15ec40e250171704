# The gateway's stdio upstream (issue 11) end to end: `descope-mcp gateway --upstream-stdio`
# in front of software we did not write (the official server-everything, the official TS client)
# and of the conformance suite. The scripts live in tests/interop/gateway/ (they use its pinned
# node_modules); each exits 77 when those are absent.
set(_gws_dir ${PROJECT_SOURCE_DIR}/tests/interop)
set(_gws_env "DMCP_BIN_DIR=${CMAKE_BINARY_DIR}/bin;DMCP_SOURCE_DIR=${PROJECT_SOURCE_DIR}")

# The official TypeScript client through the gateway to server-everything over stdio: 401 + PRM,
# tools, a scope rule (403 then OK), live progress, sampling both ways, a child killed mid-call.
add_test(NAME interop.gateway.stdio.everything
  COMMAND ${_gws_dir}/run-test.sh gateway/stdio_everything.test.mjs)
# Conformance 0.1.16 (2025-06-18 and 2025-11-25, every scored scenario) through the gateway
# (auth on, via the token-adding proxy) to conformance-server --stdio.
add_test(NAME interop.gateway.stdio.conformance
  COMMAND ${CMAKE_COMMAND} -E env
    CONFORMANCE_SERVER=${_gws_dir}/gateway/conformance-stdio-server.sh
    ${_gws_dir}/conformance/run.sh --auth)
# Conformance 0.2.0-alpha.12, --requirements 2025-11-25 and 2026-07-28 (no expected-failures
# list) through the gateway to conformance-server --stdio: input-required results made of the
# upstream's server->client requests, retried with inputResponses (issue 11).
add_test(NAME interop.gateway.stdio.conformance.next
  COMMAND ${CMAKE_COMMAND} -E env
    CONFORMANCE_SERVER=${_gws_dir}/gateway/conformance-stdio-server.sh
    ${_gws_dir}/conformance/run.sh --next --auth)
set_tests_properties(interop.gateway.stdio.everything interop.gateway.stdio.conformance
  interop.gateway.stdio.conformance.next PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 150 LABELS interop ENVIRONMENT "${_gws_env}")

# Two-second smoke of bench/gateway/stdio.sh: the three bridges answer every request correctly
# under load. Not a performance assertion; it saturates the CPU, so never alongside others.
add_test(NAME interop.bench.gateway.stdio.smoke
  COMMAND ${PROJECT_SOURCE_DIR}/bench/gateway/stdio.sh --smoke --build ${CMAKE_BINARY_DIR})
set_tests_properties(interop.bench.gateway.stdio.smoke PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 150 LABELS interop RUN_SERIAL TRUE ENVIRONMENT "${_gws_env}")

# upstreams[].max_children / idle_seconds: accepted for stdio, clear errors otherwise (--check).
add_test(NAME gateway.stdio.config_children
  COMMAND ${_gws_dir}/gateway/config-children.sh)
set_tests_properties(gateway.stdio.config_children PROPERTIES ENVIRONMENT "${_gws_env}")
