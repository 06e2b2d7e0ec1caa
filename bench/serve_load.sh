#!/usr/bin/env bash
# Loopback load test of `fedsign serve` (issue 18): p50/p99 latency and images/s at concurrency
# 1, 8 and 64, with micro-batching on (--max-batch 64) and off (--max-batch 1), beside the
# in-process baseline (train::Predictor, what `fedsign predict` runs) in the same run; then a
# model reload every 2 s under load at concurrency 8, counting failed requests.
# Writes bench/results/serve_load.md (or $RESULTS) and prints it.
#
# Usage: bench/serve_load.sh [BUILD_DIR]      (default: build; needs bin/fedsign, bench/serve_load)
# Environment: MODEL (run directory; default: two 1-epoch compact models trained on data/sample
# into runs/serve_bench/), IMAGES (data folder whose PNGs are sent; default data/sample),
# SECONDS_PER_RUN (5), PORT (18080), RESULTS.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
FEDSIGN="$BUILD/bin/fedsign"
LOAD="$BUILD/bench/serve_load"
WORK=runs/serve_bench
IMAGES_DIR="${IMAGES:-data/sample}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-5}"
PORT="${PORT:-18080}"
RESULTS="${RESULTS:-bench/results/serve_load.md}"
for tool in "$FEDSIGN" "$LOAD"; do
  [[ -x "$tool" ]] || { echo "missing $tool: build fedsign_cli and serve_load first" >&2; exit 1; }
done
mkdir -p "$WORK"

# Two models: A serves, B is swapped in (and A back) during the reload test.
if [[ -n "${MODEL:-}" ]]; then
  MODEL_A="$MODEL"
  MODEL_B="$MODEL"
else
  MODEL_A="$WORK/model-a"
  MODEL_B="$WORK/model-b"
  for m in a:1 b:2; do
    dir="$WORK/model-${m%%:*}"
    [[ -f "$dir/model.pt" ]] ||
      "$FEDSIGN" train --data data/sample --epochs 1 --seed "${m##*:}" --threads 2 \
        --cache-dir "$WORK/cache" --out "$dir" \
        >"$WORK/train-${m%%:*}.log" 2>&1
  done
fi
SERVED="$WORK/served"  # the watched copy
mkdir -p "$SERVED"
cp "$MODEL_A/model.json" "$SERVED/model.json"
cp "$MODEL_A/model.pt" "$SERVED/model.pt"
mapfile -t IMAGES < <(find "$IMAGES_DIR" -name '*.png' | sort | head -256)
[[ ${#IMAGES[@]} -gt 0 ]] || { echo "no PNG images under $IMAGES_DIR" >&2; exit 1; }

SERVER_PID=""
stop_server() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
trap stop_server EXIT
start_server() {  # extra serve options...
  "$FEDSIGN" serve "$SERVED" --port "$PORT" "$@" >"$WORK/serve.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "fedsign serve did not start:" >&2
  cat "$WORK/serve.log" >&2
  exit 1
}

START_LOAD="$(uptime | sed 's/.*load average: //')"
ROWS="$WORK/rows.md"
: >"$ROWS"
"$LOAD" inprocess --model "$SERVED" --seconds "$SECONDS_PER_RUN" "${IMAGES[@]}" | tee -a "$ROWS"
for batching in on off; do
  max_batch=64
  [[ $batching == off ]] && max_batch=1
  start_server --max-batch "$max_batch"
  for c in 1 8 64; do
    "$LOAD" http --port "$PORT" --concurrency "$c" --seconds "$SECONDS_PER_RUN" \
      --label "HTTP, batching $batching (--max-batch $max_batch)" "${IMAGES[@]}" | tee -a "$ROWS"
  done
  stop_server
done

# Reload under load: the watched model.pt is replaced atomically (copy + rename, as the FL
# server writes it) 3 times while 8 clients send requests.
start_server --max-batch 64 --watch-ms 200
"$LOAD" http --port "$PORT" --concurrency 8 --seconds 8 --label "HTTP during 3 reloads" \
  "${IMAGES[@]}" >"$WORK/reload_row.md" &
LOAD_PID=$!
for m in "$MODEL_B" "$MODEL_A" "$MODEL_B"; do
  sleep 2
  cp "$m/model.pt" "$SERVED/model.pt.tmp"
  touch "$SERVED/model.pt.tmp"  # a new file even when MODEL_A = MODEL_B
  mv "$SERVED/model.pt.tmp" "$SERVED/model.pt"
done
RELOAD_STATUS=0
wait "$LOAD_PID" || RELOAD_STATUS=$?
cat "$WORK/reload_row.md" | tee -a "$ROWS"
RELOADS="$(curl -sf "http://127.0.0.1:$PORT/metrics" | awk '/^fedsign_serve_model_reloads_total/ { print $2 }')"
stop_server
END_LOAD="$(uptime | sed 's/.*load average: //')"

ips() { grep -F "$1" "$ROWS" | awk -F'|' -v c="$2" '$3 + 0 == c { gsub(/ /, "", $8); print $8 }' | head -1; }
INPROC="$(ips 'batch 64' 1)"
BATCHED="$(ips 'batching on' 64)"
UNBATCHED="$(ips 'batching off' 64)"
RATIO="$(awk -v a="$BATCHED" -v b="$INPROC" 'BEGIN { printf "%.0f%%", 100 * a / b }')"
RATIO_OFF="$(awk -v a="$UNBATCHED" -v b="$INPROC" 'BEGIN { printf "%.0f%%", 100 * a / b }')"

{
  echo "# fedsign serve under load (loopback)"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "- load average at start: $START_LOAD; at the end: $END_LOAD (other jobs share the cores)"
  echo "- git: $(git rev-parse --short HEAD)$(git diff --quiet 2>/dev/null || echo ' (uncommitted changes)')"
  echo "- model: $(cat "$SERVED/model.json" | tr -d '\n ' ), precision auto; images: ${#IMAGES[@]} PNGs of $IMAGES_DIR, one per request"
  echo "- command: \`bench/serve_load.sh $BUILD\` (SECONDS_PER_RUN=$SECONDS_PER_RUN): \`fedsign serve $SERVED --port $PORT --max-batch 64|1\`"
  echo "  (defaults otherwise: one inference worker per core, 1 LibTorch thread each, max wait 2000 us,"
  echo "  128 HTTP threads) and \`$LOAD http --concurrency C\` on the same machine (client threads"
  echo "  share the 2 cores with the server); in-process: \`$LOAD inprocess\` (2 LibTorch threads)."
  echo
  echo "| what | concurrency | requests | failed | p50 ms | p99 ms | images/s | model versions seen |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|"
  cat "$ROWS"
  echo
  echo "At concurrency 64, HTTP with batching reaches $RATIO of the in-process batch-64 throughput"
  echo "(decode + forward both ways; without batching: $RATIO_OFF)."
  echo "Reload test: $RELOADS reloads counted by /metrics during the run above; serve_load exit status $RELOAD_STATUS (0: no failed request)."
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
cat "$RESULTS"
