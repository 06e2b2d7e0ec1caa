#!/usr/bin/env bash
# Takes docs/images/dashboard.png: runs the main job (configs/fl/quickstart.toml) with the live
# dashboard on a loopback port and, once round ROUND is done, has headless Chromium (Debian's
# `chromium`; `scripts/setup.sh --tests` installs it) take a picture of the page.
#
# usage: scripts/dashboard_screenshot.sh [OUT_PNG] [ROUND]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/images/dashboard.png}
round=${2:-12}
port=${PORT:-18765}
command -v chromium > /dev/null || { echo "dashboard_screenshot: chromium is not installed" >&2; exit 1; }
[ -x build/bin/fedsign ] || { echo "dashboard_screenshot: build first (scripts/build.sh)" >&2; exit 1; }

run=$(mktemp -d)
trap 'kill "$pid" 2> /dev/null || true; rm -rf "$run"' EXIT
build/bin/fedsign fl simulate --config configs/fl/quickstart.toml --status-address "127.0.0.1:$port" \
  --out "$run/run" > "$run/log" 2>&1 &
pid=$!
for _ in $(seq 600); do  # at most 5 minutes
  # The top-level "round" (keys are sorted: it comes right before "rounds") is the last one done.
  done_rounds=$(curl -s "http://127.0.0.1:$port/status" |
    grep -o '"round":[0-9]*,"rounds"' | grep -o '[0-9]*' | head -1 || true)
  [ "${done_rounds:-0}" -ge "$round" ] && break
  kill -0 "$pid" 2> /dev/null || { cat "$run/log" >&2; exit 1; }
  sleep 0.5
done
timeout 90 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$run/browser" --virtual-time-budget=3000 --window-size=1120,760 \
  --screenshot="$out" "http://127.0.0.1:$port/" 2> /dev/null
echo "wrote $out (round $round of the main job)"
