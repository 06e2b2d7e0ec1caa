#!/usr/bin/env bash
# The federated GTSRB experiments of docs/fl.md in one command: centralized training vs FedAvg
# IID / Dirichlet(0.5) / Dirichlet(0.1), and FedProx, SCAFFOLD, FedAdam at Dirichlet(0.1); 100
# clients, 10 per round, on ../shared/data/gtsrb with its track-disjoint validation split (the
# same one for every run).
#
#   scripts/fl_gtsrb_experiments.sh          # run what is missing, then the table and chart
#   scripts/fl_gtsrb_experiments.sh --table  # only the table and chart from existing runs
#
# Runs JOBS (default 2) experiments at a time with cores/JOBS threads each: small-batch local
# training uses one core well, so two one-thread runs finish sooner than two two-thread runs
# one after the other. Logs go to runs/fl/<run>.log.
# Writes runs/fl/results.md (the table) and runs/fl/central_accuracy.png (validation accuracy per
# round of every FL run; the centralized run counts epochs, not rounds, so it is a table row
# only). Environment: FEDSIGN (build/bin/fedsign), JOBS.
set -euo pipefail
cd "$(dirname "$0")/.."
FEDSIGN=${FEDSIGN:-build/bin/fedsign}
JOBS=${JOBS:-2}
THREADS=$(( $(nproc) / JOBS )); (( THREADS >= 1 )) || THREADS=1
RUNS=(fedavg_iid fedavg_dirichlet_0.5 fedavg_dirichlet_0.1 fedprox_dirichlet_0.1
      scaffold_dirichlet_0.1 fedadam_dirichlet_0.1)
NAMES=("FedAvg, IID" "FedAvg, Dirichlet 0.5" "FedAvg, Dirichlet 0.1" "FedProx (mu 0.01), Dirichlet 0.1"
       "SCAFFOLD, Dirichlet 0.1" "FedAdam, Dirichlet 0.1")
CENTRAL=runs/compact_gtsrb

if [[ "${1:-}" != "--table" ]]; then
  mkdir -p runs/fl
  source scripts/lib/job_slots.sh
  [[ -f "$CENTRAL/metrics.csv" ]] ||
    launch runs/fl/centralized.log "$FEDSIGN" train --config configs/train/compact_gtsrb.toml \
      --threads "$THREADS" --out "$CENTRAL"
  for run in "${RUNS[@]}"; do
    [[ -f "runs/fl/$run/metrics.csv" ]] && [[ -f "runs/fl/$run/model.pt" ]] ||
      launch "runs/fl/$run.log" "$FEDSIGN" fl simulate --config "configs/fl/$run.toml" \
        --threads "$THREADS" --out "runs/fl/$run"
  done
  wait_all
  (( FAILED == 0 )) || { echo "a run failed: see runs/fl/*.log" >&2; exit 1; }
fi

dirs=(); names=()
for i in "${!RUNS[@]}"; do
  [[ -f "runs/fl/${RUNS[$i]}/metrics.csv" ]] || continue
  dirs+=("runs/fl/${RUNS[$i]}"); names+=("${NAMES[$i]}")
done
[[ ${#dirs[@]} -gt 0 ]] || { echo "no runs in runs/fl yet" >&2; exit 1; }
"$FEDSIGN" fl compare "${dirs[@]}" --names "${names[@]}" --metric central_accuracy \
  --out runs/fl/central_accuracy.png > /dev/null
"$FEDSIGN" fl compare "${dirs[@]}" --names "${names[@]}" --metric central_accuracy --from 200 \
  --out runs/fl/central_accuracy_last200.png > /dev/null

{
  echo "| run | config | final accuracy | vs centralized | mean of last 10 evaluations | best (round) | wall time |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  central_final=""
  if [[ -f "$CENTRAL/metrics.csv" ]]; then
    central_final=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
                             { v = $col["val_accuracy"] } END { print v }' "$CENTRAL/metrics.csv")
    awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
      { a[++n] = $col["val_accuracy"]; t += $col["seconds"]; if (a[n] > best) { best = a[n]; at = n } }
      END { s = 0; k = 0; for (i = n - 9; i <= n; ++i) if (i >= 1) { s += a[i]; ++k }
            printf "| centralized | configs/train/compact_gtsrb.toml | %.2f%% | - | %.2f%% (epochs) | %.2f%% (epoch %d) | %.0f s |\n",
                   100 * a[n], 100 * s / k, 100 * best, at, t }' "$CENTRAL/metrics.csv"
  fi
  for i in "${!RUNS[@]}"; do
    m="runs/fl/${RUNS[$i]}/metrics.csv"
    [[ -f "$m" ]] || continue
    awk -F, -v name="${NAMES[$i]}" -v cfg="configs/fl/${RUNS[$i]}.toml" -v central="$central_final" \
      'NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
      { t += $col["seconds"]; v = $col["central_accuracy"]
        if (v != "" && v != "nan") { a[++n] = v; r[n] = $col["round"]; if (v > best) { best = v; at = $col["round"] } } }
      END { s = 0; k = 0; for (i = n - 9; i <= n; ++i) if (i >= 1) { s += a[i]; ++k }
            gap = central == "" ? "-" : sprintf("%+.2f", 100 * (a[n] - central))
            printf "| %s | %s | %.2f%% | %s | %.2f%% | %.2f%% (round %d) | %.0f s |\n",
                   name, cfg, 100 * a[n], gap, 100 * s / k, 100 * best, at, t }' "$m"
  done
} > runs/fl/results.md
cat runs/fl/results.md
echo "charts: runs/fl/central_accuracy.png, runs/fl/central_accuracy_last200.png"
