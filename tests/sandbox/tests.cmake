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
