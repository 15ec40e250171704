# The `descope-mcp validate` command-line contract (issue 2), checked from the outside: every
# exit code and output shape, with a static JWKS and tokens from tests/cli/mint_tool.c.
include(${PROJECT_SOURCE_DIR}/tests/support/mint.cmake)
add_executable(cli_mint_tool ${CMAKE_CURRENT_LIST_DIR}/mint_tool.c)
set_target_properties(cli_mint_tool PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_link_libraries(cli_mint_tool PRIVATE dmcp_mint dmcp_warnings)
add_test(NAME cli.validate
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/cli_test.py
                 $<TARGET_FILE:descope-mcp> $<TARGET_FILE:cli_mint_tool>)
set_tests_properties(cli.validate PROPERTIES TIMEOUT 600)
# The `descope-mcp gateway` flag and config contract (issue 11), offline.
add_test(NAME cli.gateway COMMAND ${CMAKE_CURRENT_LIST_DIR}/gateway_cli_test.sh $<TARGET_FILE:descope-mcp>)
set_tests_properties(cli.gateway PROPERTIES TIMEOUT 120)
