#!/bin/sh
# Run one libFuzzer target for a bounded time over its seed corpus (never written to):
# new inputs and any crash go to WORK_DIR. Fails if the fuzzer finds anything.
# usage: run-fuzz.sh FUZZER SEED_DIR WORK_DIR [DICT]   (RWP_FUZZ_SECONDS, default 20)
set -eu
fuzzer=$1 seeds=$2 work=$3
if [ $# -ge 4 ]; then set -- "-dict=$4"; else set --; fi
rm -rf "$work"
mkdir -p "$work/corpus" "$work/crash"
# libFuzzer's default error exit code, 77, would read as "skipped" to meson
exec "$fuzzer" -max_total_time="${RWP_FUZZ_SECONDS:-20}" -rss_limit_mb=1024 -timeout=10 \
	-error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 "$@" \
	-artifact_prefix="$work/crash/" "$work/corpus" "$seeds"
