#!/usr/bin/env bash
# Does a networked run (gRPC server + client processes) learn like the simulation with the same
# configuration? Both run the same Strategy and client-training code; what differs is transport,
# process boundaries and the order in which updates arrive. "Within noise" is measured, not
# assumed: the simulation runs twice with different data partitions (partition seeds 1 and 2),
# and the networked run is compared against that spread.
#
#   bench/fl_net_vs_sim.sh [ROUNDS=15] [CLIENTS=4]
#
# Setup, identical on both sides: FedAvg, CLIENTS IID clients (whole tracks), all of them every
# round, compact CNN, LOCAL_STEPS local AdamW steps of batch 32 (lr 0.002) per round, 20% of each
# client's tracks kept for federated evaluation, model seed 42. Both hold out the same central
# validation split (--val-fraction 0.2, --split-seed 1: the server evaluates on it with --data),
# and network client i takes exactly the simulated client i's share (`--partition-index i
# --clients N`, the same partition and local split): the data are identical on both sides.
# Output: OUT/summary.md (final and mean-of-last-5 federated accuracy per run) and
# OUT/federated_accuracy.png (all curves), from each run's metrics.csv.
#
# Environment: FEDSIGN (build/bin/fedsign), DATA (../shared/data/gtsrb), OUT
# (runs/fl-net-vs-sim), PORT (7180), LOCAL_STEPS (30), PRIVACY (options for both sides, e.g.
# "--dp distributed --dp-clip 1 --dp-noise-multiplier 0.3"), SECAGG=1 (the server adds
# --secagg: secure aggregation, which needs --dp distributed in PRIVACY).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-15}
CLIENTS=${2:-4}
FEDSIGN=${FEDSIGN:-build/bin/fedsign}
DATA=${DATA:-../shared/data/gtsrb}
OUT=${OUT:-runs/fl-net-vs-sim}
PORT=${PORT:-7180}
LOCAL_STEPS=${LOCAL_STEPS:-30}
read -r -a PRIVACY <<< "${PRIVACY:-}"
SECURE=()
[[ "${SECAGG:-0}" == 1 ]] && SECURE=(--secagg)
[[ -x "$FEDSIGN" ]] || { echo "build first: $FEDSIGN not found" >&2; exit 1; }
rm -rf "$OUT"; mkdir -p "$OUT/logs"
LOCAL=(--optimizer adamw --batch-size 32 --seed 42)
FEDERATION=(--model compact --lr 0.002 --rounds "$ROUNDS" --local-steps "$LOCAL_STEPS"
            ${PRIVACY[@]+"${PRIVACY[@]}"})

for pseed in 1 2; do
  "$FEDSIGN" fl simulate --data "$DATA" "${LOCAL[@]}" "${FEDERATION[@]}" --clients "$CLIENTS" \
    --clients-per-round "$CLIENTS" --partition iid --partition-seed "$pseed" \
    --client-test-fraction 0.2 \
    --name "simulation, partition seed $pseed" --out "$OUT/sim-p$pseed" > "$OUT/logs/sim-p$pseed.log" 2>&1
done

pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }
trap cleanup EXIT INT TERM
: > "$OUT/tokens.txt"
for i in $(seq 0 $((CLIENTS - 1))); do echo "c$i t$i" >> "$OUT/tokens.txt"; done
"$FEDSIGN" fl server --address "127.0.0.1:$PORT" "${FEDERATION[@]}" --seed 42 \
  --min-available-clients "$CLIENTS" --clients-per-round "$CLIENTS" --data "$DATA" \
  --tokens "$OUT/tokens.txt" ${SECURE[@]+"${SECURE[@]}"} \
  --out "$OUT/net-p1" > "$OUT/logs/server.log" 2>&1 &
server=$!; pids+=("$server")
for i in $(seq 0 $((CLIENTS - 1))); do
  "$FEDSIGN" fl client --server "127.0.0.1:$PORT" --name "c$i" --token "t$i" --data "$DATA" \
    "${LOCAL[@]}" --partition-index "$i" --clients "$CLIENTS" --partition-seed 1 \
    --client-test-fraction 0.2 --threads 1 > "$OUT/logs/c$i.log" 2>&1 &
  pids+=("$!")
done
wait "$server" || { echo "server failed, see $OUT/logs" >&2; exit 1; }
cleanup

"$FEDSIGN" fl compare "$OUT/sim-p1" "$OUT/sim-p2" "$OUT/net-p1" --metric federated_accuracy \
  --names "simulation (partition seed 1)" "simulation (partition seed 2)" "network, 1 server + $CLIENTS client processes" \
  --out "$OUT/federated_accuracy.png" > /dev/null
{
  echo "| run | final federated accuracy | mean of last 5 rounds |"
  echo "|---|---:|---:|"
  for run in sim-p1 sim-p2 net-p1; do
    awk -F, -v run="$run" 'NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
      { acc[NR] = $col["federated_accuracy"]; n = NR }
      END { s = 0; for (i = n - 4; i <= n; ++i) s += acc[i];
            printf "| %s | %.2f%% | %.2f%% |\n", run, 100 * acc[n], 100 * s / 5 }' \
      "$OUT/$run/metrics.csv"
  done
} | tee "$OUT/summary.md"
