# The web console and its what-if runs (issue 18): paths that try to leave web/, the
# console's headers on every answer, no data without a token, who may start and read
# what-if runs, a flood of runs, malformed bodies, a stop during a long run. A real server in
# the test process on an SQLite store (tests/api/server_fixture.h), raw loopback sockets.
add_executable(straits_security_console_test security/console_test.cc)
target_link_libraries(straits_security_console_test PRIVATE straits_api PkgConfig::TEST_HTTPLIB
  SQLite::SQLite3 nlohmann_json::nlohmann_json GTest::gtest GTest::gtest_main)
target_include_directories(straits_security_console_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(straits_security_console_test PRIVATE
  STRAITS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
gtest_discover_tests(straits_security_console_test DISCOVERY_TIMEOUT 60 TEST_PREFIX security.
  PROPERTIES TIMEOUT 300)
