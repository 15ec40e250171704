# The test minter (tests/support/mint.{h,c}): a static library `dmcp_mint` that generates keys,
# exports JWK / JWKS text and signs compact JWS tokens for tests, benchmarks and demos.
# #include "mint.h"; the include directory comes with the target.
#
# How to use it:
#   - tests/CMakeLists.txt includes every tests/*/tests.cmake AFTER the unit tests are defined,
#     so a unit test tests/unit/test_foo.c links the minter from a tests.cmake of your own
#     folder (tests/<you>/tests.cmake):
#         include(${PROJECT_SOURCE_DIR}/tests/support/mint.cmake)   # defines it if needed
#         target_link_libraries(test_foo PRIVATE dmcp_mint)
#   - bench/<dir>/CMakeLists.txt and examples/<dir>/CMakeLists.txt (configured before tests/)
#     do the same two lines for their executables.
include(${CMAKE_CURRENT_LIST_DIR}/mint.cmake)

add_executable(test_mint_selftest ${CMAKE_CURRENT_LIST_DIR}/mint_selftest.c)
set_target_properties(test_mint_selftest PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_link_libraries(test_mint_selftest PRIVATE dmcp_mint dmcp_warnings)
add_test(NAME unit.mint_selftest COMMAND test_mint_selftest)
set_tests_properties(unit.mint_selftest PROPERTIES TIMEOUT 60)

# The JOSE unit tests (tests/unit/test_jwk.c, test_jose_sig.c, ...) use the minter.
foreach(t test_jwk test_jose_sig test_jws_split test_rfc7520)
  if(TARGET ${t})
    target_link_libraries(${t} PRIVATE dmcp_mint)
  endif()
endforeach()
