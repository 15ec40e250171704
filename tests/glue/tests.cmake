# The glue's unit test (tests/unit/test_protect.c) mints its tokens with the test minter.
include(${PROJECT_SOURCE_DIR}/tests/support/mint.cmake)
if(TARGET test_protect)
  target_link_libraries(test_protect PRIVATE dmcp_mint)
endif()
