# The test minter (tests/support/mint.{h,c}): a static library `dmcp_mint` that generates keys,
# exports JWK / JWKS text and signs compact JWS tokens for tests, benchmarks and demos.
#
# How to use it from another module: tests/CMakeLists.txt includes every tests/*/tests.cmake
# AFTER the unit tests are defined, and in alphabetical folder order, so:
#   - a unit test tests/unit/test_foo.c links it from a tests.cmake of your own folder with
#         if(TARGET test_foo)
#           target_link_libraries(test_foo PRIVATE dmcp_mint)
#         endif()
#     (if your folder sorts before "support", guard with `if(NOT TARGET dmcp_mint)` and
#     include(${PROJECT_SOURCE_DIR}/tests/support/tests.cmake) first - it is include-safe);
#   - bench/ and examples/ are added before tests/, so they build it themselves with
#         add_library(x_mint STATIC ${PROJECT_SOURCE_DIR}/tests/support/mint.c)
#     or use the `dmcp_mint_sources` list below only from within tests.
# #include "mint.h" (the include directory is exported by the target).
if(TARGET dmcp_mint)
  return()
endif()

add_library(dmcp_mint STATIC ${CMAKE_CURRENT_LIST_DIR}/mint.c)
target_include_directories(dmcp_mint PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(dmcp_mint PUBLIC OpenSSL::Crypto PkgConfig::JANSSON PRIVATE dmcp_warnings)

add_executable(test_mint_selftest ${CMAKE_CURRENT_LIST_DIR}/mint_selftest.c)
set_target_properties(test_mint_selftest PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_link_libraries(test_mint_selftest PRIVATE dmcp_mint dmcp_warnings)
add_test(NAME unit.mint_selftest COMMAND test_mint_selftest)
set_tests_properties(unit.mint_selftest PROPERTIES TIMEOUT 60)

# The JOSE unit tests use the minter.
foreach(t test_jwk test_sig test_jose_adversarial test_jws_split)
  if(TARGET ${t})
    target_link_libraries(${t} PRIVATE dmcp_mint)
  endif()
endforeach()
