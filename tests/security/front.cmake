# The front door (issue 15, "a front door that holds"): a real server in the test process,
# attacked over raw loopback sockets: a chunked body over the cap without a token, a large
# Content-Length, trickling connections, long-polling agents, a flooding token, too many
# connections; and TLS spoken by curl with a certificate the test makes (openssl).
add_executable(straits_security_front_test security/front_test.cc)
target_link_libraries(straits_security_front_test PRIVATE straits_api PkgConfig::TEST_HTTPLIB
  nlohmann_json::nlohmann_json GTest::gtest GTest::gtest_main)
target_include_directories(straits_security_front_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(straits_security_front_test PRIVATE
  STRAITS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
gtest_discover_tests(straits_security_front_test DISCOVERY_TIMEOUT 60 TEST_PREFIX security.
  PROPERTIES TIMEOUT 120)
