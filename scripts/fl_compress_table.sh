#!/usr/bin/env bash
# Issue 14's compression table: the same federation with uncompressed, int8 (per tensor and per
# channel) and top-1% (error feedback) uploads, over seeds, with an untouched test split.
# The federation is the robustness table's (scripts/fl_robust_table.sh): CONFIG
# (configs/fl/fedavg_dirichlet_0.5.toml: 100 clients, Dirichlet 0.5, 10 per round, its local
# recipe and cosine schedule) for ROUNDS rounds. A seed fixes the initial model, the client
# sampling and the local shuffles, so the codecs of one seed differ only by what compression
# changes: the table gives each codec's difference to the uncompressed run of the same seed
# (paired), beside the plain means and spreads.
#
#   scripts/fl_compress_table.sh           # run what is missing (resumable), then the table
#   scripts/fl_compress_table.sh --table   # only the table, from existing runs
#
# Environment: FEDSIGN (build/bin/fedsign), DATA (../shared/data/gtsrb), OUT (runs/compress),
# ROUNDS (60), SEEDS ("42 1 2"), JOBS (2 runs at a time), THREADS (per run; cores/JOBS),
# TEST_FRACTION (0.1), CODECS (which codecs to run, default all: none int8 int8-channel topk1
# topk1-senders; the table shows every codec that has runs).
# Logs: OUT/<codec>-seed<S>.log; the table also goes to OUT/table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
FEDSIGN=${FEDSIGN:-build/bin/fedsign}
DATA=${DATA:-../shared/data/gtsrb}
OUT=${OUT:-runs/compress}
CONFIG=${CONFIG:-configs/fl/fedavg_dirichlet_0.5.toml}
ROUNDS=${ROUNDS:-60}
JOBS=${JOBS:-2}
TEST_FRACTION=${TEST_FRACTION:-0.1}
THREADS=${THREADS:-$(( $(nproc) / JOBS ))}; (( THREADS >= 1 )) || THREADS=1
read -r -a SEEDS <<< "${SEEDS:-42 1 2}"

ALL_CODECS=(none int8 int8-channel topk1 topk1-senders)
CODEC_NAMES=("uncompressed (float32)" "int8, scale per tensor" "int8, scale per channel"
             "top-1% with error feedback" "top-1% with error feedback, mean over senders")
read -r -a CODECS <<< "${CODECS:-${ALL_CODECS[*]}}"
codec_flags() {
  case $1 in
    none) ;;
    int8) echo "--compress int8" ;;
    int8-channel) echo "--compress int8 --int8-per-channel" ;;
    topk1) echo "--compress topk --topk-fraction 0.01" ;;
    topk1-senders) echo "--compress topk --topk-fraction 0.01 --mean-over-senders" ;;
    *) echo "unknown codec '$1' (one of ${ALL_CODECS[*]})" >&2; exit 1 ;;
  esac
}

if [[ "${1:-}" != "--table" ]]; then
  [[ -x "$FEDSIGN" ]] || { echo "no fedsign binary at $FEDSIGN (set FEDSIGN)" >&2; exit 1; }
  [[ -d "$DATA" ]] || { echo "no data at $DATA (set DATA)" >&2; exit 1; }
  mkdir -p "$OUT"
  source scripts/lib/job_slots.sh
  for seed in "${SEEDS[@]}"; do
    for codec in "${CODECS[@]}"; do
      run="$OUT/$codec-seed$seed"
      [[ -f "$run/test.json" ]] && continue
      resume=""
      [[ -f "$run/server.ckpt" ]] && resume="--resume"
      # shellcheck disable=SC2046  # the codec's flags are a list of words
      launch "$run.log" "$FEDSIGN" fl simulate --config "$CONFIG" --data "$DATA" --rounds "$ROUNDS" \
        --eval-every 10 --seed "$seed" --test-fraction "$TEST_FRACTION" --threads "$THREADS" \
        $(codec_flags "$codec") --out "$run" $resume
    done
  done
  wait_all
  (( FAILED == 0 )) || { echo "a run failed: see $OUT/*.log" >&2; exit 1; }
fi

source scripts/lib/tables.sh
# A metrics.csv column's mean over the rounds.
column_mean() {
  awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
    { s += $col[name]; ++n } END { if (n) printf "%.0f", s / n }' "$1"
}

{
  echo "$(basename "$CONFIG" .toml), $ROUNDS rounds, seeds ${SEEDS[*]}; validation is a development"
  echo "set, the test split (--test-fraction $TEST_FRACTION) is read once per run at the end."
  echo "Differences are to the uncompressed run of the same seed, in points."
  echo
  echo "| upload codec | final validation, mean (min-max) | **test split, mean (min-max)** | test: difference to uncompressed, mean (min to max) | upload per round | fewer upload bytes |"
  echo "|---|---:|---:|---:|---:|---:|"
  for c in "${!ALL_CODECS[@]}"; do
    vals=(); tests=(); diffs=(); ups=(); base_ups=()
    for seed in "${SEEDS[@]}"; do
      run="$OUT/${ALL_CODECS[$c]}-seed$seed" base="$OUT/none-seed$seed"
      [[ -f "$run/test.json" ]] || continue
      vals+=("$(last_value "$run/metrics.csv" central_accuracy)")
      t=$(json_number "$run/test.json" accuracy)
      tests+=("$t")
      ups+=("$(column_mean "$run/metrics.csv" bytes_up)")
      if [[ -f "$base/test.json" ]]; then
        diffs+=("$(awk -v a="$t" -v b="$(json_number "$base/test.json" accuracy)" 'BEGIN { print a - b }')")
        base_ups+=("$(column_mean "$base/metrics.csv" bytes_up)")
      fi
    done
    (( ${#tests[@]} > 0 )) || continue
    up=$(printf '%s\n' "${ups[@]}" | awk '{ s += $1; ++n } END { printf "%.0f", s / n }')
    ratio="-"
    if (( ${#base_ups[@]} > 0 )); then
      base_up=$(printf '%s\n' "${base_ups[@]}" | awk '{ s += $1; ++n } END { print s / n }')
      ratio=$(awk -v a="$base_up" -v b="$up" 'BEGIN { printf "%.2fx", a / b }')
    fi
    diff="-"
    [[ ${ALL_CODECS[$c]} != none && ${#diffs[@]} -gt 0 ]] && diff=$(printf '%s\n' "${diffs[@]}" | mean_range signed)
    up_mb=$(awk -v b="$up" 'BEGIN { printf "%.2f MB", b / 1e6 }')
    echo "| ${CODEC_NAMES[$c]} | $(printf '%s\n' "${vals[@]}" | mean_range) | $(printf '%s\n' "${tests[@]}" | mean_range) | $diff | $up_mb | $ratio |"
  done
} > "$OUT/table.md.tmp"
mv "$OUT/table.md.tmp" "$OUT/table.md"
cat "$OUT/table.md"
