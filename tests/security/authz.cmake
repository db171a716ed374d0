# Authorisation attacks (issue 15): a tenant-admin relabelling its own data past a rule, an agent
# token reaching beyond its sites, and conflicts that told one tenant of another's ids and names.
# The real server in the test process, over real HTTP on a loopback port, on a real SQLite file.
add_executable(straits_security_authz_test security/authz_test.cc)
target_link_libraries(straits_security_authz_test PRIVATE straits_api PkgConfig::TEST_HTTPLIB
  SQLite::SQLite3 PostgreSQL::PostgreSQL nlohmann_json::nlohmann_json GTest::gtest GTest::gtest_main)
target_include_directories(straits_security_authz_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(straits_security_authz_test PRIVATE
  STRAITS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
gtest_discover_tests(straits_security_authz_test DISCOVERY_TIMEOUT 60 TEST_PREFIX security.)
