#!/bin/sh
# Run meson suite 'kernel' of BUILD_DIR inside a Linux >= 7.3 VM, where native RWP exists.
#   vm-test.sh BUILD_DIR        (BUILD_DIR configured with -Dstatic_tests=true)
# Boots Debian's newest >= 7.3 cloud kernel under QEMU TCG with an initramfs of
# busybox-static, the static test binaries and scripts/vm-init.sh as /init. The console
# streams to stdout and to BUILD_DIR/vm-test.log; the exit status is the suite's result.
# Environment:
#   RWP_SKIP_VM=1          skip (loudly) and exit 0
#   RWP_VM_TIMEOUT=SECS    limit on the whole VM run (default 2400)
#   RWP_VM_TEST_TIMEOUT=S  limit on each test inside the VM (default 900)
#   RWP_VM_KERNEL=PATH     boot this vmlinuz instead of the cached/fetched one
#   RWP_VM_RUN="PROG ARGS" instead of the suite, run BUILD_DIR/PROG ARGS in the VM (for the
#                          benchmarks' native figures); its exit status is the result
# The kernel is fetched once with scripts/kernel-suite.sh and cached in
# ${XDG_CACHE_HOME:-~/.cache}/rwp/kernel/ (delete that directory to fetch a newer one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# = 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)

if [ "${RWP_SKIP_VM:-0}" = 1 ]; then
	echo "!!!!!! vm-test: RWP_SKIP_VM=1: the Linux 7.3 VM suite was SKIPPED by the user;" \
		"the native RWP path was NOT tested !!!!!!"
	exit 0
fi

die() { echo "vm-test: $*" >&2; exit 1; }

# A static ELF has no program interpreter: `file` says so, else ldd refuses it.
is_static() {
	if command -v file >/dev/null; then
		file -bL "$1" | grep -Eq 'statically linked|static-pie linked'
	else
		! ldd "$1" >/dev/null 2>&1 || ldd "$1" 2>&1 | grep -q 'statically linked'
	fi
}

# --- what the host must have ---------------------------------------------------------
missing=
command -v qemu-system-x86_64 >/dev/null || missing="$missing, qemu-system-x86_64 (package qemu-system-x86)"
if [ ! -x /bin/busybox ]; then
	missing="$missing, /bin/busybox (package busybox-static)"
elif ! is_static /bin/busybox; then
	missing="$missing, a static /bin/busybox (package busybox-static; this one is dynamic)"
fi
# GNU cpio if installed, else busybox's own applet (it writes newc too)
if command -v cpio >/dev/null; then
	cpio="cpio --quiet"
elif [ -x /bin/busybox ] && /bin/busybox cpio --help 2>&1 | grep -q 'newc'; then
	cpio="/bin/busybox cpio"
else
	missing="$missing, cpio (package cpio)"
fi
for t in python3 meson dpkg-deb gzip timeout; do
	command -v $t >/dev/null || missing="$missing, $t"
done
[ -z "$missing" ] || die "cannot run the 7.3 VM suite, missing: ${missing#, }." \
	"Install them (make deps) or set RWP_SKIP_VM=1 to skip it."

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rwp-vm.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# --- the kernel: cached vmlinuz, else fetched from the archive apt is configured with ----
cache=${XDG_CACHE_HOME:-${HOME:-$build}/.cache}/rwp/kernel
kernel=${RWP_VM_KERNEL:-$cache/vmlinuz}
if [ ! -s "$kernel" ]; then
	[ -z "${RWP_VM_KERNEL:-}" ] || die "RWP_VM_KERNEL=$kernel does not exist"
	echo "vm-test: fetching the newest >= 7.3 cloud kernel (once; cached in $cache)"
	deb=$("$here/kernel-suite.sh" fetch "$tmp/deb" 'linux-binary-*-cloud-amd64') ||
		die "cannot fetch a Linux >= 7.3 kernel package (see above)"
	dpkg-deb -x "$deb" "$tmp/kx" || die "cannot unpack $deb"
	set -- "$tmp"/kx/usr/lib/modules/*/vmlinuz
	[ -s "$1" ] || die "no usr/lib/modules/*/vmlinuz in $deb"
	mkdir -p "$cache"
	# copy then rename, so an interrupted run never leaves half a kernel in the cache
	cp "$1" "$cache/vmlinuz.part"
	basename "$(dirname "$1")" >"$cache/release"
	basename "$deb" >"$cache/package"
	mv "$cache/vmlinuz.part" "$cache/vmlinuz"
fi
if [ -n "${RWP_VM_KERNEL:-}" ]; then
	echo "vm-test: kernel $kernel (RWP_VM_KERNEL)"
else
	echo "vm-test: kernel $(cat "$cache/package" 2>/dev/null || echo "$kernel")"
fi

