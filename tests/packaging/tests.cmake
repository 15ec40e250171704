# Packaging: install into a scratch prefix, then build a consumer with find_package(dmcp) and
# another with pkg-config. Not for sanitizer builds (sanitized libraries are never installed).
if(NOT DMCP_SANITIZE AND NOT DMCP_FUZZ)
  add_test(NAME packaging.install_consumers
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/check_install.sh ${CMAKE_BINARY_DIR}
                   ${CMAKE_CURRENT_LIST_DIR}/consumer ${CMAKE_C_COMPILER})
  set_tests_properties(packaging.install_consumers PROPERTIES TIMEOUT 300)
endif()
