#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the main job on the embedded sample:
# a federated run (configs/fl/quickstart.toml) whose clients train on their few real photos plus
# renders of the 43 sign pictograms, read on real tracks no client holds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh -DFEDSIGN_BUILD_TESTS=OFF -DFEDSIGN_BUILD_BENCH=OFF

out=runs/quickstart
mkdir -p "$out"
start=$(date +%s.%N)
build/bin/fedsign fl simulate --config configs/fl/quickstart.toml --out "$out" | tee "$out/console.log"
seconds=$(echo "$(date +%s.%N) - $start" | bc)

# The last round's line of metrics.csv, by column name.
column() {
  awk -F, -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
                        { v = $c } END { print v }' "$out/metrics.csv"
}
pct() { awk -v v="$1" 'BEGIN { if (v == "") print "-"; else printf "%.2f%%", 100 * v }'; }
cat <<EOF

Main job done: federated training on the embedded sample (data/sample), 10 clients, FedAvg.
| rounds | held-out real tracks (central) | clients' own held-out tracks | run time |
|---:|---:|---:|---:|
| $(column round) | $(pct "$(column central_accuracy)") | $(pct "$(column federated_accuracy)") | $(printf '%.0f' "$seconds") s |
Plots: $out/accuracy.png, $out/loss.png, $out/partition.png; the setup and result: $out/summary.md;
the global model: $out/model.pt (try: build/bin/fedsign predict $out data/sample/Train/14/*.png).
Next: the same on the full data set (build/bin/fedsign fl simulate --config configs/fl/fedavg_dirichlet_0.5.toml),
watch a run live (add --status-address 127.0.0.1:8080, open http://127.0.0.1:8080/),
or the real network (scripts/fl_loopback_demo.sh 4 5: a gRPC server and 4 client processes).
EOF
