#!/bin/sh
# /init of the initramfs that scripts/vm-test.sh boots in a Linux >= 7.3 VM (busybox sh).
# Runs every executable in /tests under RWP_TEST_STRICT=1, forwards their TAP output to the
# console, fails on kernel warnings, prints one RWP-VM-RESULT line and powers off.
# vm-test.sh reads only the result line: anything that keeps it from being printed (crash,
# hang, panic) fails the run.
export PATH=/bin
set -u

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
# The kernel gave init the /dev/console of the built-in initramfs; reopen the devtmpfs one.
exec </dev/console >/dev/console 2>&1

# the tests map a 1 GiB hugetlbfs region (scripts/test-env.sh reserves the same on the host)
echo 1100 >/proc/sys/vm/nr_hugepages
echo "RWP-VM: kernel $(uname -r), $(nproc) cpus, $(grep MemTotal /proc/meminfo | tr -s ' ')," \
	"$(cat /proc/sys/vm/nr_hugepages) huge pages"

# the disk vm-test.sh attached: the tests' files that must not be in memory go there
mkdir -p /mnt/disk
for i in 1 2 3 4 5 6 7 8 9 10; do
	[ -b /dev/nvme0n1 ] && break
	sleep 0.5
done
if mount -t ext4 /dev/nvme0n1 /mnt/disk; then
	export RWP_TEST_DIR=/mnt/disk
else
	echo "RWP-VM: no disk: tests that need one will fail under strict mode"
fi

export RWP_TEST_STRICT=1
# The stock backends are tested on the host; here the native ones, which only this kernel has.
export RWP_TEST_BACKENDS=native
# Under TCG a tick of a 1 GiB guest takes seconds: the torture needs longer for its 10^5
export RWP_TORTURE_SECS=100
per_test=${RWP_VM_TEST_TIMEOUT:-900}
pass=0 fail=0 failed=
start_all=$(date +%s)
for t in /tests/*; do
	[ -x "$t" ] || continue
	name=${t##*/}
	echo "RWP-VM-TEST: start $name"
	start=$(date +%s)
	# -k: a test stuck in an uninterruptible fault still goes away
	timeout -k 10 "$per_test" "$t" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	# exit 0 passes; 1 fails; 77 (all skipped) fails too under strict; >= 124 timeout/signal
	if [ "$rc" = 0 ]; then
		pass=$((pass + 1))
		echo "RWP-VM-TEST: pass $name (${secs}s)"
	else
		fail=$((fail + 1)) failed="$failed $name"
		echo "RWP-VM-TEST: FAIL $name exit=$rc (${secs}s)"
	fi
done

# A kernel warning, BUG or oops during the run fails it even if every test passed.
if dmesg | grep -E 'WARNING:|BUG:|Oops|Call Trace' >/tmp/bad; then
	echo "RWP-VM-TEST: FAIL kernel log has warnings:"
	dmesg | grep -E -B 2 -A 30 'WARNING:|BUG:|Oops|Call Trace' | head -n 200
	fail=$((fail + 1)) failed="$failed kernel-log"
fi

echo "RWP-VM: tests took $(($(date +%s) - start_all))s; failed:${failed:- none}"
echo "RWP-VM-RESULT: pass=$pass fail=$fail"
sync
poweroff -f
# not reached; if it were, init exiting panics and panic=-1 ends QEMU all the same
reboot -f
