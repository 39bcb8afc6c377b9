#!/bin/sh
# Make Debian's newest kernel suite (experimental) visible to apt, pinned so low that
# nothing is ever upgraded from it, then fetch one package from it into a directory.
#   kernel-suite.sh fetch <dest-dir> <package-glob>
# The archive address is read from the machine's own apt configuration.
set -eu
suite=${RWP_KERNEL_SUITE:-experimental}
list=/etc/apt/sources.list.d/rwp-kernel.sources
pin=/etc/apt/preferences.d/rwp-kernel
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo

archive_uri() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f"
	done | head -n 1
	[ -f /etc/apt/sources.list ] &&
		awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list
}

add_suite() {
	[ -f "$list" ] && return 0
	uri=$(archive_uri | head -n 1)
	[ -n "$uri" ] || { echo "kernel-suite: no Debian archive configured in apt" >&2; exit 1; }
	printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
		"$uri" "$suite" | $sudo tee "$list" >/dev/null
	printf 'Package: *\nPin: release a=%s\nPin-Priority: 1\n' "$suite" | $sudo tee "$pin" >/dev/null
	$sudo apt-get update -q >/dev/null
}

# newest package matching the glob (e.g. 'linux-binary-*-cloud-amd64') whose kernel is >= 7.3
newest() {
	apt-cache pkgnames | grep -x "$(echo "$1" | sed 's/\*/.*/g')" |
		awk '{ v = $0; sub(/^linux-[a-z]+-/, "", v); split(v, a, /[.-]/);
		       if (a[1] + 0 > 7 || (a[1] + 0 == 7 && a[2] + 0 >= 3)) print }' |
		sort -V | tail -n 1
}

case "${1:-}" in
fetch)
	dest=$2 glob=$3
	add_suite
	pkg=$(newest "$glob")
	[ -n "$pkg" ] || { echo "kernel-suite: no $glob >= 7.3 in suite $suite" >&2; exit 1; }
	mkdir -p "$dest"
	(cd "$dest" && apt-get download -q "$pkg/$suite" >/dev/null 2>&1 || apt-get download -q "$pkg" >/dev/null)
	ls "$dest"/"$pkg"_*.deb
	;;
fetch-exact)
	dest=$2 pkg=$3
	add_suite
	mkdir -p "$dest"
	(cd "$dest" && apt-get download -q "$pkg/$suite" >/dev/null 2>&1)
	ls "$dest"/"$pkg"_*.deb
	;;
*)
	echo "usage: $0 fetch <dest-dir> <package-glob> | fetch-exact <dest-dir> <package>" >&2
	exit 2
	;;
esac
