# Jobs are untrusted code (issue 15, section 1): a job's attempts to steal the agent's token
# (its arguments, environment, token file, state.json), to reach another org's run folders, to
# smuggle a path through a job id, and to get a one-element list run as shell. Real `straits
# agent` processes against the real server in the test process, and the agent's core over the
# real local backend; the runs execute as other Unix users, so the tests need root (as CI is)
# and skip otherwise.
add_executable(straits_security_jobs_test security/jobs_test.cc)
target_link_libraries(straits_security_jobs_test PRIVATE straits_agent straits_exec straits_api
  PkgConfig::TEST_HTTPLIB SQLite::SQLite3 PostgreSQL::PostgreSQL nlohmann_json::nlohmann_json
  GTest::gtest GTest::gtest_main)
target_include_directories(straits_security_jobs_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(straits_security_jobs_test PRIVATE
  STRAITS_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  STRAITS_TEST_DATA_DIR="${STRAITS_TEST_DATA_DIR}"
  STRAITS_BINARY="$<TARGET_FILE:straits>"
  STRAITS_TEST_SLURM_DIR="/nonexistent"
  STRAITS_TRAIN_BINARY="$<TARGET_FILE:straits-train>")
add_dependencies(straits_security_jobs_test straits straits-train)
gtest_discover_tests(straits_security_jobs_test DISCOVERY_TIMEOUT 60 TEST_PREFIX security.
  PROPERTIES TIMEOUT 300 LABELS security)
