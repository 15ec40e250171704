# The validator's unit tests use the test minter (tests/support/mint.{h,c}).
include(${PROJECT_SOURCE_DIR}/tests/support/mint.cmake)
foreach(t test_validator test_adversarial test_keysource test_tokencache test_claims
          test_jws_wycheproof)
  if(TARGET ${t})
    target_link_libraries(${t} PRIVATE dmcp_mint)
  endif()
endforeach()
# test_keysource runs a libmicrohttpd JWKS server in the test process.
if(TARGET test_keysource)
  target_link_libraries(test_keysource PRIVATE PkgConfig::MHD)
endif()
