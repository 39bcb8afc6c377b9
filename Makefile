# rwp: the two commands a newcomer needs, on a fresh Debian 12 machine.
#   make demo    build and run the demo guest, write the report and plots to demo-out/
#   make check   build, run the host test suite under ASan/UBSan, fuzz the parsers of
#                untrusted input for a minute (clang, libFuzzer), then the same kernel
#                suite in a Linux >= 7.3 VM (QEMU TCG) where the native RWP path runs
# Both install what they need with apt (scripts/setup.sh) first.

BUILD      ?= build
ASAN_BUILD ?= build-asan
VM_BUILD   ?= build-static
FUZZ_BUILD ?= build-fuzz
FUZZERS    := fuzz-proto fuzz-config fuzz-fc-json
MESON_OPTS ?=

.PHONY: all deps build check check-host check-fuzz check-vm demo bench clean

all: build

deps:
	@scripts/setup.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false $(MESON_OPTS)

$(VM_BUILD)/build.ninja:
	meson setup $(VM_BUILD) -Dstatic_tests=true -Ddefault_library=static $(MESON_OPTS)

# libFuzzer needs clang: its own build dir, where only the fuzz targets are built.
$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) $(MESON_OPTS)

check: deps check-host check-fuzz check-vm

check-host: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	scripts/test-env.sh meson test -C $(ASAN_BUILD) --print-errorlogs

check-fuzz: $(FUZZ_BUILD)/build.ninja
	meson compile -C $(FUZZ_BUILD) $(FUZZERS)
	meson test -C $(FUZZ_BUILD) --suite fuzz --no-rebuild --print-errorlogs

check-vm: $(VM_BUILD)/build.ninja
	ninja -C $(VM_BUILD)
	scripts/vm-test.sh $(VM_BUILD)

demo: build
	scripts/test-env.sh scripts/demo.sh $(BUILD) demo-out

# The benchmarks, one after the other (about 25 minutes); figures in BENCHMARKS.md.
bench: build
	scripts/test-env.sh $(BUILD)/bench/rwp-bench-track
	scripts/test-env.sh $(BUILD)/bench/rwp-bench-tier
	scripts/test-env.sh $(BUILD)/bench/rwp-bench-daemon --rwpd $(BUILD)/daemon/rwpd

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(VM_BUILD) $(FUZZ_BUILD)
