#!/usr/bin/env bash
# Installs what a krust node runs on this host, when missing (Debian packages): iproute2 and
# nftables make the pod network, conntrack clears stale UDP flows of hostPorts,
# busybox-static is what the tests' images are made of. (Containers are krust's own work.)
set -euo pipefail
missing=()
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v nft >/dev/null 2>&1 || missing+=(nftables)
command -v conntrack >/dev/null 2>&1 || missing+=(conntrack)
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update && apt-get install -y "${missing[@]}"
fi
