# The front door: `make run` and `make test` work on a fresh Debian 12 machine.
# Build trees: build/ (release, binary build/straits), build-debug/ (tests,
# -Werror), build-sanitize/ (clang: address + undefined sanitizers and the fuzz targets).

JOBS      ?= $(shell nproc)
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
CMAKE_OPTS ?=
SOURCES   := $(shell git ls-files '*.cc' '*.h' 2>/dev/null)

FUZZ_SECONDS ?= 60

.PHONY: all deps build install run what-if test debug sanitize tsan bench fuzz format lint clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B build $(GENERATOR) -DCMAKE_BUILD_TYPE=Release -DSTRAITS_BUILD_TESTS=OFF -DSTRAITS_BUILD_BENCH=OFF $(CMAKE_OPTS) >/dev/null
	@cmake --build build -j $(JOBS)

# `straits` without a path: the release binary and the example training program (straits-train)
# into PREFIX/bin, the shipped catalog and rule packs into PREFIX/share/straits (where the binary
# finds them). `make install PREFIX=$$HOME/.local`; DESTDIR=... stages a package.
PREFIX ?= /usr/local
install: build
	@cmake --install build --prefix "$(PREFIX)"

# The main job: the control plane on an embedded SQLite file (build/run/straits.db) with the
# shipped catalog and default rules, and a site agent on the local backend that runs the example
# world's jobs (examples/serve/seed.json: users, leases, jobs running examples/jobs/straits-train).
# It prints one banner (the URL, the admin token, what runs, three commands to try); everything
# else goes to build/run/*.log. Ctrl-C stops both gracefully; `rm -r build/run` starts over
# (scripts/run.sh).
run: build
	@PORT=$(PORT) scripts/run.sh

PORT ?= 8080

# What closing the remote-access loophole would cost a lab that leases H100/H200 in Singapore
# and Johor (examples/scenarios/, a real Gavel trace of 15,264 jobs): both runs, checked by the
# independent verifier, compared side by side, with an HTML report of each (a few seconds).
what-if: build
	@./build/straits sim compare examples/scenarios/hybrid-2025.yaml \
	  examples/scenarios/close-remote-access.yaml --out build/run/what-if
	@./build/straits sim verify build/run/what-if/baseline
	@./build/straits sim verify build/run/what-if/whatif
	@./build/straits sim report build/run/what-if/baseline
	@./build/straits sim report build/run/what-if/whatif
	@echo "open build/run/what-if/compare.html (the comparison) and build/run/what-if/*/report.html (each run)"

# The benchmarks are built and run by `make bench` (release), not in the test tree.
debug: deps
	@cmake -S . -B build-debug $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug -DSTRAITS_WERROR=ON -DSTRAITS_BUILD_BENCH=OFF $(CMAKE_OPTS) >/dev/null
	@cmake --build build-debug -j $(JOBS)

test: debug
	@cd build-debug && ctest --output-on-failure -j $(JOBS)

# The sanitizers and the fuzzers share one tree, build-sanitize, built once by clang with
# address and undefined-behaviour sanitizers and libFuzzer's coverage, at -O1 with line tables:
# `make sanitize` runs the tests there, `make fuzz` the fuzz targets. Left out here: the
# isolation matrix (1090 requests through handlers the API, OpenAPI and other isolation tests
# run here too) and the tests on the Slurm cluster (the Slurm backend's and the end-to-end ones,
# minutes of waiting on real daemons; the agent's and both backends' code runs under the
# sanitizers in their own tests) and the console in a browser (the server's routes it calls run
# here in the api and security suites): `make test` runs them.
SANITIZE_TREE = CC=clang CXX=clang++ cmake -S . -B build-sanitize $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug \
  "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" -DSTRAITS_WERROR=ON -DSTRAITS_SANITIZE=ON -DSTRAITS_FUZZ=ON $(CMAKE_OPTS) >/dev/null

# A tree configured by another compiler (before the two were one) is made again.
SANITIZE_FRESH = grep -qs 'CMAKE_CXX_COMPILER:.*clang' build-sanitize/CMakeCache.txt || rm -rf build-sanitize

sanitize: deps
	@scripts/install-deps.sh fuzz
	@$(SANITIZE_FRESH)
	@$(SANITIZE_TREE)
	@cmake --build build-sanitize -j $(JOBS)
	@cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS) \
	  -E 'api.IsolationTest.EveryRouteEveryRoleOwnAndOtherTenant|^slurm|^e2e\.|^console_browser$$'

