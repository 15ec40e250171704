# The example servers' contracts, driven from outside over loopback: a Python loopback issuer
# (discovery + JWKS) and tokens from tests/cli/mint_tool.c (cli_mint_tool). Covers
# mcp-echo-server (HTTP with auth, stdio) and examples/token-arg (the seed's pattern).
if(TARGET mcp-echo-server AND TARGET token-arg)
  add_test(NAME echo_server.http
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/echo_server_http.py
                   $<TARGET_FILE:mcp-echo-server> $<TARGET_FILE:cli_mint_tool>
                   $<TARGET_FILE:token-arg>)
  set_tests_properties(echo_server.http PROPERTIES TIMEOUT 90)
endif()
