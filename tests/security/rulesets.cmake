# Rule sets (issue 17): a tenant pushing, proposing, adopting, retiring or reading drafts;
# hostile packs (huge files, thousands of files, '../' and NUL in names, deep JSON); a pack
# that is valid text but attacks the compiler. A real server in the test process on an SQLite
# store (tests/api/server_fixture.h).
add_executable(straits_security_rulesets_test security/rulesets_test.cc)
target_link_libraries(straits_security_rulesets_test PRIVATE straits_api PkgConfig::TEST_HTTPLIB
  SQLite::SQLite3 nlohmann_json::nlohmann_json GTest::gtest GTest::gtest_main)
target_include_directories(straits_security_rulesets_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(straits_security_rulesets_test PRIVATE
  STRAITS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
gtest_discover_tests(straits_security_rulesets_test DISCOVERY_TIMEOUT 60 TEST_PREFIX security.)
