#!/usr/bin/env bash
# README command 2: install what is missing, build everything, run all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
scripts/build.sh -DFEDSIGN_BUILD_TESTS=ON -DFEDSIGN_BUILD_BENCH=ON
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
