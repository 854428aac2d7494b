# stompede: thin wrapper over CMake. `make run` and `make test` are the two commands of the README.
BUILD    ?= build
JOBS     ?= 2
SCENARIO ?= scenarios/quickstart.toml
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release

PREFIX   ?= /usr/local
STOMPEDE := $(BUILD)/app/stompede

.PHONY: all deps configure build run test test-release tsan bench clean format install package fuzz soak sanitize-core

# `make test`: every test tier built with ASan+UBSan in its own folder, with clang at -O0: a
# sanitizer build of the whole tree with clang at -O0 compiles faster than GCC's Release build
# (GCC's UBSan instrumentation is what makes its sanitizer builds slow; docs/reliability.md has
# the figures), so CI runs the whole suite sanitized. The binary the tests start is this build's.
# `make test-release` runs the same suite on the Release build of `make run`.
TEST_BUILD ?= build-test
TEST_CC    ?= clang
TEST_CXX   ?= clang++
TEST_FLAGS ?= -DSTOMPEDE_SANITIZE=address,undefined -DSTOMPEDE_SANITIZE_OPT=-O0 -DSTOMPEDE_BUILD_BENCH=OFF

# `make fuzz`: the libFuzzer targets (tests/fuzz) built with clang, ASan and UBSan in their own
# build folder, each run FUZZ_SECONDS; `make soak`: a long steady run sampled for growth
# (SOAK_MINUTES, default 60, and SOAK_USERS, default 2000). docs/reliability.md.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
# `make tsan`: the whole suite under ThreadSanitizer (clang, -O0) in its own folder, with the
# hand-overs inside the uninstrumented libcaf suppressed (tests/sanitizers/tsan.supp).
TSAN_BUILD ?= build-tsan
# `make sanitize-core`: a quick loop over the parsers -- the codec, the scenario loader and the
# fuzz smoke runs built with GCC's ASan+UBSan at -O0 (they need neither Beast nor CAF).
SAN_BUILD    ?= build-asan-core

all: build

deps:
	@scripts/install-deps

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

configure: $(BUILD)/CMakeCache.txt

build: deps configure
	cmake --build $(BUILD) -j$(JOBS)

run: build
	$(STOMPEDE) run $(SCENARIO)

$(TEST_BUILD)/CMakeCache.txt:
	CC=$(TEST_CC) CXX=$(TEST_CXX) cmake -S . -B $(TEST_BUILD) $(TEST_FLAGS)

# A test without its own TIMEOUT property gets 300 s, so a hang fails the run instead of stalling it.
test: deps $(TEST_BUILD)/CMakeCache.txt
	cmake --build $(TEST_BUILD) -j$(JOBS)
	ctest --test-dir $(TEST_BUILD) --output-on-failure -j$(JOBS) --timeout 300

tsan: deps
	CC=$(TEST_CC) CXX=$(TEST_CXX) cmake -S . -B $(TSAN_BUILD) -DSTOMPEDE_SANITIZE=thread \
	  -DSTOMPEDE_SANITIZE_OPT=-O0 -DSTOMPEDE_BUILD_BENCH=OFF
	cmake --build $(TSAN_BUILD) -j$(JOBS)
	TSAN_OPTIONS="suppressions=$(CURDIR)/tests/sanitizers/tsan.supp history_size=4" \
	  ctest --test-dir $(TSAN_BUILD) --output-on-failure -j$(JOBS) --timeout 600

test-release: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) --timeout 300

bench: build
	cmake --build $(BUILD) -j$(JOBS) --target benches
	@for b in $(BUILD)/bench/bench_*; do echo "== $$b"; $$b || exit 1; done
	@echo "== bench/seed_workload.sh (HOLD=$${HOLD:-30} s; more users: bench/seed_workload.sh 1000 5000 10000)"
	STOMPEDE=$(STOMPEDE) HOLD=$${HOLD:-30} bench/seed_workload.sh 1000

# Installs into $(PREFIX) (DESTDIR is honoured): bin/stompede, share/doc/stompede,
# share/stompede/{scenarios,monitoring}.
install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

# A Debian package (build/stompede_<version>_<arch>.deb) through CPack; installs to /usr.
package: build
	cd $(BUILD) && cpack -G DEB

fuzz:
	@scripts/install-deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Release \
	  -DSTOMPEDE_FUZZ=ON -DSTOMPEDE_SANITIZE=address,undefined \
	  -DSTOMPEDE_BUILD_TESTS=OFF -DSTOMPEDE_BUILD_BENCH=OFF
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_targets
	scripts/fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

sanitize-core: deps
	cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Release -DSTOMPEDE_SANITIZE=address,undefined \
	  -DSTOMPEDE_SANITIZE_OPT=-O0 -DSTOMPEDE_TESTS_CORE=ON -DSTOMPEDE_BUILD_BENCH=OFF
	cmake --build $(SAN_BUILD) -j$(JOBS) --target test_protocol test_config fuzz_targets
	ctest --test-dir $(SAN_BUILD) --output-on-failure -j$(JOBS) --timeout 300

soak: build
	scripts/soak $(STOMPEDE)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD) $(TEST_BUILD)
