#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The man pages render without a single groff warning, every page is installed by
# man/meson.build, and every global symbol of lib/librwp.map has a man3 page: its own, or
# a ".so" link to the page whose NAME lists it. __rwp_tier_inject, a test hook, has none.
#
# usage: check-man.sh MANDIR MAPFILE
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 MANDIR MAPFILE" >&2
	exit 2
fi
mandir=$1
map=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")

if ! command -v groff >/dev/null 2>&1; then
	echo "check-man: groff not found (Debian package groff-base, see" \
	     "scripts/debian-packages.txt)" >&2
	exit 1
fi

cd "$mandir"
fail=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

bad() {
	echo "FAIL: $*"
	fail=1
}

# The symbols NAME lists: the lines between .SH NAME and the next .SH, up to the "\-".
names() {
	awk '/^\.SH /{ on = ($2 == "NAME"); next } on' "$1" |
		sed 's/\\-.*//' | tr ',' '\n' | tr -d ' \t'
}

# Render each page on a terminal as man(1) does, and typeset on paper pages. The terminal
# rendering is one continuous page: groff 1.22's tbl, given its default 66-line pages
# there, warns about text blocks that a page break would split, which never happens.
# ".so man3/x.3" is resolved from the man root, the current directory.
render() {
	if [ "$1" = utf8 ]; then
		{ printf '.pl 100000v\n'; cat "$2"; } | groff -t -man -ww -z -Tutf8 -
	else
		groff -t -man -ww -z -T"$1" "$2"
	fi
}

pages=$(ls man[1-8]/*.[1-8])
for page in $pages; do
	for dev in utf8 ps; do
		if ! LC_ALL=C.UTF-8 render "$dev" "$page" >"$out" 2>&1 || [ -s "$out" ]; then
			bad "$page (-T$dev) does not render cleanly:"
			sed 's/^/    /' "$out"
		fi
	done
	if LC_ALL=C grep -q '[^[:print:][:space:]]' "$page"; then
		bad "$page has bytes that are not printable ASCII"
	fi
	grep -q "'$page'" meson.build || bad "$page is not installed by man/meson.build"
	so=$(sed -n '1s/^\.so //p' "$page")
	if [ -n "$so" ] && [ "$(wc -l <"$page")" -ne 1 ]; then
		bad "$page: a link page holds its .so line only"
	fi
	if [ -n "$so" ] && [ ! -f "$so" ]; then
		bad "$page links to $so, which does not exist"
	fi
done

syms=$(sed -n '/global:/,/local:/p' "$map" |
	sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\);.*$/\1/p')
[ -n "$syms" ] || bad "no global symbols found in $map"
for sym in $syms; do
	[ "$sym" = __rwp_tier_inject ] && continue
	page=man3/$sym.3
	if [ ! -f "$page" ]; then
		bad "$sym has no man page ($page)"
		continue
	fi
	target=$(sed -n '1s/^\.so //p' "$page")
	target=${target:-$page}
	[ -f "$target" ] || continue
	names "$target" | grep -qx "$sym" || bad "$sym: NAME of $target does not list it"
done

if [ "$fail" -ne 0 ]; then
	exit 1
fi
echo "man pages: $(echo "$pages" | wc -l) render cleanly; every exported symbol has one"
