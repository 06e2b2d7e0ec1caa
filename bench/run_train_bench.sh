#!/usr/bin/env bash
# End-to-end benchmarks of fedsign against the equivalent Python/PyTorch pipeline. Builds
# nothing: pass a build directory that has bin/fedsign and bench/{train_step_bench,predict_bench}.
#
#   bench/run_train_bench.sh [BUILD_DIR] [SECTIONS]
#
# BUILD_DIR defaults to build-bench; SECTIONS is a comma list of
#   cache    `fedsign data cache` cold (fresh cache dir: decode + write) and warm (cache read)
#   train    one epoch of `fedsign train` per precision/memory format, then the Python pipeline
#            (bench/python_pipeline.py) on the same number of images and threads, back to back,
#            then the first C++ run again (to bracket drift), and train_step_bench
#   predict  `fedsign predict` per process (1 image) and over 1000 images, plus the in-process
#            bench/predict_bench (single-image latency, batch 64/256 throughput)
# (default: cache,train,predict). Results go to bench/results/{cache_load,train_throughput,
# predict}.md and .csv, with the date, machine, `uptime` load and exact commands.
#
# Environment: DATA (GTSRB folder, default /work/shared/data/gtsrb), THREADS (2), PYTHON
# (/usr/bin/python3, Debian's python3-torch), PY_WORKERS (DataLoader workers to try, "0,1,2"),
# PY_STEPS (0 = a full epoch; else stop after this many batches of 128), MAX_LOAD (1.5: wait,
# up to 10 min, while the 1-minute load average is above this), RESULTS (bench/results).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$(cd "${1:-$ROOT/build-bench}" && pwd)"
SECTIONS="${2:-cache,train,predict}"
DATA="${DATA:-/work/shared/data/gtsrb}"
THREADS="${THREADS:-2}"
PYTHON="${PYTHON:-/usr/bin/python3}"
PY_WORKERS="${PY_WORKERS:-0,1,2}"
PY_STEPS="${PY_STEPS:-0}"
MAX_LOAD="${MAX_LOAD:-1.5}"
RESULTS="${RESULTS:-$ROOT/bench/results}"
FEDSIGN="$BUILD/bin/fedsign"
WORK="$(mktemp -d /tmp/fedsign-bench.XXXXXX)"
CACHE="$WORK/cache"  # a private cache, so "cold" is really cold and others' caches are untouched
mkdir -p "$RESULTS" "$CACHE"
echo "work dir $WORK" >&2

