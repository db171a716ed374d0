# tests/security/: one test per attack a hostile tenant, job, operator or database
# administrator would try (docs/security.md), each written to fail on the code before its fix.
# One file per area, each defining its own test executables with TEST_PREFIX security.
foreach(area front jobs authz limits audit rulesets console)
  include(${CMAKE_CURRENT_LIST_DIR}/${area}.cmake OPTIONAL)
endforeach()
