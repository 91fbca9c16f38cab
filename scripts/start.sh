#!/usr/bin/env bash
# Starts a krust cluster: installs what the node needs when missing (scripts/node-deps.sh),
# builds krust and runs `krust server` with the arguments given (as root, this host is the
# cluster's node and runs real containers).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then
    ./scripts/node-deps.sh
fi
exec cargo run --release -p krust -- server "$@"
