#!/bin/sh
# Refresh include/uapi/linux from Debian's linux-libc-dev of the newest kernel suite.
# The files are copied byte for byte (never reformatted) and UPSTREAM records the version.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
files="userfaultfd.h fs.h mount.h fscrypt.h"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
deb=$("$top/scripts/kernel-suite.sh" fetch-exact "$tmp" linux-libc-dev)
dpkg-deb -x "$deb" "$tmp/x"
for f in $files; do
	cp "$tmp/x/usr/include/linux/$f" "$top/include/uapi/linux/$f"
done
{
	echo "package: $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)"
	echo "files: $files"
	echo "copied unmodified from usr/include/linux by scripts/update-uapi.sh"
} >"$top/include/uapi/UPSTREAM"
cat "$top/include/uapi/UPSTREAM"
