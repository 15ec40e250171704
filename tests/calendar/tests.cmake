# The calendar example end to end: the official MCP TypeScript SDK client against
# <build>/bin/calendar-server, with a fake Descope connections API and a fake Calendar API
# written in the test (tests/interop/calendar/calendar.test.mjs; it lives there to use the
# pinned node_modules of tests/interop). Skipped (77) without those packages or the binary.
add_test(NAME calendar.e2e
         COMMAND ${PROJECT_SOURCE_DIR}/tests/interop/run-test.sh calendar/calendar.test.mjs)
set_tests_properties(calendar.e2e PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 90 LABELS interop
  ENVIRONMENT "DMCP_BIN_DIR=${CMAKE_BINARY_DIR}/bin;DMCP_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
