#!/bin/sh
# Run a command with the machine set up for rwp's tests: enough free huge pages for a
# 1 GiB hugetlbfs guest, and userfaultfd reachable. Needs root for the sysctl; without it
# the hugetlbfs cases say why they skip.
set -eu
want=${RWP_HUGEPAGES:-1100}
have=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
if [ "$have" -lt "$want" ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "$want" >/proc/sys/vm/nr_hugepages
	elif command -v sudo >/dev/null; then
		sudo sh -c "echo $want >/proc/sys/vm/nr_hugepages" || true
	fi
fi
exec "$@"
