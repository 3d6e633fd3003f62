#!/usr/bin/env bash
# install-peers.sh: install what the native C yardstick needs (a C compiler, the C
# library headers) and the C allocators it compares against (Debian packages).
# Idempotent and non-interactive; run as root, or as a user with sudo.
#
#   scripts/install-peers.sh            # install what is missing
#   scripts/install-peers.sh --check    # only report, install nothing
set -euo pipefail

PACKAGES=(gcc libc6-dev libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4)
export DEBIAN_FRONTEND=noninteractive

die() { echo "install-peers: $*" >&2; exit 1; }

command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script supports Debian/Ubuntu only; install ${PACKAGES[*]} (or their equivalents) by hand"
command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo -n)
	else
		die "not root and sudo is not available: run as root"
	fi
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for p in "${PACKAGES[@]}"; do
	if installed "$p"; then
		echo "install-peers: $p already installed ($(dpkg-query -W -f='${Version}' "$p"))"
	else
		missing+=("$p")
	fi
done

if [ "${1:-}" = "--check" ]; then
	[ "${#missing[@]}" -eq 0 ] || { echo "install-peers: missing: ${missing[*]}"; exit 1; }
	exit 0
fi

if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-peers: nothing to install"
	exit 0
fi

echo "install-peers: installing ${missing[*]}"
"${SUDO[@]}" apt-get update -qq || die "apt-get update failed"
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" || die "apt-get install failed for: ${missing[*]}"

for p in "${missing[@]}"; do
	installed "$p" || die "$p still not installed after apt-get install"
	echo "install-peers: installed $p ($(dpkg-query -W -f='${Version}' "$p"))"
done
