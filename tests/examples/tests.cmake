# Runs of the examples and benchmarks (their CMakeLists.txt are configured before testing is
# enabled, so their tests are registered here).
if(TARGET seed_snippets)
  # The require_scopes snippet prints the seed README's InsufficientScopeError body.
  add_test(NAME examples.seed_snippets COMMAND seed_snippets)
  set_tests_properties(examples.seed_snippets PROPERTIES
    PASS_REGULAR_EXPRESSION "\"scope\": \"calendar.read read write\"")
endif()
if(TARGET quickstart)
  add_test(NAME examples.quickstart COMMAND quickstart)
  set_tests_properties(examples.quickstart PROPERTIES TIMEOUT 60)
endif()
if(TARGET bench_validate)
  # A smoke run only: the figures are printed by a full run, never asserted in CI.
  add_test(NAME bench.validate.smoke COMMAND bench_validate --quick)
  set_tests_properties(bench.validate.smoke PROPERTIES TIMEOUT 120)
endif()
