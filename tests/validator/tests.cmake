# The validator's unit tests use the test minter (tests/support/mint.{h,c}).
include(${PROJECT_SOURCE_DIR}/tests/support/mint.cmake)
foreach(t test_validator test_adversarial test_jsonlite test_config test_keysource
          test_keyrefresh test_tokencache test_claims test_jws_wycheproof)
  if(TARGET ${t})
    target_link_libraries(${t} PRIVATE dmcp_mint)
  endif()
endforeach()
# test_keysource and test_keyrefresh run a libmicrohttpd JWKS server in the test process.
foreach(t test_keysource test_keyrefresh)
  if(TARGET ${t})
    target_link_libraries(${t} PRIVATE PkgConfig::MHD)
  endif()
endforeach()

# A quick timing program for the validator's overhead (not a test; see bench/ for the
# official benchmark): build/bin/validator_timing [iterations]
add_executable(validator_timing ${CMAKE_CURRENT_LIST_DIR}/vtiming.c)
set_target_properties(validator_timing PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
target_link_libraries(validator_timing PRIVATE dmcp_internal dmcp_mint dmcp_warnings)
