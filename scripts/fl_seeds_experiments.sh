#!/usr/bin/env bash
# Federated GTSRB runs repeated over seeds, with an untouched test split (issue 16): each config
# of configs/fl/ runs once per seed with `--test-fraction 0.1`; the table gives the mean and the
# spread (min-max) of the final validation accuracy (a development set: the recipes were chosen
# on it) and of the test split, which each run scores once, at the end (test.json).
#
#   scripts/fl_seeds_experiments.sh                         # the default configs and seeds
#   CONFIGS="fedavg_iid" SEEDS="42 1 2" scripts/fl_seeds_experiments.sh
#   scripts/fl_seeds_experiments.sh --table                 # only the table from existing runs
#
# --seed changes the model's initialization, client sampling and local shuffling; the partition
# (partition-seed) and the train/validation/test split (split-seed) stay those of the config, so
# the spread is the training's, on one fixed federation.
# Runs JOBS (default 2) at a time with cores/JOBS threads each; results in
# runs/fl-seeds/<config>/seed<S>/, logs beside them, table in runs/fl-seeds/results.md.
# Environment: FEDSIGN (build/bin/fedsign), JOBS, THREADS (per run), CONFIGS, SEEDS,
# TEST_FRACTION (0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
FEDSIGN=${FEDSIGN:-build/bin/fedsign}
JOBS=${JOBS:-2}
THREADS=${THREADS:-$(( $(nproc) / JOBS ))}; (( THREADS >= 1 )) || THREADS=1
read -r -a CONFIGS <<< "${CONFIGS:-fedavg_iid fedadam_dirichlet_0.1}"
read -r -a SEEDS <<< "${SEEDS:-42 1 2}"
TEST_FRACTION=${TEST_FRACTION:-0.1}
OUT=runs/fl-seeds

if [[ "${1:-}" != "--table" ]]; then
  mkdir -p "$OUT"
  source scripts/lib/job_slots.sh
  for config in "${CONFIGS[@]}"; do
    [[ -f "configs/fl/$config.toml" ]] || { echo "no configs/fl/$config.toml" >&2; exit 1; }
    for seed in "${SEEDS[@]}"; do
      dir="$OUT/$config/seed$seed"
      [[ -f "$dir/test.json" ]] && continue
      mkdir -p "$OUT/$config"
      launch "$dir.log" "$FEDSIGN" fl simulate --config "configs/fl/$config.toml" --seed "$seed" \
        --test-fraction "$TEST_FRACTION" --threads "$THREADS" --out "$dir"
    done
  done
  wait_all
  (( FAILED == 0 )) || { echo "a run failed: see $OUT/*/seed*.log" >&2; exit 1; }
fi

# The last central_accuracy of metrics.csv (final validation) and test.json's accuracy, per run.
final_validation() { last_value "$1" central_accuracy; }
failures() {  # client failures over all rounds
  awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next } { n += $col["failures"] } END { print n + 0 }' "$1"
}
source scripts/lib/tables.sh
test_accuracy() { json_number "$1" accuracy; }
test_images() { json_number "$1" images; }
spread() { printf '%s\n' "$@" | mean_range; }  # "mean% (min-max)" of the fractions given

{
  echo "| run | config | seeds | final validation (dev set), mean (min-max) | **test split, mean (min-max)** | test images | client failures |"
  echo "|---|---|---|---:|---:|---:|---:|"
  for config in "${CONFIGS[@]}"; do
    vals=(); tests=(); done_seeds=(); images=""; failed_updates=0
    for seed in "${SEEDS[@]}"; do
      dir="$OUT/$config/seed$seed"
      [[ -f "$dir/test.json" && -f "$dir/metrics.csv" ]] || continue
      vals+=("$(final_validation "$dir/metrics.csv")")
      tests+=("$(test_accuracy "$dir/test.json")")
      images=$(test_images "$dir/test.json")
      failed_updates=$(( failed_updates + $(failures "$dir/metrics.csv") ))
      done_seeds+=("$seed")
    done
    (( ${#done_seeds[@]} > 0 )) || continue
    echo "| $config | configs/fl/$config.toml | ${done_seeds[*]} | $(spread "${vals[@]}") | $(spread "${tests[@]}") | $images | $failed_updates |"
  done
} > "$OUT/results.md"
cat "$OUT/results.md"
