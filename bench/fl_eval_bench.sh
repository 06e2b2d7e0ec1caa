#!/usr/bin/env bash
# Evaluated rounds against training rounds (issue 19: "an FL evaluation round no more than 1.5x a
# training round"), with the central evaluation in the run's float precision (bf16 here) and in
# int8 (`--eval-precision int8`), alternating, REPS times.
#
#   bench/fl_eval_bench.sh [ROUNDS=8] [REPS=3]
#
# Reports per run the mean training round (rounds 2..ROUNDS without evaluation; round 1 warms the
# caches), the mean evaluated round and its evaluation, their ratio, and the central accuracy of
# each evaluated round in both precisions (int8 - float, points); and whether the final model.pt
# is the same in both (it should be: evaluation does not touch training).
#
# Environment: FEDSIGN (build/bin/fedsign), DATA (../shared/data/gtsrb), OUT (runs/fl-eval-bench),
# CONFIG (fedadam_dirichlet_0.1, from configs/fl), EVAL_EVERY (2), THREADS (2), EXTRA (more
# `fl simulate` options).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-8}
REPS=${2:-3}
FEDSIGN=${FEDSIGN:-build/bin/fedsign}
DATA=${DATA:-../shared/data/gtsrb}
OUT=${OUT:-runs/fl-eval-bench}
CONFIG=${CONFIG:-fedadam_dirichlet_0.1}
EVAL_EVERY=${EVAL_EVERY:-2}
THREADS=${THREADS:-2}
[[ -x "$FEDSIGN" ]] || { echo "build first: $FEDSIGN not found" >&2; exit 1; }
[[ -d "$DATA" ]] || { echo "no data at $DATA (set DATA)" >&2; exit 1; }
mkdir -p "$OUT"
MODES=(float int8)

for rep in $(seq 1 "$REPS"); do
  for mode in "${MODES[@]}"; do
    run="$OUT/$mode-$rep"
    rm -rf "$run"
    # shellcheck disable=SC2086  # EXTRA is a list of words
    "$FEDSIGN" fl simulate --config "configs/fl/$CONFIG.toml" --data "$DATA" --rounds "$ROUNDS" \
      --eval-every "$EVAL_EVERY" --threads "$THREADS" --eval-precision "$mode" ${EXTRA:-} \
      --out "$run" > "$run.log" 2>&1 || { echo "run failed: $run.log" >&2; exit 1; }
  done
done

round_times() {  # metrics.csv -> "training-round evaluated-round evaluation ratio"
  awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) c[$i] = i; next }
    { s = $c["seconds"]; e = $c["eval_seconds"] }
    e > 0 { es += s; ee += e; ne++; next }
    $1 >= 2 { ts += s; nt++ }
    END { printf "%.3f %.3f %.3f %.3f\n", ts / nt, es / ne, ee / ne, (es / ne) / (ts / nt) }' "$1"
}
accuracies() {  # metrics.csv -> "round:accuracy ..." of the evaluated rounds
  awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) c[$i] = i; next }
    $c["central_accuracy"] != "" { printf "%s:%s ", $1, $c["central_accuracy"] }' "$1"
}

{
  echo "fl simulate --config configs/fl/$CONFIG.toml --rounds $ROUNDS --eval-every $EVAL_EVERY --threads $THREADS ${EXTRA:-}"
  echo "$REPS runs of each --eval-precision, alternating ($(date -u +%F), $(nproc) cores, $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed "s/^ //"))."
  echo
  echo "| run | --eval-precision | training round (mean s) | evaluated round (mean s) | its evaluation (mean s) | evaluated / training round |"
  echo "|---|---|---:|---:|---:|---:|"
  for rep in $(seq 1 "$REPS"); do
    for mode in "${MODES[@]}"; do
      read -r t e ev r < <(round_times "$OUT/$mode-$rep/metrics.csv")
      echo "| $rep | $mode | $t | $e | $ev | ${r}x |"
    done
  done
  echo
  echo "Central accuracy (validation split, a development figure) at each evaluated round, run 1:"
  echo
  echo "| round | float | int8 | int8 - float (points) |"
  echo "|---:|---:|---:|---:|"
  paste -d' ' <(accuracies "$OUT/float-1/metrics.csv" | tr ' ' '\n' | grep .) \
              <(accuracies "$OUT/int8-1/metrics.csv" | tr ' ' '\n' | grep .) |
    awk '{ split($1, f, ":"); split($2, q, ":");
           printf "| %s | %.2f%% | %.2f%% | %+.2f |\n", f[1], 100 * f[2], 100 * q[2], 100 * (q[2] - f[2]) }'
  same=0
  for rep in $(seq 1 "$REPS"); do
    cmp -s "$OUT/float-$rep/model.pt" "$OUT/int8-$rep/model.pt" && same=$((same + 1))
  done
  echo
  echo "Final model.pt the same with either precision: $same of $REPS runs."
} | tee "$OUT/table.md"
