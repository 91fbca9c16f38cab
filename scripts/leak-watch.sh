#!/usr/bin/env bash
# DESIGN.md's network-safety rule, checked over a whole test run: no packet to a cluster
# address may leave the machine. `start` counts (and drops) every packet that would leave
# through the default-route interface for 10.32.0.0/11, which holds every pod, service and
# test-host range the tests and krust's defaults use (10.32–10.45), logging each to the kernel
# log (`krust-leak: `); `check` prints the count (and the logged packets) and fails unless it
# is 0; `stop` removes the table. Without a default route nothing can
# leave, and there is nothing to watch.
set -euo pipefail
table=krust-leakwatch
ranges=10.32.0.0/11

dev=$(ip route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
case "${1:-}" in
start)
    [ -n "$dev" ] || { echo "leak watch: no default route, nothing can leave"; exit 0; }
    nft delete table ip "$table" 2>/dev/null || true
    nft -f - <<EOF
table ip $table {
    chain out {
        type filter hook postrouting priority 500; policy accept;
        oifname "$dev" ip daddr $ranges counter log prefix "krust-leak: " drop
    }
}
EOF
    echo "leak watch: counting packets to $ranges leaving through $dev"
    ;;
check)
    nft list table ip "$table" >/dev/null 2>&1 || exit 0
    packets=$(nft list table ip "$table" | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
    echo "leak watch: $packets packets to $ranges tried to leave through $dev"
    [ "$packets" = 0 ] || { dmesg 2>/dev/null | grep "krust-leak: " | tail -n 20; exit 1; }
    ;;
stop)
    nft delete table ip "$table" 2>/dev/null || true
    ;;
*)
    echo "usage: $0 start|check|stop" >&2
    exit 2
    ;;
esac
