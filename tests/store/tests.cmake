# The state store's packaging (issue 10): no libhiredis in the NEEDED list of the library or of
# a program that uses it (hiredis is loaded on first use of redis://).
add_test(NAME store.no_hiredis_needed COMMAND ${CMAKE_CURRENT_LIST_DIR}/no_hiredis_needed.sh
  $<TARGET_FILE:dmcp> $<TARGET_FILE:mcp-echo-server> $<TARGET_FILE:descope-mcp>)
set_tests_properties(store.no_hiredis_needed PROPERTIES SKIP_RETURN_CODE 77)
