#!/usr/bin/env bash
# Starts a local krust cluster (`krust start`, as `minikube start`): installs what the node
# needs when missing (scripts/node-deps.sh), builds krust and runs `krust start` with the
# arguments given. As root, this host is the cluster's node and runs real containers; the
# cluster runs in the background and kubectl's current context leads to it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then
    ./scripts/node-deps.sh
fi
exec cargo run --release -p krust -- start "$@"
