# The console's read models (issue 18): a tenant probing other orgs through the fleet, what comes
# next and the jobs list's filters, search and sort; an operator-admin looking for tenants' jobs;
# bad parameters. The real server in the test process, over real HTTP, on a real SQLite file.
add_executable(straits_security_console_test security/console_api_test.cc)
target_link_libraries(straits_security_console_test PRIVATE straits_api PkgConfig::TEST_HTTPLIB
  SQLite::SQLite3 PostgreSQL::PostgreSQL nlohmann_json::nlohmann_json GTest::gtest GTest::gtest_main)
target_include_directories(straits_security_console_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(straits_security_console_test PRIVATE
  STRAITS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
gtest_discover_tests(straits_security_console_test DISCOVERY_TIMEOUT 60 TEST_PREFIX security.)
