# The example server's command-line contract, driven from outside over loopback HTTP: a Python
# loopback issuer (discovery + JWKS) and tokens from tests/cli/mint_tool.c (cli_mint_tool).
if(TARGET mcp-echo-server)
  add_test(NAME echo_server.http
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/echo_server_http.py
                   $<TARGET_FILE:mcp-echo-server> $<TARGET_FILE:cli_mint_tool>)
  set_tests_properties(echo_server.http PROPERTIES TIMEOUT 90)
endif()
