# The Slurm backend against a real Slurm that ctest starts (fixture `slurm`):
# scripts/slurm-test-cluster.sh runs a private munged, slurmctld and one slurmd per fake node
# (h800-1, h800-2, h100-1, h100-2 with 8 fake GPUs each) on 127.0.0.1, its state, logs and
# configuration in STRAITS_TEST_SLURM_DIR, ports derived from that folder so that two build
# trees do not clash. Clients find it with SLURM_CONF=${STRAITS_TEST_SLURM_DIR}/etc/slurm.conf.
#
# Tests that use the cluster take FIXTURES_REQUIRED slurm and RESOURCE_LOCK slurm_cluster:
# some crash a node or restart slurmctld, and a test that counts free GPUs must not share the
# cluster with another one's jobs. The end-to-end tests of the agent do the same.
string(MD5 STRAITS_SLURM_HASH "${CMAKE_BINARY_DIR}")
set(STRAITS_TEST_SLURM_DIR "/tmp/straits-slurm-${STRAITS_SLURM_HASH}")

add_test(NAME slurm_start
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/slurm-test-cluster.sh ${STRAITS_TEST_SLURM_DIR} up)
add_test(NAME slurm_stop
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/slurm-test-cluster.sh ${STRAITS_TEST_SLURM_DIR} down)
# The first start may install Slurm and munge (apt-get).
set_tests_properties(slurm_start PROPERTIES FIXTURES_SETUP slurm RESOURCE_LOCK slurm_cluster
  TIMEOUT 600 LABELS slurm)
set_tests_properties(slurm_stop PROPERTIES FIXTURES_CLEANUP slurm RESOURCE_LOCK slurm_cluster
  TIMEOUT 120 LABELS slurm)

add_executable(straits_slurm_backend_test exec/slurm_backend_test.cc)
target_link_libraries(straits_slurm_backend_test PRIVATE straits_exec
  GTest::gtest GTest::gtest_main)
target_include_directories(straits_slurm_backend_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(straits_slurm_backend_test PRIVATE
  STRAITS_TEST_SLURM_DIR="${STRAITS_TEST_SLURM_DIR}"
  STRAITS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
gtest_discover_tests(straits_slurm_backend_test DISCOVERY_TIMEOUT 60 TEST_PREFIX slurm.
  PROPERTIES FIXTURES_REQUIRED slurm RESOURCE_LOCK slurm_cluster TIMEOUT 120 LABELS slurm)
