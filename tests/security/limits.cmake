# Limits (issue 15): a pool edit that strands leases and jobs, a store that does not fit its
# pools, one org flooding the queue, and bad inputs (negative durations and prices, dates
# outside 1970-2200, control characters in names and ids, unbounded job specs). A real server
# in the test process on an SQLite store (tests/api/server_fixture.h).
add_executable(straits_security_limits_test security/limits_test.cc)
target_link_libraries(straits_security_limits_test PRIVATE straits_api PkgConfig::TEST_HTTPLIB
  SQLite::SQLite3 nlohmann_json::nlohmann_json GTest::gtest GTest::gtest_main)
target_include_directories(straits_security_limits_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(straits_security_limits_test PRIVATE
  STRAITS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
gtest_discover_tests(straits_security_limits_test DISCOVERY_TIMEOUT 60 TEST_PREFIX security.)
