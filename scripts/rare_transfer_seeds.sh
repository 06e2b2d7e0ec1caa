#!/usr/bin/env bash
# The rare-sign protocol and the transfer modes repeated over seeds, with an untouched test split
# (issue 16): configs/rare/rare10.toml and configs/transfer/compact.toml once per seed with
# `--test-fraction 0.1`; tables of the mean and spread (min-max) on the validation split (a
# development set: the renderer's fixes and the recipes were chosen on it) and on the test split,
# which each variant or mode scores once, after its training.
#
#   scripts/rare_transfer_seeds.sh            # run what is missing, then the tables
#   SEEDS="42 1 2" scripts/rare_transfer_seeds.sh --table
#
# --seed changes initialization and shuffling; the renders (synth-seed), the transfer source
# and the split (split-seed) stay fixed. The transfer source (a compact CNN trained on renders
# only, README "Transfer learning") is made first if runs/synth-source is missing.
# Runs JOBS (default 2) at a time, one thread each; results in runs/seeds/{rare,transfer}/seed<S>,
# tables in runs/seeds/results.md. Environment: FEDSIGN, JOBS, SEEDS, TEST_FRACTION (0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
FEDSIGN=${FEDSIGN:-build/bin/fedsign}
JOBS=${JOBS:-2}
read -r -a SEEDS <<< "${SEEDS:-42 1 2}"
TEST_FRACTION=${TEST_FRACTION:-0.1}
OUT=runs/seeds

if [[ "${1:-}" != "--table" ]]; then
  mkdir -p "$OUT/rare" "$OUT/transfer"
  if [[ ! -f runs/synth-source/model.pt ]]; then
    "$FEDSIGN" synth --data ../shared/data/gtsrb --out runs/synth-source-data --per-class 300 \
      --seed 11 --threads 1
    "$FEDSIGN" train --data runs/synth-source-data --val-fraction 0.1 --epochs 8 \
      --threads 1 --out runs/synth-source
  fi
  source scripts/lib/job_slots.sh
  for seed in "${SEEDS[@]}"; do
    [[ -f "$OUT/rare/seed$seed/report.csv" ]] ||
      launch "$OUT/rare/seed$seed.log" "$FEDSIGN" rare --config configs/rare/rare10.toml \
        --seed "$seed" --test-fraction "$TEST_FRACTION" --threads 1 --out "$OUT/rare/seed$seed"
    [[ -f "$OUT/transfer/seed$seed/transfer.csv" ]] && grep -q partial "$OUT/transfer/seed$seed/transfer.csv" ||
      launch "$OUT/transfer/seed$seed.log" "$FEDSIGN" transfer --config configs/transfer/compact.toml \
        --seed "$seed" --test-fraction "$TEST_FRACTION" --threads 1 --out "$OUT/transfer/seed$seed"
  done
  wait_all
  (( FAILED == 0 )) || { echo "a run failed: see $OUT/*/seed*.log" >&2; exit 1; }
fi

# "mean% (min-max)" of column COL over the rows whose first field is KEY: spread KEY COL FILE...
source scripts/lib/tables.sh
spread() { csv_values "$@" | mean_range; }

rare_csvs=(); transfer_csvs=(); rare_seeds=(); transfer_seeds=()
for seed in "${SEEDS[@]}"; do
  [[ -f "$OUT/rare/seed$seed/report.csv" ]] && { rare_csvs+=("$OUT/rare/seed$seed/report.csv"); rare_seeds+=("$seed"); }
  [[ -f "$OUT/transfer/seed$seed/transfer.csv" ]] &&
    { transfer_csvs+=("$OUT/transfer/seed$seed/transfer.csv"); transfer_seeds+=("$seed"); }
done
{
  if (( ${#rare_csvs[@]} > 0 )); then
    echo "Rare signs (configs/rare/rare10.toml --test-fraction $TEST_FRACTION), seeds ${rare_seeds[*]}: mean (min-max)"
    echo
    echo "| variant | validation: all | validation: rare | **test: all** | **test: rare** |"
    echo "|---|---:|---:|---:|---:|"
    for v in no-synthetic synthetic synthetic-supcon; do
      echo "| $v | $(spread $v accuracy_all "${rare_csvs[@]}") | $(spread $v accuracy_rare "${rare_csvs[@]}") |" \
           "$(spread $v test_accuracy_all "${rare_csvs[@]}") | $(spread $v test_accuracy_rare "${rare_csvs[@]}") |"
    done
    echo
  fi
  if (( ${#transfer_csvs[@]} > 0 )); then
    echo "Transfer (configs/transfer/compact.toml --test-fraction $TEST_FRACTION), seeds ${transfer_seeds[*]}: mean (min-max)"
    echo
    echo "| mode | validation | **test split** |"
    echo "|---|---:|---:|"
    for m in direct scratch features finetune partial; do
      echo "| $m | $(spread $m val_accuracy "${transfer_csvs[@]}") | $(spread $m test_accuracy "${transfer_csvs[@]}") |"
    done
  fi
} > "$OUT/results.md"
cat "$OUT/results.md"
