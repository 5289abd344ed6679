# A thin front door over CMake presets. Every target installs what is missing first
# (scripts/install-deps is quick when nothing is).
PRESET ?= release
BUILD := build/$(PRESET)
JOBS ?= $(shell nproc)
ARGS ?=
FORMAT_FILES = $(shell git ls-files '*.cc' '*.h' 2>/dev/null)

.PHONY: all deps build run test test-asan bench bench-micro format format-check clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake --preset $(PRESET) > /dev/null
	@cmake --build --preset $(PRESET)

# Starts the gateway on 127.0.0.1:8080 with the built-in offline configuration
# (`make run ARGS="-c examples/sluice.yaml"` for a file).
run: build
	$(BUILD)/sluice serve $(ARGS)

# Every test suite: formatting, unit, integration, end-to-end (official OpenAI Node client).
test: build format-check
	ctest --preset $(PRESET) -j $(JOBS)

# The unit and integration suites under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan:
	@$(MAKE) --no-print-directory PRESET=asan build
	ctest --preset asan -j $(JOBS) -LE e2e

# Side-by-side load benchmark against nginx (see BENCHMARKS.md).
bench: build
	python3 bench/load/proxy_bench.py --sluice $(BUILD)/sluice $(ARGS)

bench-micro: build
	$(BUILD)/bench/sluice_micro_bench

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf build
