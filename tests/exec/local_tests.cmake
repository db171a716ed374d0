# The local backend (src/exec/local.cc, backend.cc) with real processes and real signals, and
# the example training program it runs (examples/jobs/train.cc, target straits-train).
straits_test(straits_exec_local_test
  SOURCES exec/local_backend_test.cc
  LIBS straits_exec)
target_compile_definitions(straits_exec_local_test PRIVATE
  STRAITS_TRAIN_BINARY="$<TARGET_FILE:straits-train>")
add_dependencies(straits_exec_local_test straits-train)
