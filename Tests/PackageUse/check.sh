#!/bin/bash
# Builds a package that depends on moebench by version, as a user's package would: the
# committed HEAD is cloned into a scratch folder and tagged 0.0.1, and consumer/ depends on
# that tag through a file:// URL. SwiftPM refuses unsafe flags in versioned dependencies, so
# this fails if Package.swift sets any without MOEBENCH_FAST=1. Usage: check.sh [SCRATCH_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel)
work=${1:-$(mktemp -d)}
rm -rf "$work/moebench" "$work/consumer"
git clone -q "$repo" "$work/moebench"
git -C "$work/moebench" checkout -q "$(git -C "$repo" rev-parse HEAD)"
git -C "$work/moebench" tag 0.0.1
cp -R "$here/consumer" "$work/consumer"
cd "$work/consumer"
env -u MOEBENCH_FAST MOEBENCH_PACKAGE_URL="file://$work/moebench" swift build
env -u MOEBENCH_FAST MOEBENCH_PACKAGE_URL="file://$work/moebench" swift run consumer
echo "package-use check: moebench builds as a versioned dependency"
