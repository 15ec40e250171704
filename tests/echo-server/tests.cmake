# The example server's command-line contract, driven from outside over loopback HTTP.
if(TARGET mcp-echo-server)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_FOUND)
    add_test(NAME echo_server.http
             COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/echo_server_http.py
                     $<TARGET_FILE:mcp-echo-server>)
    set_tests_properties(echo_server.http PROPERTIES TIMEOUT 60)
  endif()
endif()
