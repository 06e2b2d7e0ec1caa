#!/usr/bin/env bash
# Issue 19's int8 check on the README's centralized recipe: for each seed's trained compact model
# of scripts/central_tries.sh (model_raw.pt: the recipe's weights, its best epoch), `fedsign
# quantize` calibrates int8 on training tracks and scores the validation split in bf16 and int8
# (it keeps int8 only within 0.1 points: the validation split is where that choice is made, so
# it is a development figure); then the untouched test split (--test-fraction 0.1) is scored in
# both precisions. Table: mean (min-max) over seeds and the paired int8 - bf16 difference.
#
#   scripts/int8_check.sh     (needs the runs of scripts/central_tries.sh; trains nothing)
#
# Environment: FEDSIGN (build/bin/fedsign), SEEDS ("1 2 3 42"), RUNS (runs/central_tries/compact),
# THREADS (2). Writes $RUNS/seed<S>/int8-*/ and $RUNS/int8_table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
FEDSIGN=${FEDSIGN:-build/bin/fedsign}
read -r -a SEEDS <<< "${SEEDS:-1 2 3 42}"
RUNS=${RUNS:-runs/central_tries/compact}
THREADS=${THREADS:-2}
# The recipe's data and split (configs/train/compact_gtsrb.toml, central_tries.sh's --test-fraction).
DATA=(--data ../shared/data/gtsrb --val-fraction 0.2 --split-seed 1 --test-fraction 0.1)
source scripts/lib/tables.sh

for seed in "${SEEDS[@]}"; do
  dir="$RUNS/seed$seed"
  [[ -f "$dir/model_raw.pt" ]] || { echo "missing $dir/model_raw.pt: run scripts/central_tries.sh" >&2; exit 1; }
  "$FEDSIGN" quantize "$dir/model_raw.pt" "${DATA[@]}" --threads "$THREADS" > "$dir/int8-quantize.log" 2>&1 ||
    { echo "seed $seed: $(tail -1 "$dir/int8-quantize.log")" >&2; continue; }
  for precision in auto int8; do
    "$FEDSIGN" evaluate "$dir/model_raw.pt" "${DATA[@]}" --split test --precision "$precision" \
      --threads "$THREADS" --out "$dir/int8-test-$precision" > /dev/null
  done
done

kept=()
for seed in "${SEEDS[@]}"; do
  [[ -f "$RUNS/seed$seed/model_raw.int8.json" && -f "$RUNS/seed$seed/int8-test-int8/summary.json" ]] && kept+=("$seed")
done
record() { json_number "$RUNS/seed$1/model_raw.int8.json" "$2"; }
tested() { json_number "$RUNS/seed$1/int8-test-$2/summary.json" accuracy; }
{
  echo "int8 against bf16 (the float mode here), the recipe's trained weights, seeds ${SEEDS[*]}:"
  echo "int8 kept for ${#kept[@]} of ${#SEEDS[@]} seeds (${kept[*]:-none}); mean (min-max) over those."
  echo
  echo "| split | bf16 | int8 | int8 - bf16, same seed (points) |"
  echo "|---|---:|---:|---:|"
  echo "| validation (development: it decides whether int8 is kept) | $(for s in "${kept[@]}"; do record "$s" float_accuracy; done | mean_range) | $(for s in "${kept[@]}"; do record "$s" int8_accuracy; done | mean_range) | $(for s in "${kept[@]}"; do awk -v a="$(record "$s" int8_accuracy)" -v b="$(record "$s" float_accuracy)" 'BEGIN { print a - b }'; done | mean_range signed) |"
  echo "| **test split** | $(for s in "${kept[@]}"; do tested "$s" auto; done | mean_range) | $(for s in "${kept[@]}"; do tested "$s" int8; done | mean_range) | $(for s in "${kept[@]}"; do awk -v a="$(tested "$s" int8)" -v b="$(tested "$s" auto)" 'BEGIN { print a - b }'; done | mean_range signed) |"
} | tee "$RUNS/int8_table.md"
