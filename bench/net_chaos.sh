#!/usr/bin/env bash
# Chaos run of networked federation: one `fedsign fl server` and CLIENTS honest client processes
# for ROUNDS rounds on loopback, while a chaos loop injects faults at random, then the same run
# without faults for comparison. Answers: does every round finish within its deadline plus a
# margin, does any bad update reach the aggregate, is a completed round ever lost, and how far
# is the final accuracy from the fault-free run?
#
#   bench/net_chaos.sh [ROUNDS=30] [CLIENTS=20] [RATE=0.5]
#
# Faults: every TICK seconds the chaos loop injects one fault with probability RATE, drawn
# uniformly from
#   kill     SIGKILL a random honest client; it is restarted 2 s later (re-registers)
#   stall    a chaos client that uploads half its update and stalls (--fault half)
#   garbage  a chaos client sending NaN / wrong shape / 1e30 weights / 1000x examples
#   replay   a chaos client resending its previous round's update first (--fault replay)
#   flood    200 unauthenticated connections holding result streams (--fault flood)
# Chaos clients (names x0..x9, own tokens, each its own share of the data) live for CHAOS_LIFE
# seconds, then are killed. None of them ever has an honest update accepted (a replaying client
# uses --fault replay-only: it replays its previous round's update and withholds its own), so the
# chaos run trains on no data the fault-free run lacks: the accuracies compare the faults alone.
# "Bad updates aggregated" counts fit results of garbage clients that the server ACCEPTED, and
# replayed updates that it accepted.
#
# Environment: FEDSIGN (build/bin/fedsign), DATA (../shared/data/gtsrb), OUT (runs/net-chaos),
# CACHE (runs/cache), PORT (7290), LOCAL_STEPS (5), TICK (3), CHAOS_LIFE (25), SEED (1), DEADLINE (60), MARGIN (15).
# Prints a Markdown table (also OUT/summary.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-30}
CLIENTS=${2:-20}
RATE=${3:-0.5}
FEDSIGN=${FEDSIGN:-build/bin/fedsign}
DATA=${DATA:-../shared/data/gtsrb}
OUT=${OUT:-runs/net-chaos}
PORT=${PORT:-7290}
LOCAL_STEPS=${LOCAL_STEPS:-5}
TICK=${TICK:-3}
CHAOS_LIFE=${CHAOS_LIFE:-25}
SEED=${SEED:-1}
DEADLINE=${DEADLINE:-60}
MARGIN=${MARGIN:-15}
[[ -x "$FEDSIGN" ]] || { echo "build first: $FEDSIGN not found" >&2; exit 1; }
[[ -d "$DATA" ]] || { echo "no data at $DATA (set DATA)" >&2; exit 1; }
CACHE=${CACHE:-runs/cache}
SHARES=$((CLIENTS + 10))  # honest clients + chaos identities, each its own share
rm -rf "$OUT"; mkdir -p "$OUT"
# Decode the images once, here, so that 20 clients starting at once read a warm cache.
"$FEDSIGN" data cache "$DATA" --cache-dir "$CACHE" > "$OUT/cache.log" 2>&1
TRAIN=(--optimizer adamw --batch-size 32 --seed 42 --threads 1
       --val-fraction 0.2 --cache-dir "$CACHE" --clients "$SHARES" --partition-seed 1
       --backoff-initial 0.3 --backoff-max 2 --give-up-after 120 --poll-ms 1000)

pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }
trap cleanup EXIT INT TERM

# run NAME CHAOS(0|1): one server + CLIENTS clients (+ chaos), outputs in OUT/NAME.
run() {
  local name=$1 chaos=$2 dir="$OUT/$1"
  mkdir -p "$dir/logs" "$dir/tokens"
  : > "$dir/tokens.txt"
  for n in $(seq 0 $((CLIENTS - 1))) ; do echo "c$n t-c$n" >> "$dir/tokens.txt"; echo "t-c$n" > "$dir/tokens/c$n"; done
  for n in $(seq 0 9); do echo "x$n t-x$n" >> "$dir/tokens.txt"; echo "t-x$n" > "$dir/tokens/x$n"; done
  "$FEDSIGN" fl server --address "127.0.0.1:$PORT" --rounds "$ROUNDS" --min-available-clients "$((CLIENTS / 2))" \
    --tokens "$dir/tokens.txt" --model compact --seed 42 --local-steps "$LOCAL_STEPS" --lr 0.002 \
    --round-deadline "$DEADLINE" --client-timeout 6 --heartbeat-ms 1000 --upload-timeout 10 \
    --header-timeout 3 --start-timeout 300 --eval-every 5 --out "$dir/run" \
    --data "$DATA" --val-fraction 0.2 --cache-dir "$CACHE" --threads 1 > "$dir/logs/server.log" 2>&1 &
  local server=$!; pids+=("$server")
  declare -A honest
  start_client() {  # NAME INDEX [FAULT [LOG]]: LOG defaults to logs/NAME.log
    local fault=()
    [[ -n "${3:-}" ]] && fault=(--fault "$3")
    "$FEDSIGN" fl client --server "127.0.0.1:$PORT" --name "$1" --token-file "$dir/tokens/$1" \
      --data "$DATA" "${TRAIN[@]}" --partition-index "$2" "${fault[@]}" >> "${4:-$dir/logs/$1.log}" 2>&1 &
    echo $!
  }
  for n in $(seq 0 $((CLIENTS - 1))); do honest[$n]=$(start_client "c$n" "$n"); pids+=("${honest[$n]}"); done
  RANDOM=$SEED
  local injected=0 next_chaos=0
  : > "$dir/faults.txt"
  while kill -0 "$server" 2>/dev/null; do
    sleep "$TICK"
    [[ $chaos == 1 ]] || continue
    # Only once the first round runs (every honest client had a chance to register).
    [[ -f "$dir/run/network.csv" ]] || grep -q "round 1: fit task" "$dir/logs/c0.log" 2>/dev/null || continue
    awk -v r="$RATE" -v x="$RANDOM" 'BEGIN { exit !(x / 32768 < r) }' || continue
    local kinds=(kill stall garbage replay flood) kind
    kind=${kinds[$((RANDOM % 5))]}
    case $kind in
      kill)
        local n=$((RANDOM % CLIENTS))
        kill -9 "${honest[$n]}" 2>/dev/null || true
        sleep 2
        honest[$n]=$(start_client "c$n" "$n"); pids+=("${honest[$n]}") ;;
      stall|garbage|replay)
        local x=$((next_chaos % 10)) fault
        next_chaos=$((next_chaos + 1))
        case $kind in
          stall) fault=half ;;
          replay) fault=replay-only ;;
          garbage) local g=(nan shape huge inflate); fault=${g[$((RANDOM % 4))]} ;;
        esac
        # Each chaos process logs to its own file: a name is reused by later chaos clients
        # with other faults, and only this one's accepted updates count against the defence.
        local log="$dir/logs/x$x-$next_chaos-$fault.log"
        local p; p=$(start_client "x$x" "$((CLIENTS + x))" "$fault" "$log"); pids+=("$p")
        echo "$fault $log" >> "$dir/chaos_clients.txt"
        (sleep "$CHAOS_LIFE"; kill -9 "$p" 2>/dev/null) & pids+=("$!") ;;
      flood)
        local p; p=$(start_client "nobody" 0 flood); pids+=("$p")
        (sleep 8; kill -9 "$p" 2>/dev/null) & pids+=("$!") ;;
    esac
    injected=$((injected + 1))
    echo "$(date +%s) $kind" >> "$dir/faults.txt"
  done
  local rc=0
  wait "$server" || rc=$?
  echo "$rc" > "$dir/server_exit"
  cleanup
}

