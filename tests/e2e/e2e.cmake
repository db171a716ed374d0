# End to end: the server in the test process, `straits agent` child processes on the local
# backend and on the real Slurm cluster of the `slurm` fixture, the example training program.
add_executable(straits_e2e_test e2e/agents_e2e_test.cc e2e/rules_e2e_test.cc)
target_link_libraries(straits_e2e_test PRIVATE straits_api PkgConfig::TEST_HTTPLIB
  nlohmann_json::nlohmann_json GTest::gtest GTest::gtest_main)
target_include_directories(straits_e2e_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(straits_e2e_test PRIVATE STRAITS_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  STRAITS_BINARY="$<TARGET_FILE:straits>" STRAITS_TRAIN_BINARY="$<TARGET_FILE:straits-train>"
  STRAITS_TEST_SLURM_DIR="${STRAITS_TEST_SLURM_DIR}")
add_dependencies(straits_e2e_test straits straits-train)
gtest_discover_tests(straits_e2e_test DISCOVERY_TIMEOUT 60 TEST_PREFIX e2e.
  PROPERTIES FIXTURES_REQUIRED slurm RESOURCE_LOCK slurm_cluster TIMEOUT 300 LABELS e2e)