# --- the tests: executables of meson suite 'kernel' ------------------------------------
if [ -n "${RWP_VM_RUN:-}" ]; then
	prog=${RWP_VM_RUN%% *}
	args=${RWP_VM_RUN#"$prog"}
	[ -x "$build/$prog" ] || die "RWP_VM_RUN: $build/$prog is not built"
	echo "$build/$prog" >"$tmp/tests"
else
meson introspect --tests "$build" >"$tmp/tests.json" || die "meson introspect --tests $build failed"
python3 - "$tmp/tests.json" >"$tmp/tests" <<'EOF' || die "cannot read the test list"
import json, sys
for t in json.load(open(sys.argv[1])):
    if any(s == "kernel" or s.endswith(":kernel") for s in t.get("suite", [])):
        if len(t["cmd"]) != 1:
            sys.exit("test %s has arguments %r; the VM runs bare executables" % (t["name"], t["cmd"]))
        print(t["cmd"][0])
EOF
[ -s "$tmp/tests" ] || die "no tests of suite 'kernel' in $build"
fi

# --- the initramfs --------------------------------------------------------------------
root=$tmp/root
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" "$root/tests"
cp /bin/busybox "$root/bin/busybox"
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
done
cp "$here/vm-init.sh" "$root/init"
chmod 755 "$root/init"
while read -r exe; do
	[ -x "$exe" ] || die "test $exe is not built (run ninja -C $build)"
	is_static "$exe" ||
		die "test $exe is dynamically linked; the VM needs static tests:" \
			"configure $build with -Dstatic_tests=true -Ddefault_library=static"
	cp "$exe" "$root/tests/"
	echo "vm-test: test ${exe##*/}"
done <"$tmp/tests"
if [ -n "${RWP_VM_RUN:-}" ]; then
	mv "$root/tests/${prog##*/}" "$root/bin/"
	printf '#!/bin/sh\nexec %s%s\n' "${prog##*/}" "$args" >"$root/tests/run"
	chmod 755 "$root/tests/run"
fi
(cd "$root" && find . | $cpio -o -H newc -R 0:0) | gzip -1 >"$tmp/initramfs.gz"

# A disk for the tests that need a real filesystem (O_DIRECT, a file on disk): ext4 on
# NVMe, both built into the cloud kernel (virtio-blk is a module there).
disk=$tmp/disk.img
truncate -s 256M "$disk"
mkfs.ext4 -q -F "$disk" || die "mkfs.ext4 failed (package e2fsprogs)"

# --- boot ------------------------------------------------------------------------------
# TCG only: -enable-kvm hangs at boot on these (paravirtual KVM) machines. 8 GiB: the
# guest reserves 1100 huge pages (2.2 GiB) besides the 1 GiB shmem and anon regions.
log=$build/vm-test.log
limit=${RWP_VM_TIMEOUT:-2400}
per_test=${RWP_VM_TEST_TIMEOUT:-900} # the kernel hands unknown NAME=value to /init's environment
boot() {
	echo "vm-test: booting QEMU (TCG), limit ${limit}s; console also in $log"
	# --foreground keeps QEMU in our process group, so ^C reaches it. QEMU's status goes
	# to a file because a pipeline's status is tee's.
	{
		rc=0
		timeout --foreground -k 10 "$limit" qemu-system-x86_64 -accel tcg -cpu max -m 8G \
			-smp 2 -nographic -no-reboot -kernel "$kernel" -initrd "$tmp/initramfs.gz" \
			-drive file="$disk",format=raw,if=none,id=d0 -device nvme,serial=rwp0,drive=d0 \
			-append "console=ttyS0 panic=-1 quiet RWP_VM_TEST_TIMEOUT=$per_test" \
			</dev/null || rc=$?
		echo "$rc" >"$tmp/qemu-rc"
	} 2>&1 | tee "$log"
}
t0=$(date +%s)
boot
# TCG now and then breaks the kernel's own code patching on a second vCPU while it boots
# (an int3 oops before /init). No test ran: boot once more, and say so.
if ! tr -d '\r' <"$log" | grep -aq 'RWP-VM: kernel' && grep -aq 'Kernel panic' "$log"; then
	cp "$log" "$log.boot-panic"
	echo "vm-test: the kernel panicked while booting, before any test ran" \
		"(kept in $log.boot-panic); booting again"
	boot
fi
secs=$(($(date +%s) - t0))
qrc=$(cat "$tmp/qemu-rc" 2>/dev/null || echo '?')

# --- verdict: only the init's result line counts ----------------------------------------
echo "vm-test: ---- summary (VM ran ${secs}s, QEMU exit $qrc) ----"
tr -d '\r' <"$log" | grep -a -o 'RWP-VM-TEST: .*' || true
res=$(tr -d '\r' <"$log" | grep -a -o 'RWP-VM-RESULT: pass=[0-9]* fail=[0-9]*' | tail -n 1) || true
if [ -z "$res" ]; then
	case $qrc in 124 | 137)
		die "FAILED: the VM hit the ${limit}s limit (RWP_VM_TIMEOUT) before reporting; see $log" ;;
	esac
	die "FAILED: the VM stopped without a result line (crash or panic?); see $log"
fi
pass=$(echo "$res" | sed 's/.*pass=\([0-9]*\).*/\1/')
fail=$(echo "$res" | sed 's/.*fail=\([0-9]*\).*/\1/')
[ "$fail" = 0 ] || die "FAILED: $fail of the VM suite failed ($res); see $log"
[ "$pass" -ge 1 ] || die "FAILED: no test passed in the VM ($res)"
echo "vm-test: Linux 7.3 VM suite passed ($res) in ${secs}s"
