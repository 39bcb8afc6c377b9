#!/bin/sh
# What `make demo` runs: a guest whose working set moves phase by phase, tracked, evicted
# and fetched back by librwp for about a minute, then the report and plots.
#   demo.sh BUILD_DIR OUTDIR
# rwp-vm runs the guest under KVM. Where KVM is unusable (rwp-vm exits 3) the same guest
# runs as threads (rwp-demo-threads), with the same report. OUTDIR receives the run's
# JSON, heatmap.png and wss.png (rwp-demo-plot). Environment: RWP_DEMO_MB (guest MiB,
# default 1024), RWP_DEMO_SECONDS (default 60), RWP_DEMO_ARGS (more rwp-vm options).
set -eu
[ $# = 2 ] || { echo "usage: $0 BUILD_DIR OUTDIR" >&2; exit 2; }
build=$1 out=$2
json=$out/rwp-demo.json
mkdir -p "$out"
rm -f "$json"

# RWP_DEMO_ARGS is split into words on purpose
# shellcheck disable=SC2086
set -- --mem-mb "${RWP_DEMO_MB:-1024}" --seconds "${RWP_DEMO_SECONDS:-60}" --json "$json" \
	${RWP_DEMO_ARGS:-}
# ^C ends the run early; it still checks and reports, and the plots are still made
trap 'echo "demo: interrupted, finishing the report"' INT
rc=0
"$build/vmm/rwp-vm" "$@" || rc=$?
if [ "$rc" = 3 ]; then
	echo "demo: no usable KVM here, so the same guest runs as threads instead"
	rc=0
	"$build/demo/rwp-demo-threads" "$@" || rc=$?
fi
# a run that went wrong still plots what it recorded
if [ -s "$json" ]; then
	"$build/demo/rwp-demo-plot" "$json" "$out"
	echo "demo: JSON in $json"
fi
[ "$rc" = 0 ] || echo "demo: the run FAILED (exit status $rc, see above)" >&2
exit "$rc"
