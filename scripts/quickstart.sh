#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the main job on the embedded sample.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh -DFEDSIGN_BUILD_TESTS=OFF -DFEDSIGN_BUILD_BENCH=OFF
config=configs/quickstart.toml
[ -f configs/fl/quickstart.toml ] && config=configs/fl/quickstart.toml
if [ "$config" = configs/fl/quickstart.toml ]; then
  build/bin/fedsign fl simulate --config "$config" --out runs/quickstart
else
  build/bin/fedsign train --config "$config" --out runs/quickstart
fi
echo "run directory: runs/quickstart (metrics.csv, accuracy.png, loss.png, model.pt)"