has() { [[ ",$SECTIONS," == *",$1,"* ]]; }
now() { date +%s.%N; }
elapsed() { "$PYTHON" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$(now)"; }
load1() { cut -d' ' -f1 /proc/loadavg; }

wait_for_quiet() {  # other engineers compile and train on this machine
  for _ in $(seq 10); do
    if "$PYTHON" -c "import sys; sys.exit(float(sys.argv[1]) > float(sys.argv[2]))" "$(load1)" "$MAX_LOAD"; then
      return 0
    fi
    echo "load $(load1) > $MAX_LOAD, waiting 60 s" >&2
    sleep 60
  done
  echo "load still $(load1) after 10 min; measuring anyway (noted in the results)" >&2
}

machine() {
  echo "- machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), avx512_bf16: $(grep -q avx512_bf16 /proc/cpuinfo && echo yes || echo no), AMX: $(grep -q amx_bf16 /proc/cpuinfo && echo yes || echo no)"
  echo "- LibTorch $(dpkg-query -W -f='${Version}' libtorch1.13 2>/dev/null || "$PYTHON" -c 'import torch; print(torch.__version__)') (Debian; the same library under fedsign and python3-torch), torchvision $("$PYTHON" -c 'import torchvision; print(torchvision.__version__)'), $THREADS threads"
}

header() {  # title
  echo "# $1"
  echo
  echo "- date: $(date -Iseconds)"
  machine
  echo "- load when starting: $START_LOAD; \`uptime\` at the end: $(uptime | sed 's/^ *//')"
  echo "- git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (uncommitted changes)')"
  echo
}

# ------------------------------------------------------------------------------------- cache
if has cache; then
  wait_for_quiet
  START_LOAD="$(uptime | sed 's/.*load average: //')"
  cold_cmd=("$FEDSIGN" data cache "$DATA" --cache-dir "$CACHE" --threads "$THREADS")
  t=$(now); "${cold_cmd[@]}" >"$WORK/cache-cold.log" 2>&1; cold_wall=$(elapsed "$t")
  t=$(now); "${cold_cmd[@]}" >"$WORK/cache-warm.log" 2>&1; warm_wall=$(elapsed "$t")
  cold_s=$(sed -n 's/^seconds *\([0-9.]*\).*/\1/p' "$WORK/cache-cold.log")
  warm_s=$(sed -n 's/^seconds *\([0-9.]*\).*/\1/p' "$WORK/cache-warm.log")
  images=$(sed -n 's/^images *\([0-9]*\).*/\1/p' "$WORK/cache-cold.log")
  cache_file=$(sed -n 's/^cache file *//p' "$WORK/cache-cold.log")
  cache_mb=$(du -m "$cache_file" | cut -f1)
  {
    header "Image cache: decode vs cache load"
    echo "Command (cold: empty \`--cache-dir\`; warm: the same command again):"
    echo
    echo "    ${cold_cmd[*]}"
    echo
    echo "$images images (Train.csv, ROI crop, CLAHE, resize to 32x32); cache file ${cache_mb} MB."
    echo "The PNGs were in the OS page cache (read by earlier runs), so \"cold\" measures decoding, not disk."
    echo
    echo "| run | what it does | seconds (reported) | process wall seconds | images/s |"
    echo "|---|---|---:|---:|---:|"
    echo "| cold | decode PNGs + write cache | $cold_s | $cold_wall | $("$PYTHON" -c "print(round($images / $cold_s))") |"
    echo "| warm | read cache | $warm_s | $warm_wall | $("$PYTHON" -c "print(round($images / max($warm_s, 1e-3)))") |"
    echo
    echo "Decode / cache load: x$("$PYTHON" -c "print(round($cold_s / max($warm_s, 1e-3), 1))")"
  } >"$RESULTS/cache_load.md"
  printf 'run,seconds,wall_seconds,images\ncold,%s,%s,%s\nwarm,%s,%s,%s\n' \
    "$cold_s" "$cold_wall" "$images" "$warm_s" "$warm_wall" "$images" >"$RESULTS/cache_load.csv"
  cat "$RESULTS/cache_load.md"
fi

# ------------------------------------------------------------------------------------- train
cpp_train() {  # label, extra args...: one epoch; appends a JSON line to $WORK/train.jsonl
  local label="$1"; shift
  local out="$WORK/train-$label"
  local cmd=("$FEDSIGN" train --data "$DATA" --epochs 1 --threads "$THREADS" --cache-dir "$CACHE"
             --out "$out" "$@")
  local t; t=$(now)
  "${cmd[@]}" >"$out.log" 2>&1 || { cat "$out.log" >&2; return 1; }
  local wall; wall=$(elapsed "$t")
  "$PYTHON" - "$out" "$wall" "${cmd[*]}" >>"$WORK/train.jsonl" <<'EOF'
import csv, json, re, sys
out, wall, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3]
log = open(out + ".log").read()
row = list(csv.DictReader(open(out + "/metrics.csv")))[-1]
m = re.search(r"(\d+) train / (\d+) validation images, (\S+) (\S+)", log)
load = re.search(r"images from .* in ([0-9.]+)s", log)
print(json.dumps({
    "pipeline": "fedsign (C++)", "precision": m.group(3), "memory_format": m.group(4),
    "workers": "-", "images": int(m.group(1)), "seconds": float(row["seconds"]),
    "images_per_second": float(row["images_per_second"]),
    "val_accuracy": float(row["val_accuracy"]), "cache_load_seconds": float(load.group(1)),
    "process_seconds": wall, "command": cmd}))
EOF
  tail -1 "$WORK/train.jsonl" >&2
}

if has train; then
  [[ -f "$FEDSIGN" ]] || { echo "no $FEDSIGN; build fedsign_cli first" >&2; exit 1; }
  # Warm the image cache (and the PNGs in the page cache) outside the measurement.
  "$FEDSIGN" data cache "$DATA" --cache-dir "$CACHE" --threads "$THREADS" >/dev/null 2>&1
  wait_for_quiet
  START_LOAD="$(uptime | sed 's/.*load average: //')"
  : >"$WORK/train.jsonl"
  cpp_train default                                              # auto: bf16 + channels-last here
  cpp_train fp32-contiguous --precision fp32 --memory-format contiguous
  cpp_train fp32-channels-last --precision fp32 --memory-format channels-last
  if grep -q avx512_bf16 /proc/cpuinfo || grep -q amx_bf16 /proc/cpuinfo; then
    cpp_train bf16-contiguous --precision bf16 --memory-format contiguous
  fi
  train_images=$(head -1 "$WORK/train.jsonl" | "$PYTHON" -c "import json,sys; print(json.load(sys.stdin)['images'])")

  py_cmd=("$PYTHON" "$ROOT/bench/python_pipeline.py" --data "$DATA" --threads "$THREADS"
          --max-images "$train_images" --steps "$PY_STEPS")
  "${py_cmd[@]}" --workers "$PY_WORKERS" --precision fp32 >>"$WORK/python.jsonl" 2>"$WORK/python-fp32.log"
  best_workers=$("$PYTHON" -c "
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if 'error' not in l]
print(max(runs, key=lambda r: r['images_per_second'])['workers'])" "$WORK/python.jsonl")
  "${py_cmd[@]}" --workers "$best_workers" --precision bf16 >>"$WORK/python.jsonl" 2>"$WORK/python-bf16.log"
  cat "$WORK/python.jsonl" >&2
  cpp_train default-repeat                                       # brackets drift during the run
  step_cmd=("$BUILD/bench/train_step_bench" compact 128 20 "$THREADS")
  "${step_cmd[@]}" >"$WORK/train_step_bench.txt" 2>&1

  "$PYTHON" - "$WORK" "$RESULTS" "${py_cmd[*]}" "${step_cmd[*]}" "$PY_WORKERS" "$PY_STEPS" >"$WORK/train_table.md" <<'EOF'
