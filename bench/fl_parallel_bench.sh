#!/usr/bin/env bash
# Clients trained at once in the simulation (`fl simulate --parallel-clients`): the same federated
# configs run one client after another on two intra-op threads (--threads 2, the default on this
# machine), one after another on one thread (--threads 1), and two at a time on one thread each
# (--parallel-clients 2 --threads 2: evaluation keeps two threads), alternating, REPS times.
#
#   bench/fl_parallel_bench.sh [ROUNDS=8] [REPS=3]
#
# Reports per config and mode the seconds of rounds 2..ROUNDS (round 1 warms the caches), of
# which local training and evaluation (metrics.csv), the speed-up over --threads 2 (medians of the
# runs), and whether the final model.pt is byte for byte the --threads 1 run's (it should be:
# each client trains on one thread either way, and the results are folded in sampling order).
#
# Environment: FEDSIGN (build/bin/fedsign), DATA (../shared/data/gtsrb), OUT
# (runs/fl-parallel-bench), CONFIGS ("fedavg_dirichlet_0.1 scaffold_dirichlet_0.1", from
# configs/fl), EVAL_EVERY (4).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-8}
REPS=${2:-3}
FEDSIGN=${FEDSIGN:-build/bin/fedsign}
DATA=${DATA:-../shared/data/gtsrb}
OUT=${OUT:-runs/fl-parallel-bench}
EVAL_EVERY=${EVAL_EVERY:-4}
read -r -a CONFIGS <<< "${CONFIGS:-fedavg_dirichlet_0.1 scaffold_dirichlet_0.1}"
[[ -x "$FEDSIGN" ]] || { echo "build first: $FEDSIGN not found" >&2; exit 1; }
[[ -d "$DATA" ]] || { echo "no data at $DATA (set DATA)" >&2; exit 1; }
mkdir -p "$OUT"

MODES=(t2 t1 p2)
mode_flags() {
  case $1 in
    t2) echo "--threads 2" ;;
    t1) echo "--threads 1" ;;
    p2) echo "--threads 2 --parallel-clients 2" ;;
  esac
}

for rep in $(seq 1 "$REPS"); do
  for config in "${CONFIGS[@]}"; do
    for mode in "${MODES[@]}"; do
      run="$OUT/$config-$mode-$rep"
      rm -rf "$run"
      # shellcheck disable=SC2046  # the mode's flags are a list of words
      "$FEDSIGN" fl simulate --config "configs/fl/$config.toml" --data "$DATA" --rounds "$ROUNDS" \
        --eval-every "$EVAL_EVERY" $(mode_flags "$mode") --out "$run" > "$run.log" 2>&1 \
        || { echo "run failed: $run.log" >&2; exit 1; }
    done
  done
done

{
  echo "fl simulate, rounds 2-$ROUNDS of $ROUNDS (--eval-every $EVAL_EVERY), $REPS runs of each mode, alternating."
  echo
  echo "| config | mode | seconds, rounds 2-$ROUNDS | of which local training | evaluation | x faster than --threads 2 (medians) | model.pt = --threads 1's |"
  echo "|---|---|---:|---:|---:|---:|---|"
  for config in "${CONFIGS[@]}"; do
    declare -A median=()
    for mode in "${MODES[@]}"; do
      secs=() trains=() evals=() same=()
      for rep in $(seq 1 "$REPS"); do
        run="$OUT/$config-$mode-$rep"
        read -r s t e < <(awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) c[$i] = i; next }
          $1 >= 2 { s += $c["seconds"]; t += $c["train_seconds"]; e += $c["eval_seconds"] }
          END { printf "%.2f %.2f %.2f\n", s, t, e }' "$run/metrics.csv")
        secs+=("$s"); trains+=("$t"); evals+=("$e")
        if cmp -s "$run/model.pt" "$OUT/$config-t1-$rep/model.pt"; then same+=(yes); else same+=(no); fi
      done
      median[$mode]=$(printf "%s\n" "${secs[@]}" | sort -g | awk '{ v[NR] = $1 }
        END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
      ratio=$(awk -v a="${median[t2]}" -v b="${median[$mode]}" 'BEGIN { printf "%.2f", a / b }')
      join() { local IFS=/; echo "$*"; }
      echo "| $config | $(mode_flags "$mode") | $(join "${secs[@]}") | $(join "${trains[@]}") | $(join "${evals[@]}") | x$ratio | $(join "${same[@]}") |"
    done
    unset median
  done
} | tee "$OUT/table.md"
