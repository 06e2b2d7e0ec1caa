#!/usr/bin/env bash
# End-to-end throughput of `fedsign evaluate` (issue 19): the whole command (start-up, cache
# load, model load, inference, report) on 12,630 cached images (the size of the official GTSRB
# test set: images of DATA in a seeded order, laid out as a Kaggle test folder of symlinks,
# for the speed only), in bf16 with the allocator settings of main() (core/allocator.h), in
# int8 (after `fedsign quantize`, which also prints the accuracy check), and in bf16 with the C
# library's malloc defaults (FEDSIGN_MALLOC=system), alternating in one run so that the ratios
# hold on a shared machine.
# Then the same comparison inside a federated run: FL_ROUNDS rounds of
# configs/fl/fedadam_dirichlet_0.1.toml (evaluated every 4th round), evaluation seconds per
# evaluated round against the mean training round, from each run's metrics.csv. Last, a short
# centralized run (TRAIN_EPOCHS epochs of configs/train/compact_gtsrb.toml, validated after each
# epoch) both ways: wall time and each epoch's training images/s.
# Writes bench/results/eval_throughput.md (or $RESULTS) and prints it.
#
# Usage: bench/eval_throughput.sh [BUILD_DIR]     (default: build; needs bin/fedsign)
# Environment: DATA (../shared/data/gtsrb), MODEL (run directory or weights file; default: a 1-epoch compact
# model trained on data/sample into runs/eval_bench/), QUANTIZE_ARGS (extra `fedsign quantize`
# options, e.g. the model's --test-fraction; int8 is skipped when quantize refuses), REPEATS
# (3), THREADS (2), FL_ROUNDS (8; 0 skips the federated part), TRAIN_EPOCHS (2; 0 skips the
# training part), RESULTS.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
FEDSIGN="$BUILD/bin/fedsign"
DATA="${DATA:-../shared/data/gtsrb}"
REPEATS="${REPEATS:-3}"
THREADS="${THREADS:-2}"
FL_ROUNDS="${FL_ROUNDS:-8}"
TRAIN_EPOCHS="${TRAIN_EPOCHS:-2}"
RESULTS="${RESULTS:-bench/results/eval_throughput.md}"
WORK=runs/eval_bench
[[ -x "$FEDSIGN" ]] || { echo "missing $FEDSIGN: build fedsign_cli first" >&2; exit 1; }
[[ -d "$DATA" ]] || { echo "no data folder $DATA (set DATA)" >&2; exit 1; }
mkdir -p "$WORK"
MODEL="${MODEL:-$WORK/model}"
if [[ ! -f "$MODEL" && ! -f "$MODEL/model.pt" ]]; then  # a weights file or a run directory
  "$FEDSIGN" train --data data/sample --epochs 1 --seed 1 --threads "$THREADS" \
    --cache-dir "$WORK/cache" --out "$MODEL" >"$WORK/train.log" 2>&1 ||
    { tail -1 "$WORK/train.log" >&2; exit 1; }
fi

# The test-set-sized folder: Test.csv rows of DATA's Train.csv in a seeded order, paths
# rewritten to Test/<file name> (GTSRB file names are unique across classes), symlinked.
TEST_LIKE="$WORK/test12630"
if [[ ! -f "$TEST_LIKE/Test.csv" ]]; then
  rm -rf "$TEST_LIKE" && mkdir -p "$TEST_LIKE/Test"
  data_abs=$(cd "$DATA" && pwd)
  tail -n +2 "$DATA/Train.csv" | tr -d '\r' | shuf -n 12630 --random-source=<(yes 19) >"$WORK/rows.csv"
  (( $(wc -l <"$WORK/rows.csv") == 12630 )) || { echo "$DATA has fewer than 12,630 images" >&2; exit 1; }
  cut -d, -f8 "$WORK/rows.csv" | sed "s|^|$data_abs/|" | xargs ln -s -t "$TEST_LIKE/Test"
  { head -1 "$DATA/Train.csv" | tr -d '\r'
    awk -F, -v OFS=, '{ n = split($8, p, "/"); $8 = "Test/" p[n]; print }' "$WORK/rows.csv"
  } >"$TEST_LIKE/Test.csv.tmp" && mv "$TEST_LIKE/Test.csv.tmp" "$TEST_LIKE/Test.csv"
fi

INT8=1
"$FEDSIGN" quantize "$MODEL" --data "$DATA" --cache-dir runs/cache --threads "$THREADS" \
  ${QUANTIZE_ARGS:-} >"$WORK/quantize.log" 2>&1 || INT8=0
quantize_line=$(grep -E "split \(|int8 loses|int8 kept" "$WORK/quantize.log" | sed 's/^.*error[: ]*//' || true)

evaluate() {  # label, precision, extra environment...; prints "images seconds"
  local start end out
  start=$(date +%s.%N)
  out=$(env "${@:3}" "$FEDSIGN" evaluate "$MODEL" --data "$TEST_LIKE" --cache-dir runs/cache \
          --precision "$2" --threads "$THREADS" --out "$WORK/out-$1" 2>&1) ||
    { echo "$out" >&2; exit 1; }
  end=$(date +%s.%N)
  local images
  images=$(grep -oE '^[0-9]+ images: accuracy' <<<"$out" | grep -oE '^[0-9]+')
  awk -v n="$images" -v a="$start" -v b="$end" 'BEGIN {print n, b - a}'
}

