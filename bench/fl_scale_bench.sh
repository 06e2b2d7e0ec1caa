#!/usr/bin/env bash
# Federated simulation at scale: does memory grow with the number of clients, and how much of a
# round is spent outside local training?
#
#   bench/fl_scale_bench.sh [ROUNDS=10] [N...=100 10000]
#
# GTSRB has only ~1,300 tracks, and a track never spans two clients, so 10,000 clients need more
# tracks than the real data has. The script renders a synthetic GTSRB-layout set once
# (`fedsign synth`, 43 x PER_CLASS images, every image its own track) and runs the same FedAvg
# simulation on it with N clients each: compact CNN, 10 clients per round, LOCAL_STEPS local
# steps of batch 32 per client (steps, not epochs, so every N does the same training work per
# round), central evaluation every round, no federated evaluation.
# It reports, per N: peak resident memory of the process (GNU time's maximum RSS), mean seconds
# per round, mean local-training seconds, and the simulation overhead (round time not spent in
# local training or evaluation, in metrics.csv: overhead_seconds / seconds), rounds 2.. only.
# Also prints the synthesizer's throughput (images/minute) from the one-time render.
#
# Environment: FEDSIGN (build/bin/fedsign), DATA (GTSRB folder with Meta/, for the pictograms;
# ../shared/data/gtsrb), OUT (runs/fl-scale-bench), PER_CLASS (300), LOCAL_STEPS (20),
# THREADS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-10}
shift || true
COUNTS=("$@")
[[ ${#COUNTS[@]} -gt 0 ]] || COUNTS=(100 10000)
FEDSIGN=${FEDSIGN:-build/bin/fedsign}
DATA=${DATA:-../shared/data/gtsrb}
OUT=${OUT:-runs/fl-scale-bench}
PER_CLASS=${PER_CLASS:-300}
LOCAL_STEPS=${LOCAL_STEPS:-20}
THREADS=${THREADS:-2}
[[ -x "$FEDSIGN" ]] || { echo "build first: $FEDSIGN not found" >&2; exit 1; }
mkdir -p "$OUT"

synth="$OUT/synth-$PER_CLASS"
if [[ ! -f "$synth/Train.csv" ]]; then
  "$FEDSIGN" synth --data "$DATA" --out "$synth" --per-class "$PER_CLASS" --seed 7 \
    --threads "$THREADS" > "$OUT/synth.log" 2>&1
fi
echo "synth ($THREADS threads): $(grep '^wrote' "$OUT/synth.log")"
# Decode once into the run's cache so no N pays for it.
"$FEDSIGN" data cache "$synth" --cache-dir "$OUT/cache" > /dev/null 2>&1

printf "%8s %14s %12s %14s %14s %12s\n" clients peak_RSS_MB s/round train_s/round overhead_s/rnd overhead_%
for N in "${COUNTS[@]}"; do
  run="$OUT/n$N"
  rm -rf "$run"
  /usr/bin/time -f "%M" -o "$OUT/n$N.rss" "$FEDSIGN" fl simulate --data "$synth" \
    --cache-dir "$OUT/cache" --val-fraction 0.05 --model compact --clients "$N" \
    --clients-per-round 10 --fraction-evaluate 0 --client-test-fraction 0 --partition iid \
    --rounds "$ROUNDS" --local-steps "$LOCAL_STEPS" --batch-size 32 --optimizer sgd --lr 0.05 \
    --threads "$THREADS" --out "$run" > "$OUT/n$N.log" 2>&1 \
    || { echo "N=$N failed, see $OUT/n$N.log" >&2; continue; }
  rss_kb=$(tail -n 1 "$OUT/n$N.rss")
  awk -F, -v n="$N" -v rss="$rss_kb" 'NR > 2 { s += $11; t += $12; o += $14; k++ }
    END { if (k == 0) { print "need ROUNDS >= 2" > "/dev/stderr"; exit }
          printf "%8d %14.1f %12.3f %14.3f %14.3f %12.2f\n", n, rss / 1024, s / k, t / k, o / k, 100 * o / s }' \
    "$run/metrics.csv"
done