# The thread sanitizer on what runs threads against each other: the server (HTTP front door,
# writer, scheduling loop, long-polls), the store (a writer and readers) and the site agent (its
# poll thread, backends, reports). A clang tree of its own, build-tsan, at -O1 with line tables;
# the Slurm, end-to-end and isolation-matrix tests are left out as in `make sanitize`.
TSAN_TESTS = straits_api_test straits_store_test straits_agent_test
tsan: deps
	@scripts/install-deps.sh fuzz
	@CC=clang CXX=clang++ cmake -S . -B build-tsan $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug \
	  "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" -DSTRAITS_WERROR=ON -DSTRAITS_TSAN=ON -DSTRAITS_BUILD_BENCH=OFF $(CMAKE_OPTS) >/dev/null
	@cmake --build build-tsan -j $(JOBS) --target $(TSAN_TESTS)
	@cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --output-on-failure -j $(JOBS) \
	  -R '^api\.|^store\.|^Agent' -E 'api.IsolationTest.EveryRouteEveryRoleOwnAndOtherTenant'

# Google Benchmark programs, then straits vs Cedar (cedar-wasm under Node.js)
# on the same requests in the same run, then the console's pages in headless chromium on the
# bench fleet (bench/console/pages.mjs). Results go to docs/benchmarks.md by hand.
bench: build
	@command -v node >/dev/null || scripts/install-deps.sh bench
	@[ -d bench/cedar/node_modules ] || (cd bench/cedar && npm ci --no-audit --no-fund --silent)
	@cmake -S . -B build -DSTRAITS_BUILD_BENCH=ON >/dev/null
	@cmake --build build -j $(JOBS) --target straits_bench straits_policy_vs_cedar straits_sim_scale straits_trace_bench straits_server_pass
	@./build/bench/straits_bench --benchmark_min_time=0.2
	@./build/bench/straits_policy_vs_cedar
	@./build/bench/straits_sim_scale
	@./build/bench/straits_trace_bench
	@./build/bench/straits_server_pass
	@node bench/console/pages.mjs build/straits build/console-test

# libFuzzer (clang) on the rule parser, the value parsers, the trace readers, the API's requests
# and what a site agent reads (the server's answers, its state file, Slurm's output), FUZZ_SECONDS each,
# from the seed corpus in fuzz/corpus/ (copied, so the committed seeds stay as they are).
fuzz: deps
	@scripts/install-deps.sh fuzz
	@$(SANITIZE_FRESH)
	@$(SANITIZE_TREE)
	@cmake --build build-sanitize -j $(JOBS) --target rule_parser_fuzz value_parsers_fuzz trace_readers_fuzz api_requests_fuzz agent_inputs_fuzz
	@rm -rf build-sanitize/corpus && mkdir -p build-sanitize/corpus && cp -r fuzz/corpus/rules fuzz/corpus/values fuzz/corpus/traces fuzz/corpus/api fuzz/corpus/agent build-sanitize/corpus/
	@cd build-sanitize && ./fuzz/rule_parser_fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 corpus/rules 2>rule_parser_fuzz.log || { tail -40 rule_parser_fuzz.log; exit 1; }
	@tail -6 build-sanitize/rule_parser_fuzz.log
	@cd build-sanitize && ./fuzz/value_parsers_fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 corpus/values 2>value_parsers_fuzz.log || { tail -40 value_parsers_fuzz.log; exit 1; }
	@tail -6 build-sanitize/value_parsers_fuzz.log
	@cd build-sanitize && ./fuzz/trace_readers_fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 corpus/traces 2>trace_readers_fuzz.log || { tail -40 trace_readers_fuzz.log; exit 1; }
	@tail -6 build-sanitize/trace_readers_fuzz.log
	@cd build-sanitize && ./fuzz/api_requests_fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 corpus/api 2>api_requests_fuzz.log || { tail -40 api_requests_fuzz.log; exit 1; }
	@tail -6 build-sanitize/api_requests_fuzz.log
	@cd build-sanitize && ./fuzz/agent_inputs_fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 corpus/agent 2>agent_inputs_fuzz.log || { tail -40 agent_inputs_fuzz.log; exit 1; }
	@tail -6 build-sanitize/agent_inputs_fuzz.log

format: deps
	@clang-format -i $(SOURCES)

# Formatting check, static analysis, the module dependency check, no path out of the repository
# (scripts/check-paths.sh), and the README listing every command and target (check-readme.sh:
# it asks the newest straits binary built, so `make build` or `make test` comes first).
# passedByValue is off: Money, Instant and Currency are small values, passed by value on purpose.
lint: deps
	@clang-format --dry-run --Werror $(SOURCES)
	@scripts/check-deps.sh
	@scripts/check-paths.sh
	@scripts/check-readme.sh
	@cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem --suppress=passedByValue --std=c++20 --language=c++ \
	  -I src $(filter src/%.cc,$(SOURCES))

clean:
	rm -rf build build-debug build-sanitize build-tsan
