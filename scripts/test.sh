#!/usr/bin/env bash
# Runs every test of the workspace: unit, in-process integration, and end to end with the
# real kubectl and the Python clients against a krust process. Installs what the tests need
# on a fresh machine; a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
if ! need cargo-nextest && ! cargo nextest --version >/dev/null 2>&1; then
    cargo install --locked cargo-nextest
fi
# Real nodes: the runtime's, the pod network's and the e2e tests run real containers.
./scripts/node-deps.sh
# The dashboard's end-to-end test drives a headless browser; `krust image save`'s archive is
# read back by podman (what `docker load` reads).
if ! need chromium || ! need podman; then
    apt-get update && apt-get install -y chromium podman
fi
if ! need kubectl; then
    echo "kubectl is required for the end-to-end tests (the machine image carries v1.32.4)" >&2
    exit 1
fi
# The official Kubernetes Python client and kr8s, pinned, in a virtualenv of the build
# directory (never the system's site-packages); the e2e tests run $KRUST_PYTHON.
venv="${CARGO_TARGET_DIR:-target}/python-venv"
requirements=crates/krust-e2e/tests/python/requirements.txt
if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    if ! python3 -c 'import ensurepip' 2>/dev/null; then
        apt-get update && apt-get install -y python3-venv # Debian keeps ensurepip apart
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
fi
if ! cmp -s "$requirements" "$venv/requirements.txt"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/requirements.txt"
fi
KRUST_PYTHON="$(cd "$venv" && pwd)/bin/python"
export KRUST_PYTHON

cargo build --workspace --all-targets
# No packet to a cluster address leaves the machine during the whole run (DESIGN.md).
./scripts/leak-watch.sh start
trap './scripts/leak-watch.sh stop' EXIT
status=0
cargo nextest run --workspace --no-fail-fast "$@" || status=$?
./scripts/leak-watch.sh check || status=1
exit "$status"
