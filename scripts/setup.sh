#!/usr/bin/env bash
# Installs the Debian 12 packages fedsign needs (with --tests: also those of the tests and
# benchmarks). Idempotent: packages already present are skipped.
set -euo pipefail

# What building and running fedsign needs (README command 1).
packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-openmp          # LibTorch 1.13.1 (CPU) + a fast BLAS
  libopencv-dev                             # image decoding, resizing, CLAHE, drawing
  libcli11-dev nlohmann-json3-dev libspdlog-dev   # CLI parsing, JSON, logging
  libxxhash-dev                             # XXH3: checksums and cache keys (header only)
  libmgl-dev                                # MathGL: PNG plots in-process
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc libssl-dev  # RPC
  libcpp-httplib-dev                        # HTTP: status endpoint, dashboard, serving
)
# What the tests and benchmarks need besides (README command 2: scripts/setup.sh --tests).
test_packages=(
  libgtest-dev libgmock-dev libbenchmark-dev     # tests and benchmarks
  libxml2-dev                               # tests: parsing report.html
  chromium curl                             # tests and scripts/dashboard_screenshot.sh: the live dashboard
)
if [ "${1:-}" = "--tests" ]; then
  packages+=("${test_packages[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