import csv, json, sys
work, results, py_cmd, step_cmd, workers, steps = sys.argv[1:7]
cpp = [json.loads(l) for l in open(f"{work}/train.jsonl")]
py = [json.loads(l) for l in open(f"{work}/python.jsonl")]
ok = [r for r in py if "error" not in r]
py_fp32 = max((r for r in ok if r["precision"] == "fp32"), key=lambda r: r["images_per_second"])
py_best = max(ok, key=lambda r: r["images_per_second"])
defaults = [r for r in cpp if r["command"].split("--out")[1].split()[0].endswith(("default", "default-repeat"))]
cpp_default = sum(r["images_per_second"] for r in defaults) / len(defaults)
rows = []
for r in cpp + py:
    ips = r.get("images_per_second")
    rows.append({
        "pipeline": r["pipeline"] + (" default" if r in defaults else ""),
        "precision": r["precision"], "memory_format": r.get("memory_format", "-"),
        "workers": r["workers"], "images": r.get("images", "-"), "seconds": r.get("seconds", "-"),
        "images_per_second": ips or "-",
        "with_cache_load": round(r["images"] / (r["seconds"] + r["cache_load_seconds"]), 1)
                           if "cache_load_seconds" in r else "-",
        "ratio_to_python_fp32": round(ips / py_fp32["images_per_second"], 2) if ips else "-",
        "ratio_to_python_best": round(ips / py_best["images_per_second"], 2) if ips else "-",
        "error": r.get("error", ""),
    })
