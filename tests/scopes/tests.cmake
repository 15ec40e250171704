# Differential test: dmcp_scope_error_to_json() against Python's json.dumps(indent=2) over
# generated inputs (unicode, controls, quotes, backslashes, empty lists, duplicates).
add_executable(scope_json_tool ${CMAKE_CURRENT_LIST_DIR}/scope_json_tool.c)
set_target_properties(scope_json_tool PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_link_libraries(scope_json_tool PRIVATE dmcp_static dmcp_warnings PkgConfig::JANSSON)
add_test(NAME scopes.json_differential
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/json_differential.py
                 $<TARGET_FILE:scope_json_tool>)
set_tests_properties(scopes.json_differential PROPERTIES TIMEOUT 120)

# The validator-level scope check signs a token with the test minter.
include(${PROJECT_SOURCE_DIR}/tests/support/mint.cmake)
if(TARGET test_scopes_validator)
  target_link_libraries(test_scopes_validator PRIVATE dmcp_mint)
endif()
