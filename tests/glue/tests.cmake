# The glue's unit tests (tests/unit/test_protect.c, test_protect26.c, test_protect_identity.c,
# test_pcache.c, test_http_health.c)
# mint their tokens with the test minter.
include(${PROJECT_SOURCE_DIR}/tests/support/mint.cmake)
foreach(t test_protect test_protect26 test_protect_identity test_pcache test_http_health)
  if(TARGET ${t})
    target_link_libraries(${t} PRIVATE dmcp_mint)
  endif()
endforeach()
