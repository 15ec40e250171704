# The state store's packaging (issue 10): no libhiredis in the NEEDED list of the library or of
# a program that uses it (hiredis is loaded on first use of redis://).
# (Fuzz builds have no programs: the library alone then.)
set(_no_hiredis_files $<TARGET_FILE:dmcp>)
foreach(_prog mcp-echo-server descope-mcp)
  if(TARGET ${_prog})
    list(APPEND _no_hiredis_files $<TARGET_FILE:${_prog}>)
  endif()
endforeach()
add_test(NAME store.no_hiredis_needed COMMAND ${CMAKE_CURRENT_LIST_DIR}/no_hiredis_needed.sh
  ${_no_hiredis_files})
set_tests_properties(store.no_hiredis_needed PROPERTIES SKIP_RETURN_CODE 77)
