# The soak's short mode (scripts/soak.py --short, about 100 s; scripts/soak.sh runs the long
# one): mcp-echo-server of this build under sustained load, churn, slow clients, a flood from
# 127.0.0.2, malformed requests and a JWKS that rotates, answers slowly and goes down. The
# sanitizer-report criterion is checked when this build is sanitized (DMCP_SANITIZE, the ASan
# suite of scripts/test.sh); in the gcc suite the same run checks every other criterion.
# RUN_SERIAL: it loads both cores, and it measures latency and RSS.
if(TARGET mcp-echo-server AND TARGET cli_mint_tool)
  find_program(DMCP_WRK wrk)
  set(DMCP_SOAK_ARGS --short)
  if(DMCP_WRK)
    list(APPEND DMCP_SOAK_ARGS --wrk ${DMCP_WRK})
  endif()
  if(DMCP_SANITIZE)
    list(APPEND DMCP_SOAK_ARGS --sanitized)
  endif()
  add_test(NAME soak.short
           COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/scripts/soak.py
                   --server $<TARGET_FILE:mcp-echo-server> --mint $<TARGET_FILE:cli_mint_tool>
                   ${DMCP_SOAK_ARGS})
  set_tests_properties(soak.short PROPERTIES TIMEOUT 240 RUN_SERIAL TRUE SKIP_RETURN_CODE 77)
endif()
