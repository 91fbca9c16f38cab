#!/usr/bin/env bash
# Runs every test of the workspace: unit, in-process integration, and end to end with the
# real kubectl against a krust process. Installs what the tests need on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
if ! need cargo-nextest && ! cargo nextest --version >/dev/null 2>&1; then
    cargo install --locked cargo-nextest
fi
if ! need kubectl; then
    echo "kubectl is required for the end-to-end tests (the machine image carries v1.32.4)" >&2
    exit 1
fi

cargo build --workspace --all-targets
cargo nextest run --workspace --no-fail-fast "$@"
