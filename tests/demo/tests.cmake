# The README's first command, minus the build: scripts/demo-run.sh against this build tree
# (sandbox + calendar server + demo-client), checking that the four narrated steps happened and
# that everything it started is stopped afterwards.
add_test(NAME demo.run
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/check_demo.sh ${PROJECT_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(demo.run PROPERTIES TIMEOUT 120)
