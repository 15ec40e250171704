# The source layout keeps the three rooms apart (auth core, MCP runtime, glue).
add_test(NAME layout.rooms COMMAND ${CMAKE_CURRENT_LIST_DIR}/check_rooms.sh ${PROJECT_SOURCE_DIR})