evaluate warmup auto >/dev/null  # decodes into the cache once
declare -A rates
variants=(tuned system)
((INT8)) && variants=(tuned int8 system)
for ((r = 1; r <= REPEATS; r++)); do
  for variant in "${variants[@]}"; do
    case $variant in
      tuned) read -r n s < <(evaluate "$variant" auto FEDSIGN_MALLOC=tuned) ;;
      int8) read -r n s < <(evaluate "$variant" int8 FEDSIGN_MALLOC=tuned) ;;
      system) read -r n s < <(evaluate "$variant" auto FEDSIGN_MALLOC=system) ;;
    esac
    rates[$variant]+="$(awk -v n="$n" -v s="$s" 'BEGIN {print n / s}') "
    echo "run $r $variant: $n images in $(printf %.2f "$s") s" >&2
  done
done

summary() {  # median min max of a list
  tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {printf "%.0f | %.0f-%.0f", a[int((NR+1)/2)], a[1], a[NR]}'
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio=$(awk -v a="$(median "${rates[tuned]}")" -v b="$(median "${rates[system]}")" 'BEGIN {print a / b}')
{
  echo "# fedsign evaluate, end to end"
  echo
  echo "\`bench/eval_throughput.sh\` on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
  echo "$THREADS threads, $n cached images (images of \`$DATA\` laid out as a test folder of the"
  echo "official test set's size), model \`$MODEL\`, $REPEATS alternating runs each; the time is"
  echo "the whole command (start-up, cache and model load, inference, report)."
  echo
  echo "| precision, allocator | images/s (median) | min-max |"
  echo "|---|---:|---:|"
  echo "| bf16 where native (auto), fedsign's malloc settings (core/allocator.h) | $(summary "${rates[tuned]}") |"
  ((INT8)) && echo "| int8 (\`--precision int8\` after \`fedsign quantize\`), same allocator | $(summary "${rates[int8]}") |"
  echo "| bf16 where native, C library malloc defaults (FEDSIGN_MALLOC=system) | $(summary "${rates[system]}") |"
  echo
  printf 'Ratio of medians, fedsign malloc / C library: %.2fx.\n' "$ratio"
  if ((INT8)); then
    awk -v a="$(median "${rates[int8]}")" -v b="$(median "${rates[tuned]}")" \
      'BEGIN {printf "Ratio of medians, int8 / bf16: %.2fx.\n", a / b}'
  fi
  echo
  echo "\`fedsign quantize $MODEL --data $DATA ${QUANTIZE_ARGS:-}\` (int8 kept only within 0.1 points):"
  echo
  echo "    $quantize_line" | sed '2,$s/^/    /'
  if ((FL_ROUNDS > 0)); then
    echo
    echo "## Inside a federated run"
    echo
    echo "\`fedsign fl simulate --config configs/fl/fedadam_dirichlet_0.1.toml --rounds $FL_ROUNDS"
    echo "--threads $THREADS\` (central evaluation on the validation tracks and federated evaluation"
    echo "every 4th round), from each run's metrics.csv:"
    echo
    echo "| allocator | training round (mean s) | evaluated round (mean s) | its evaluation (mean s) | evaluated / training round |"
    echo "|---|---:|---:|---:|---:|"
    for variant in tuned system; do
      FEDSIGN_MALLOC=$variant "$FEDSIGN" fl simulate --config configs/fl/fedadam_dirichlet_0.1.toml \
        --data "$DATA" --rounds "$FL_ROUNDS" --threads "$THREADS" --cache-dir runs/cache \
        --out "$WORK/fl-$variant" >"$WORK/fl-$variant.log" 2>&1 ||
        { cat "$WORK/fl-$variant.log" >&2; exit 1; }
      label="fedsign"
      [[ $variant == system ]] && label="C library defaults"
      awk -F, -v label="$label" '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        { s = $col["seconds"]; e = $col["eval_seconds"]
          if (e > 0) { es += s; ee += e; ne++ } else { ts += s; nt++ } }
        END { printf "| %s | %.2f | %.2f | %.2f | %.2fx |\n", label, ts / nt, es / ne, ee / ne,
              (es / ne) / (ts / nt) }' "$WORK/fl-$variant/metrics.csv"
    done
  fi
  if ((TRAIN_EPOCHS > 0)); then
    echo
    echo "## A centralized training run"
    echo
    echo "\`fedsign train --config configs/train/compact_gtsrb.toml --epochs $TRAIN_EPOCHS --threads $THREADS\`"
    echo "(each epoch: training, then the 3,915 validation images):"
    echo
    echo "| allocator | whole run (s) | training images/s per epoch |"
    echo "|---|---:|---|"
    for variant in tuned system; do
      label="fedsign"
      [[ $variant == system ]] && label="C library defaults"
      start=$(date +%s.%N)
      FEDSIGN_MALLOC=$variant "$FEDSIGN" train --config configs/train/compact_gtsrb.toml \
        --data "$DATA" --epochs "$TRAIN_EPOCHS" --threads "$THREADS" --cache-dir runs/cache \
        --out "$WORK/train-$variant" >"$WORK/train-$variant.log" 2>&1 ||
        { cat "$WORK/train-$variant.log" >&2; exit 1; }
      end=$(date +%s.%N)
      epochs=$(grep -oE '\(([0-9]+) img/s\)' "$WORK/train-$variant.log" | tr -dc '0-9\n' | paste -sd, -)
      awk -v l="$label" -v a="$start" -v b="$end" -v e="$epochs" \
        'BEGIN {printf "| %s | %.1f | %s |\n", l, b - a, e}'
    done
  fi
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
cat "$RESULTS"
