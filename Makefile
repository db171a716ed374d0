# The front door: `make run` and `make test` work on a fresh Debian 12 machine.
# Build trees: build/ (release, binary build/straits), build-debug/ (tests,
# -Werror), build-sanitize/ (address + undefined sanitizers).

JOBS      ?= $(shell nproc)
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
CMAKE_OPTS ?=
SOURCES   := $(shell git ls-files '*.cc' '*.h' 2>/dev/null)

.PHONY: all deps build run test debug sanitize bench format lint clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B build $(GENERATOR) -DCMAKE_BUILD_TYPE=Release -DSTRAITS_BUILD_TESTS=OFF $(CMAKE_OPTS) >/dev/null
	@cmake --build build -j $(JOBS)

# The main job. Until the simulator and the server exist: the shipped catalog.
run: build
	@./build/straits catalog validate
	@./build/straits catalog show

debug: deps
	@cmake -S . -B build-debug $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug -DSTRAITS_WERROR=ON $(CMAKE_OPTS) >/dev/null
	@cmake --build build-debug -j $(JOBS)

test: debug
	@cd build-debug && ctest --output-on-failure -j $(JOBS)

sanitize: deps
	@cmake -S . -B build-sanitize $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug -DSTRAITS_WERROR=ON -DSTRAITS_SANITIZE=ON -DSTRAITS_BUILD_BENCH=OFF $(CMAKE_OPTS) >/dev/null
	@cmake --build build-sanitize -j $(JOBS)
	@cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

bench: build
	@cmake -S . -B build -DSTRAITS_BUILD_BENCH=ON >/dev/null
	@cmake --build build -j $(JOBS) --target straits_bench
	@./build/bench/straits_bench --benchmark_min_time=0.2

format: deps
	@clang-format -i $(SOURCES)

# Formatting check, static analysis, and the module dependency check.
# passedByValue is off: Money, Instant and Currency are small values, passed by value on purpose.
lint: deps
	@clang-format --dry-run --Werror $(SOURCES)
	@scripts/check-deps.sh
	@cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem --suppress=passedByValue --std=c++20 --language=c++ \
	  -I src $(filter src/%.cc,$(SOURCES))

clean:
	rm -rf build build-debug build-sanitize
