# Command-line contract of `descope-mcp connection-token` against a standalone fake Descope API.
add_executable(fake_descope ${CMAKE_CURRENT_LIST_DIR}/fake_descope.c)
set_target_properties(fake_descope PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_compile_definitions(fake_descope PRIVATE _POSIX_C_SOURCE=200809L)
target_link_libraries(fake_descope PRIVATE PkgConfig::MHD PkgConfig::JANSSON dmcp_warnings)
add_test(NAME cli.connection_token
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run.sh $<TARGET_FILE:descope-mcp>
                 $<TARGET_FILE:fake_descope>)
set_tests_properties(cli.connection_token PROPERTIES TIMEOUT 600)
