#!/usr/bin/env bash
# Issue 16's "better model" tries on the README's centralized recipe
# (configs/train/compact_gtsrb.toml): a spatial transformer in front of the compact CNN
# (`--model compact_stn`), an exponential moving average of the weights (`train --weight-ema`)
# and test-time augmentation (`evaluate --tta`), over seeds.
# One training run per model and seed gives four variants: the average does not change training,
# so the run's trained weights (model_raw.pt, their best epoch on validation) are the plain
# recipe for that model and seed, and the average (model.pt, its best epoch) sits beside them;
# each is evaluated with and without test-time views.
# Validation (a development set: it selects the epochs, and this table is what chooses) and the
# untouched test split (--test-fraction 0.1) as mean (min-max), and on the test split the
# difference to the plain compact recipe of the same seed.
#
#   scripts/central_tries.sh            # train what is missing, evaluate, print the table
#   scripts/central_tries.sh --table    # the table from the runs there are
#
# Environment: FEDSIGN (build/bin/fedsign), MODELS ("compact compact_stn"), SEEDS ("1 2 3 42"),
# JOBS (2 runs at a time), THREADS (1 per run), DECAY (0.999), TTA (7 views),
# OUT (runs/central_tries). Writes $OUT/<model>/seed<S>/ and $OUT/table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
FEDSIGN=${FEDSIGN:-build/bin/fedsign}
read -r -a MODELS <<< "${MODELS:-compact compact_stn}"
read -r -a SEEDS <<< "${SEEDS:-1 2 3 42}"
JOBS=${JOBS:-2}
THREADS=${THREADS:-1}
DECAY=${DECAY:-0.999}
TTA=${TTA:-7}
OUT=${OUT:-runs/central_tries}
CONFIG=configs/train/compact_gtsrb.toml
SPLIT=(--test-fraction 0.1)
# The config's data and split, for `evaluate` (which reads no training config).
DATA=(--data ../shared/data/gtsrb --val-fraction 0.2 --split-seed 1)
source scripts/lib/tables.sh

if [[ "${1:-}" != "--table" ]]; then
  source scripts/lib/job_slots.sh
  for model in "${MODELS[@]}"; do
    mkdir -p "$OUT/$model"
    for seed in "${SEEDS[@]}"; do
      [[ -f "$OUT/$model/seed$seed/test.json" ]] ||
        launch "$OUT/$model/seed$seed.log" "$FEDSIGN" train --config "$CONFIG" --model "$model" \
          --weight-ema "$DECAY" --seed "$seed" --threads "$THREADS" "${SPLIT[@]}" \
          --out "$OUT/$model/seed$seed"
    done
  done
  wait_all
  (( FAILED == 0 )) || { echo "a run failed: see $OUT/*/seed*.log" >&2; exit 1; }
  # Each model file with and without test-time views, on both splits.
  for model in "${MODELS[@]}"; do
    for seed in "${SEEDS[@]}"; do
      for weights in model_raw model; do
        for views in 1 "$TTA"; do
          for split in validation test; do
            eval_dir="$OUT/$model/seed$seed/eval-$weights-tta$views-$split"
            [[ -f "$eval_dir/summary.json" ]] ||
              "$FEDSIGN" evaluate "$OUT/$model/seed$seed/$weights.pt" "${DATA[@]}" "${SPLIT[@]}" \
                --split "$split" --tta "$views" --threads 2 --out "$eval_dir" > /dev/null
          done
        done
      done
    done
  done
fi

accuracy() { json_number "$OUT/$1/seed$2/eval-$3-tta$4-$5/summary.json" accuracy; }
{
  echo "Centralized recipe ($CONFIG, --test-fraction 0.1), seeds ${SEEDS[*]}: mean (min-max)."
  echo "Weight EMA: decay $DECAY; test-time augmentation: $TTA views. Validation is a development"
  echo "set (it selected the epochs and reads this table); the test split reports."
  echo
  echo "| model | weights | test-time views | validation | **test split** | test: difference to plain compact, same seed (points) |"
  echo "|---|---|---:|---:|---:|---:|"
  for model in "${MODELS[@]}"; do
    for variant in "trained (best epoch):model_raw" "weight EMA (best epoch):model"; do
      IFS=: read -r name weights <<< "$variant"
      for views in 1 "$TTA"; do
        val=$(for s in "${SEEDS[@]}"; do accuracy "$model" "$s" "$weights" "$views" validation; done | mean_range)
        test=$(for s in "${SEEDS[@]}"; do accuracy "$model" "$s" "$weights" "$views" test; done | mean_range)
        diff=$(for s in "${SEEDS[@]}"; do
                 awk -v a="$(accuracy "$model" "$s" "$weights" "$views" test)" \
                     -v b="$(accuracy compact "$s" model_raw 1 test)" 'BEGIN { print a - b }'
               done | mean_range signed)
        echo "| $model | $name | $views | $val | $test | $diff |"
      done
    done
  done
} | tee "$OUT/table.md"
