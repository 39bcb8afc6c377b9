#!/bin/sh
# Install the Debian packages listed in scripts/debian-packages.txt that are missing.
# Idempotent; a machine that has everything runs no apt command at all.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
missing=
for p in $(grep -v '^#' "$here/debian-packages.txt"); do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "setup: installing$missing"
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
$sudo apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing >/dev/null