run clean 0
run chaos 1

final_acc() { awk -F, -v col="$2" 'NR == 1 { for (i = 1; i <= NF; ++i) c[$i] = i; next }
  $c[col] != "" && $c[col] != "nan" { a = $c[col] } END { printf "%.2f%%", 100 * a }' "$1"; }
# A round is on time when each of its phases is: the fit phase (seconds - eval_seconds) within
# DEADLINE + MARGIN, and the evaluation phase within DEADLINE + MARGIN plus the server's own
# central evaluation, taken as the fault-free run's eval_seconds in the same round (central
# evaluation is server compute that no deadline bounds; the federated phase has its own deadline).
on_time() { awk -F, -v limit="$((DEADLINE + MARGIN))" 'FNR == 1 { delete c; for (i = 1; i <= NF; ++i) c[$i] = i; next }
  NR == FNR { central[$c["round"]] = $c["eval_seconds"]; next }
  { n++; if ($c["seconds"] - $c["eval_seconds"] <= limit && $c["eval_seconds"] <= limit + central[$c["round"]]) ok++ }
  END { printf "%d of %d", ok, n }' "$OUT/clean/run/network.csv" "$1"; }
bad_accepted=0
if [[ -f "$OUT/chaos/chaos_clients.txt" ]]; then
  while read -r fault log; do
    case $fault in
      nan|shape|huge|inflate)
        bad_accepted=$((bad_accepted + $(grep -c "fit result accepted" "$log" || true))) ;;
      replay-only)
        bad_accepted=$((bad_accepted + $(grep "TEST FAULT replay" "$log" | grep -c -- "-> OK" || true))) ;;
    esac
  done < "$OUT/chaos/chaos_clients.txt"
fi
{
  echo "# bench/net_chaos.sh $ROUNDS $CLIENTS $RATE ($(date -u +%F), $(nproc) cores; TICK=$TICK s, deadline $DEADLINE s + margin $MARGIN s)"
  echo
  echo "| | fault-free | chaos |"
  echo "|---|---:|---:|"
  echo "| server exit code | $(cat "$OUT/clean/server_exit") | $(cat "$OUT/chaos/server_exit") |"
  echo "| rounds completed (of $ROUNDS) | $(($(wc -l < "$OUT/clean/run/metrics.csv") - 1)) | $(($(wc -l < "$OUT/chaos/run/metrics.csv") - 1)) |"
  echo "| rounds within deadline + margin (per phase) | $(on_time "$OUT/clean/run/network.csv") | $(on_time "$OUT/chaos/run/network.csv") |"
  echo "| faults injected | 0 | $(wc -l < "$OUT/chaos/faults.txt") ($(awk '{print $2}' "$OUT/chaos/faults.txt" | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}')) |"
  echo "| faults survived (server kept running) | - | $([[ $(cat "$OUT/chaos/server_exit") == 0 ]] && wc -l < "$OUT/chaos/faults.txt" || echo 0) |"
  echo "| updates rejected, by cause | $(grep -c "rejected update" "$OUT/clean/logs/server.log" || true) | $(grep "rejected update from" "$OUT/chaos/logs/server.log" | grep -oE ": [A-Z_]{6,}: " | tr -d ': ' | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}') |"
  echo "| bad updates aggregated | 0 | $bad_accepted |"
  echo "| final central accuracy (server's held-out tracks) | $(final_acc "$OUT/clean/run/metrics.csv" central_accuracy) | $(final_acc "$OUT/chaos/run/metrics.csv" central_accuracy) |"
  echo "| final federated accuracy (clients' test shares) | $(final_acc "$OUT/clean/run/metrics.csv" federated_accuracy) | $(final_acc "$OUT/chaos/run/metrics.csv" federated_accuracy) |"
} | tee "$OUT/summary.md"
