# Defines the `dmcp_mint` static library (tests/support/mint.c) once, whoever asks first
# (bench/ and examples/ are configured before tests/). Include-safe.
if(NOT TARGET dmcp_mint)
  add_library(dmcp_mint STATIC ${CMAKE_CURRENT_LIST_DIR}/mint.c)
  target_include_directories(dmcp_mint PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(dmcp_mint PUBLIC OpenSSL::Crypto PkgConfig::JANSSON PRIVATE dmcp_warnings)
endif()
