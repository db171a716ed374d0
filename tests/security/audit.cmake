# Attacks on history and secrets (issue 15, sections 6 and 7): a database administrator who
# re-hashes the audit chain, cuts its tail or edits a lease; a bundle altered after export;
# tokens in logs or in files others can read; fleet figures without a token. Each test runs the
# real `straits` binary (serve, audit) over a temporary SQLite store.
add_executable(straits_security_audit_test security/audit_test.cc)
target_link_libraries(straits_security_audit_test PRIVATE straits_store SQLite::SQLite3
  nlohmann_json::nlohmann_json PkgConfig::TEST_HTTPLIB GTest::gtest GTest::gtest_main)
target_include_directories(straits_security_audit_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(straits_security_audit_test PRIVATE
  STRAITS_BINARY="$<TARGET_FILE:straits>" STRAITS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(straits_security_audit_test straits)
gtest_discover_tests(straits_security_audit_test DISCOVERY_TIMEOUT 60 TEST_PREFIX security.)
