#!/usr/bin/env bash
# One-command loopback demo of networked federated learning: a `fedsign fl server` and N
# `fedsign fl client` processes on 127.0.0.1, each client training on its own seeded,
# track-disjoint share of one GTSRB-layout folder (--partition-index i --clients N).
#
#   scripts/fl_loopback_demo.sh [N_CLIENTS=4] [ROUNDS=5]
#
# Environment: FEDSIGN (the program, default build/bin/fedsign), DATA (default data/sample),
# OUT (default runs/fl-loopback-demo), PORT (default 7070), STATUS_PORT (default 7071),
# STRATEGY (default fedavg), EXTRA_SERVER_ARGS / EXTRA_CLIENT_ARGS.
# Every process started here is stopped when the script exits.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-4}
ROUNDS=${2:-5}
FEDSIGN=${FEDSIGN:-build/bin/fedsign}
DATA=${DATA:-data/sample}
OUT=${OUT:-runs/fl-loopback-demo}
PORT=${PORT:-7070}
STATUS_PORT=${STATUS_PORT:-7071}
STRATEGY=${STRATEGY:-fedavg}

[[ -x "$FEDSIGN" ]] || { echo "build first: $FEDSIGN not found (scripts/build.sh)" >&2; exit 1; }
mkdir -p "$OUT/logs"

# One random token per client (a real deployment hands each device its own).
: > "$OUT/tokens.txt"
for i in $(seq 0 $((N - 1))); do
  echo "client$i $(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" >> "$OUT/tokens.txt"
done
chmod 600 "$OUT/tokens.txt"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$FEDSIGN" fl server --address "127.0.0.1:$PORT" --status-address "127.0.0.1:$STATUS_PORT" \
  --strategy "$STRATEGY" --rounds "$ROUNDS" --min-available-clients "$N" --tokens "$OUT/tokens.txt" \
  --out "$OUT/server" --local-epochs 1 ${EXTRA_SERVER_ARGS:-} > "$OUT/logs/server.log" 2>&1 &
server=$!
pids+=("$server")

for i in $(seq 0 $((N - 1))); do
  token=$(awk -v n="client$i" '$1 == n { print $2 }' "$OUT/tokens.txt")
  "$FEDSIGN" fl client --server "127.0.0.1:$PORT" --name "client$i" --token "$token" \
    --data "$DATA" --partition-index "$i" --clients "$N" --threads 1 \
    --batch-size 32 ${EXTRA_CLIENT_ARGS:-} > "$OUT/logs/client$i.log" 2>&1 &
  pids+=("$!")
done

echo "server: 127.0.0.1:$PORT, status: curl http://127.0.0.1:$STATUS_PORT/status, logs: $OUT/logs"
wait "$server"
grep -h "round .*/$ROUNDS" "$OUT/logs/server.log" || true
echo "metrics: $OUT/server/metrics.csv, network: $OUT/server/network.csv, model: $OUT/server/model.pt"
