#!/usr/bin/env bash
# Network overhead of federated rounds on loopback: 1 server + N client processes on 127.0.0.1.
# For each N it reports, from the server's network.csv (rounds 2.. to skip start-up):
#   seconds per round beyond local training (round time - slowest client's training - evaluation),
#   bytes sent and received per round, and the server's peak memory (VmHWM); then, from the
#   clients' logs, where a fit task's time goes on their side (rounds 2.., mean over clients):
#   waiting for the task and downloading it, computing (training, and masking or quantizing the
#   update), encoding the upload, and submitting it (upload + the server's checks and fold,
#   until its reply).
#
#   bench/net_bench.sh [ROUNDS=3] [N...=5 20 50]
#
# Environment: FEDSIGN (default build/bin/fedsign), MODEL (default compact), DATA (a GTSRB-layout
# folder; default data/sample), OUT (default runs/net-bench), PORT (default 7170), SECAGG=1:
# secure aggregation (every client every round, clipping-only distributed DP: --dp distributed
# --dp-noise-multiplier 0 --dp-clip 10 --secagg), to compare with the plain rounds of SECAGG=0.
# COMPRESS=int8|topk: the server asks for int8-quantized or top-1% uploads (`fl server --compress`);
# DOWNLOAD=bf16: it sends the model in bfloat16 (`--download bf16`).
# Clients do one local step per round (--local-steps 1) on their share of DATA, with one thread
# each, so the figures are dominated by the protocol, not by training.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
shift || true
COUNTS=("$@")
[[ ${#COUNTS[@]} -gt 0 ]] || COUNTS=(5 20 50)
FEDSIGN=${FEDSIGN:-build/bin/fedsign}
SECAGG=${SECAGG:-0}
COMPRESS=${COMPRESS:-none}
DOWNLOAD=${DOWNLOAD:-float32}
MODE=plain; [[ "$SECAGG" == 1 ]] && MODE=secagg
[[ "$COMPRESS" != none ]] && MODE="$MODE+$COMPRESS"
[[ "$DOWNLOAD" != float32 ]] && MODE="$MODE+$DOWNLOAD"
MODEL=${MODEL:-compact}
DATA=${DATA:-data/sample}
OUT=${OUT:-runs/net-bench}
PORT=${PORT:-7170}
[[ -x "$FEDSIGN" ]] || { echo "build first: $FEDSIGN not found" >&2; exit 1; }
mkdir -p "$OUT"

pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }
trap cleanup EXIT INT TERM

# Decode the data once into the shared cache so clients start fast.
"$FEDSIGN" data cache "$DATA" --cache-dir "$OUT/cache" >/dev/null 2>&1 || true

printf "%8s %8s %16s %14s %14s %14s %14s %16s\n" clients model mode overhead_s/rnd sent_MB/rnd \
  recv_MB/rnd server_MB recv_KB/client
for N in "${COUNTS[@]}"; do
  run="$OUT/n$N"
  rm -rf "$run"; mkdir -p "$run/logs"
  : > "$run/tokens.txt"
  secure=()
  [[ "$SECAGG" == 1 ]] && secure=(--dp distributed --dp-noise-multiplier 0 --dp-clip 10
                                  --clients-per-round "$N" --secagg)
  for i in $(seq 0 $((N - 1))); do echo "c$i t$i" >> "$run/tokens.txt"; done
  "$FEDSIGN" fl server --address "127.0.0.1:$PORT" --rounds "$ROUNDS" --min-available-clients "$N" \
    --tokens "$run/tokens.txt" --out "$run/server" --model "$MODEL" --local-steps 1 \
    --heartbeat-ms 2000 --client-timeout 60 --start-timeout 900 --round-deadline 900 \
    --compress "$COMPRESS" --download "$DOWNLOAD" "${secure[@]}" --log-level warn > "$run/logs/server.log" 2>&1 &
  server=$!; pids+=("$server")
  for i in $(seq 0 $((N - 1))); do
    "$FEDSIGN" fl client --server "127.0.0.1:$PORT" --name "c$i" --token "t$i" --data "$DATA" \
      --cache-dir "$OUT/cache" --partition-index "$i" --clients "$N" --threads 1 \
      --batch-size 8 --give-up-after 120 --log-level info > "$run/logs/c$i.log" 2>&1 &
    pids+=("$!")
  done
  wait "$server" || { echo "server failed for N=$N, see $run/logs" >&2; cleanup; continue; }
  cleanup
  awk -F, -v n="$N" -v model="$MODEL" -v mode="$MODE" 'NR > 2 { o += $6; s += $7; r += $8; k++; m = $10 }
    END { if (k == 0) { print "need ROUNDS >= 2" > "/dev/stderr"; exit }
          printf "%8d %8s %16s %14.3f %14.2f %14.2f %14.1f %16.1f\n", n, model, mode, o / k,
                 s / k / 1e6, r / k / 1e6, m, r / k / n / 1e3 }' \
    "$run/server/network.csv"
  # "round R: fit timings: wait+download A s, compute B s, encode C s, submit D s" (net/client.cpp)
  cat "$run"/logs/c*.log | awk '/: fit timings:/ {
      line = $0; sub(/.*round /, "", line); split(line, w, ":"); if (w[1] + 0 < 2) next
      gsub(/[^0-9. ]/, " ", line); split(line, v, " ")
      d += v[2]; c += v[3]; e += v[4]; u += v[5]; k++ }
    END { if (k > 0) printf "%8s client fit task, mean of %d: wait+download %.3f s, compute %.3f s, encode %.3f s, submit %.3f s\n", "", k, d / k, c / k, e / k, u / k }'
done