with open(f"{results}/train_throughput.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
what = "one epoch" if steps == "0" else f"{steps} steps of 128 images"
print(f"Training throughput, {what} over the same {cpp[0]['images']} training images "
      f"(track-disjoint 80% of Train.csv), batch 128, AdamW, label smoothing 0.1, "
      f"{py_fp32['threads']} threads. img/s = images / wall time of the epoch loop "
      "(loading + augmentation + forward/backward/step); C++ reads the decoded uint8 cache "
      "(loaded once per process: the \"incl. cache load\" column adds it), Python decodes each "
      "PNG with PIL on every access.\n")
print("| pipeline | precision | memory format | DataLoader workers | images | seconds | img/s "
      "| img/s incl. cache load | x Python fp32 | x Python best |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    if r["error"]:
        print(f"| {r['pipeline']} | {r['precision']} | | {r['workers']} | failed: {r['error']} | | | | | |")
        continue
    print(f"| {r['pipeline']} | {r['precision']} | {r['memory_format']} | {r['workers']} | "
          f"{r['images']} | {r['seconds']} | {r['images_per_second']:.0f} | {r['with_cache_load']} | "
          f"{r['ratio_to_python_fp32']} | {r['ratio_to_python_best']} |")
print(f"\n**fedsign default (mean of the two default runs, {cpp_default:.0f} img/s) vs Python: "
      f"x{cpp_default / py_fp32['images_per_second']:.2f} the best fp32 Python pipeline "
      f"({py_fp32['workers']} workers, {py_fp32['images_per_second']:.0f} img/s), "
      f"x{cpp_default / py_best['images_per_second']:.2f} the best Python pipeline overall "
      f"({py_best['precision']}, {py_best['workers']} workers, {py_best['images_per_second']:.0f} img/s).**\n")
print("Validation accuracy after this single epoch (C++ runs; 1 warm-up epoch, so not a "
      "convergence measure): " + ", ".join(
          f"{r['precision']} {r['memory_format']} {100 * r['val_accuracy']:.1f}%" for r in cpp))
print("\nCommands:\n")
for r in cpp:
    print(f"    {r['command']}")
print(f"    {py_cmd} --workers {workers} --precision fp32")
print(f"    {py_cmd} --workers {py_fp32['workers']} --precision bf16   # best fp32 worker count")
print(f"\n## One training step per mode (`{step_cmd}`, random 32x32 input, no data loading)\n")
print("```")
print(open(f"{work}/train_step_bench.txt").read().rstrip())
print("```")
EOF
  { header "End-to-end training throughput: fedsign vs Python/PyTorch"; cat "$WORK/train_table.md"; } \
    >"$RESULTS/train_throughput.md"
  cat "$RESULTS/train_throughput.md"
fi

# ----------------------------------------------------------------------------------- predict
if has predict; then
  MODEL="${MODEL:-$WORK/train-default}"
  if [[ ! -f "$MODEL/model.pt" ]]; then
    MODEL=/tmp/bench-model
    [[ -f "$MODEL/model.pt" ]] ||
      "$FEDSIGN" train --data "$DATA" --epochs 1 --threads "$THREADS" --cache-dir "$CACHE" \
        --out "$MODEL" >"$WORK/predict-model.log" 2>&1
  fi
  # 1000 full-frame images spread over all classes (every 19th row of Train.csv).
  awk -F, -v d="$DATA" 'NR > 1 && NR % 19 == 0 { print d "/" $8 }' "$DATA/Train.csv" | head -1000 \
    >"$WORK/images.txt"
  mapfile -t IMAGES <"$WORK/images.txt"
  wait_for_quiet
  START_LOAD="$(uptime | sed 's/.*load average: //')"
  median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
  declare -A single many
  for precision in auto fp32; do
    "$FEDSIGN" predict "$MODEL" "${IMAGES[0]}" --json --precision "$precision" --threads "$THREADS" >/dev/null
    for i in $(seq 0 19); do
      t=$(now)
      "$FEDSIGN" predict "$MODEL" "${IMAGES[$i]}" --json --precision "$precision" --threads "$THREADS" >/dev/null
      elapsed "$t"
    done | median >"$WORK/single-$precision.txt"
    single[$precision]=$(cat "$WORK/single-$precision.txt")
    t=$(now)
    "$FEDSIGN" predict "$MODEL" "${IMAGES[@]}" --json --precision "$precision" --threads "$THREADS" >/dev/null
    many[$precision]=$(elapsed "$t")
  done
  bench_cmd=("$BUILD/bench/predict_bench" "$MODEL" --reps 200 --threads "$THREADS")
  "${bench_cmd[@]}" "${IMAGES[@]}" >"$WORK/predict_bench.txt" 2>&1
  ips() { "$PYTHON" -c "print(round(1000 / $1))"; }
  {
    header "Prediction latency and throughput"
    echo "Model: \`fedsign train --epochs 1\` (compact CNN, 32 px, CLAHE); accuracy irrelevant here."
    echo "Images: 1000 full GTSRB frames (every 19th row of Train.csv; predict decodes, applies CLAHE and resizes each)."
    echo
    echo "## \`fedsign predict\` as a process (start-up + model load + decode + forward + JSON)"
    echo
    echo "| precision (\`--precision\`) | 1 image per process, median of 20 (s) | 1000 images in one process (s) | images/s (1000 images) |"
    echo "|---|---:|---:|---:|"
    for precision in auto fp32; do
      echo "| $precision | ${single[$precision]} | ${many[$precision]} | $(ips "${many[$precision]}") |"
    done
    echo
    echo "    $FEDSIGN predict MODEL IMAGE --json --precision P --threads $THREADS"
    echo "    $FEDSIGN predict MODEL IMAGE_1 ... IMAGE_1000 --json --precision P --threads $THREADS > /dev/null"
    echo
    echo "(auto = bf16 autocast + channels-last on this CPU.)"
    echo
    echo "## In process (\`${bench_cmd[*]} IMAGE_1 ... IMAGE_1000\`)"
    echo
    echo "Single image: median / p90 over 200 forwards of batch 1 (tensor conversion + forward + softmax/top-3),"
    echo "and the same including OpenCV decode of the file. Batches: forward + softmax/top-3 on ready tensors."
    echo
    cat "$WORK/predict_bench.txt"
  } >"$RESULTS/predict.md"
  {
    echo "precision,single_image_process_seconds,images_1000_process_seconds"
    for precision in auto fp32; do echo "$precision,${single[$precision]},${many[$precision]}"; done
  } >"$RESULTS/predict.csv"
  cat "$RESULTS/predict.md"
fi

echo "results in $RESULTS; logs in $WORK" >&2
