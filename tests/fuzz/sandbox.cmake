# The Lua sandbox fuzz target (tests/fuzz/fuzz_sandbox.c; issue 13).
# Always: the bounded random driver, run 5 s by ctest (label `fuzz`).
# With -DPAGODA_LIBFUZZER=ON and clang (tests/fuzz/CMakeLists.txt): the
# libFuzzer build, also run 5 s.
add_executable(fuzz_sandbox_driver ${CMAKE_CURRENT_LIST_DIR}/fuzz_sandbox.c)
target_compile_definitions(fuzz_sandbox_driver PRIVATE PGD_FUZZ_STANDALONE)
target_link_libraries(fuzz_sandbox_driver PRIVATE pgd_script)
set_target_properties(fuzz_sandbox_driver PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME fuzz.sandbox_driver COMMAND fuzz_sandbox_driver 5 ${PAGODA_FUZZ_SEED})
set_tests_properties(fuzz.sandbox_driver PROPERTIES TIMEOUT 120 LABELS "fuzz")

if(PAGODA_LIBFUZZER)
  add_executable(fuzz_sandbox ${CMAKE_CURRENT_LIST_DIR}/fuzz_sandbox.c)
  target_compile_options(fuzz_sandbox PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz_sandbox PRIVATE -fsanitize=fuzzer)
  target_link_libraries(fuzz_sandbox PRIVATE pgd_script)
  set_target_properties(fuzz_sandbox PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME fuzz.sandbox COMMAND fuzz_sandbox -max_total_time=5 -seed=${PAGODA_FUZZ_SEED} -timeout=20 -rss_limit_mb=1024)
  set_tests_properties(fuzz.sandbox PROPERTIES TIMEOUT 120 LABELS "fuzz")
endif()
