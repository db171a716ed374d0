# The site agent (src/agent): its decisions with the real local backend and real processes
# (short sh commands, the example job straits-train), the state file, the protocol texts, `straits agent`'s flags and signals
# (the straits binary), and the agent over HTTP: against a small fake server in the test
# (self-fencing, a refused registration, reports kept while the server is away) and against the
# real server in the test process (a job's command run to success with its logs, a cancel).
straits_test(straits_agent_test
  SOURCES agent/agent_test.cc agent/agent_server_test.cc
  LIBS straits_agent straits_exec straits_api PkgConfig::TEST_HTTPLIB SQLite::SQLite3
       PostgreSQL::PostgreSQL nlohmann_json::nlohmann_json)
target_compile_definitions(straits_agent_test PRIVATE STRAITS_BINARY="$<TARGET_FILE:straits>"
  STRAITS_TRAIN_BINARY="$<TARGET_FILE:straits-train>")
add_dependencies(straits_agent_test straits straits-train)
