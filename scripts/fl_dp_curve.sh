#!/usr/bin/env bash
# Accuracy against privacy on GTSRB: central DP-FedAvg (configs/fl/dp_central.toml) at target
# epsilon 1, 4 and 8 (delta 1e-5), and the same federation without DP as the baseline (same
# clients, partition, rounds, local training and seed). Prints a Markdown table: target epsilon,
# epsilon spent, the noise multiplier solved for it, the final central accuracy on the held-out
# validation split (a development number: the split also guided the settings) and the accuracy
# on the untouched test split (--test-fraction TEST_FRACTION, scored once at the end: test.json).
#
#   scripts/fl_dp_curve.sh            # run what is missing, then the table
#   scripts/fl_dp_curve.sh --table    # only the table, from existing runs
#
# Environment: DATA (../shared/data/gtsrb), ROUNDS (300), CLIENTS (1000), PER_ROUND (100),
# LOCAL_STEPS (5), EPSILONS ("1 4 8"), OUT (runs/fl/dp_curve), FEDSIGN (build/bin/fedsign), JOBS
# (2: runs at a time, with cores/JOBS threads each), TEST_FRACTION (0.1; 0: no test split),
# EXTRA (options added to every run). Logs go to OUT/<run>.log; the table also to
# OUT/results.md. A run whose model.pt exists is not run again (delete its folder to redo it).
# THREADS (per run; cores/JOBS). CONFIG (configs/fl/dp_central.toml; configs/fl/dp_finetune.toml
# fine-tunes the head and BatchNorm scale/shift of a model pretrained on pictogram renders: when its init-weights file is
# missing, the script makes it first with `fedsign synth` + `fedsign train`, public data only:
# 3,000 renders per class, 8 epochs; chosen on the validation split over 300 per class and 8
# epochs, then 1,000 per class and 12 epochs: 83.45% -> 89.07% -> 90.80% of the real validation
# images read by the public model alone).
set -euo pipefail
cd "$(dirname "$0")/.."
FEDSIGN=${FEDSIGN:-build/bin/fedsign}
DATA=${DATA:-../shared/data/gtsrb}
ROUNDS=${ROUNDS:-300}
CLIENTS=${CLIENTS:-1000}
PER_ROUND=${PER_ROUND:-100}
LOCAL_STEPS=${LOCAL_STEPS:-5}
EPSILONS=${EPSILONS:-"1 4 8"}
OUT=${OUT:-runs/fl/dp_curve}
JOBS=${JOBS:-2}
THREADS=${THREADS:-$(( $(nproc) / JOBS ))}; (( THREADS >= 1 )) || THREADS=1
CONFIG=${CONFIG:-configs/fl/dp_central.toml}
TEST_FRACTION=${TEST_FRACTION:-0.1}
EXTRA=${EXTRA:-}  # more `fl simulate` options for every run, e.g. "--trainable-groups head"
DELTA=1e-5

# Every run: the config with the shared overrides; the runs differ only in --dp/--target-epsilon.
common=(fl simulate --config "$CONFIG" --data "$DATA" --rounds "$ROUNDS" --clients "$CLIENTS"
        --clients-per-round "$PER_ROUND" --local-steps "$LOCAL_STEPS" --dp-delta "$DELTA"
        --test-fraction "$TEST_FRACTION" --threads "$THREADS")
# shellcheck disable=SC2206  # EXTRA is a list of options: split on spaces
common+=($EXTRA)
runs=(baseline); for e in $EPSILONS; do runs+=("eps$e"); done

if [[ "${1:-}" != "--table" ]]; then
  [[ -x "$FEDSIGN" ]] || { echo "no $FEDSIGN: build first (scripts/build.sh)" >&2; exit 1; }
  mkdir -p "$OUT"
  init=$(sed -n 's/^init-weights *= *"\(.*\)"/\1/p' "$CONFIG")
  if [[ -n $init && ! -f $init ]]; then  # the public model: renders of the pictograms only
    public=$(dirname "$(dirname "$init")")
    mkdir -p "$public"
    echo "pretraining the public model: $init (log $public/pretrain.log)"
    { "$FEDSIGN" synth --data "$DATA" --out "$public/synth" --per-class 3000 --seed 13 --threads "$(nproc)" &&
      "$FEDSIGN" train --data "$public/synth" --val-fraction 0.05 --epochs 8 --threads "$(nproc)" \
        --out "$(dirname "$init")"; } > "$public/pretrain.log" 2>&1 || { cat "$public/pretrain.log" >&2; exit 1; }
  fi
  failed=0
  launch() {  # run: start it in the background once a slot is free
    local run=$1 extra
    if [[ $run == baseline ]]; then extra=(--dp off); else extra=(--target-epsilon "${run#eps}"); fi
    [[ -f "$OUT/$run/model.pt" ]] && return 0
    while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n || failed=1; done
    echo "start: $run (log $OUT/$run.log)"
    "$FEDSIGN" "${common[@]}" "${extra[@]}" --out "$OUT/$run" > "$OUT/$run.log" 2>&1 &
  }
  for run in "${runs[@]}"; do launch "$run"; done
  while (( $(jobs -rp | wc -l) > 0 )); do wait -n || failed=1; done
  (( failed == 0 )) || echo "a run failed: see $OUT/*.log (the table shows what finished)" >&2
fi

mkdir -p "$OUT"
source scripts/lib/tables.sh
# The last value of a metrics.csv column that is not empty ("" when there is none).
last_of() {
  awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i == name) c = i; next }
                        c && $c != "" { v = $c } END { print v }' "$1"
}

{
  echo "GTSRB, $CLIENTS clients (whole tracks), $PER_ROUND per round, $ROUNDS rounds, central DP-FedAvg at delta $DELTA ($CONFIG${EXTRA:+ $EXTRA}, $LOCAL_STEPS local steps)"
  echo
  echo "| run | target epsilon | epsilon spent | noise multiplier | rounds done | final central accuracy, validation (development) | **test split** |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for run in "${runs[@]}"; do
    m="$OUT/$run/metrics.csv"
    [[ -f "$m" ]] || { echo "| $run | - | - | - | not run | - | - |"; continue; }
    target="-"; [[ $run == baseline ]] || target=${run#eps}
    spent=$(last_of "$m" dp_epsilon); [[ -n $spent ]] || spent="inf (no DP)"
    z=""  # summary.md states it; a run that stopped early logged it at the start
    for f in "$OUT/$run/summary.md" "$OUT/$run.log"; do  # (an if: a false && would end the loop with set -e)
      if [[ -z $z && -f $f ]]; then
        z=$({ grep -o 'noise multiplier [0-9.e+-]*' "$f" || true; } | head -1 | awk '{ print $3 }')
      fi
    done
    [[ -n $z ]] || z="-"
    done_rounds=$(last_of "$m" round)
    acc=$(last_of "$m" central_accuracy)
    [[ -n $acc ]] && acc=$(awk -v a="$acc" 'BEGIN { printf "%.2f%%", 100 * a }') || acc="-"
    test="-"  # test.json: written once, at the end of a finished run with a test split
    if [[ -f "$OUT/$run/test.json" ]]; then
      test=$(json_number "$OUT/$run/test.json" accuracy | awk '{ printf "%.2f%%", 100 * $1 }')
    fi
    echo "| $run | $target | $spent | $z | $done_rounds | $acc | $test |"
  done
} | tee "$OUT/results.md"
