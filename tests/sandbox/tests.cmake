# descope-mcp sandbox, end to end over HTTP; tokens checked by PyJWT (Debian's python3-jwt,
# hence Debian's own /usr/bin/python3) against the sandbox's JWKS.
add_test(NAME sandbox.e2e
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_sandbox.py
                 $<TARGET_FILE:descope-mcp>)
set_tests_properties(sandbox.e2e PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77)

# The authorization-code + PKCE flow with curl (another client than the Python test's).
add_test(NAME sandbox.authcode_curl
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/authcode_curl.sh $<TARGET_FILE:descope-mcp>)
set_tests_properties(sandbox.authcode_curl PROPERTIES TIMEOUT 60)

# The official MCP TypeScript SDK's OAuth client (what MCP Inspector runs) logs in against the
# sandbox. Lives under tests/interop/ to use its pinned node_modules; skipped (77) without them.
add_test(NAME sandbox.interop.sdk_oauth
         COMMAND ${PROJECT_SOURCE_DIR}/tests/interop/run-test.sh sandbox/sdk_oauth.test.mjs)
set_tests_properties(sandbox.interop.sdk_oauth PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 90 LABELS interop
  ENVIRONMENT "DMCP_BIN_DIR=${CMAKE_BINARY_DIR}/bin;DMCP_SOURCE_DIR=${PROJECT_SOURCE_DIR}")

# The MCP conformance suite 0.2.0-alpha.12's `authorization` scenarios (an AS under test)
# against the sandbox; the test plays the browser on the consent page. In scope: both
# scenarios, with a public DCR client, with and without a resource. Out of scope, listed with
# the reason in the test: the CIMD metadata warning, and confidential clients (the suite sends
# no secret when the AS lists `none`).
add_test(NAME sandbox.interop.conformance_authorization
         COMMAND ${PROJECT_SOURCE_DIR}/tests/interop/run-test.sh sandbox/authorization.test.mjs)
set_tests_properties(sandbox.interop.conformance_authorization PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 120 LABELS interop
  ENVIRONMENT "DMCP_BIN_DIR=${CMAKE_BINARY_DIR}/bin;DMCP_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
