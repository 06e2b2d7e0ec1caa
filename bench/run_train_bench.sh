#!/usr/bin/env bash
# End-to-end benchmarks of fedsign against the equivalent Python/PyTorch pipeline. Builds
# nothing: pass a build directory that has bin/fedsign and bench/{train_step_bench,predict_bench}.
#
#   bench/run_train_bench.sh [BUILD_DIR] [SECTIONS]
#
# BUILD_DIR defaults to build-bench; SECTIONS is a comma list of
#   cache    `fedsign data cache` cold (fresh cache dir: decode + write) and warm (cache read)
#   train    a DataLoader worker sweep of the Python pipeline (bench/python_pipeline.py,
#            PY_SWEEP_STEPS batches per worker count); then one epoch of `fedsign train`
#            (default mode) / Python fp32 / fedsign default / Python bf16 / fedsign default, on
#            the same number of images and threads (each Python run bracketed by fedsign runs,
#            as others' load drifts); then fedsign's other precision/memory formats, and
#            train_step_bench
#   predict  `fedsign predict` per process (1 image) and over 1000 images, plus the in-process
#            bench/predict_bench (single-image latency, batch 64/256 throughput)
# (default: cache,train,predict). Results go to bench/results/{cache_load,train_throughput,
# predict}.md and .csv, with the date, machine, `uptime` load and exact commands.
#
# Environment: DATA (GTSRB folder, default ../shared/data/gtsrb), THREADS (2), PYTHON
# (/usr/bin/python3, Debian's python3-torch), PY_WORKERS (DataLoader workers to try, "0,1,2"),
# PY_SWEEP_STEPS (30), PY_STEPS (0 = a full epoch; else stop after this many batches of 128;
# applies to the Python runs only), MODEL (predict: a run dir; default: this run's), MAX_LOAD (1.5: wait,
# up to 10 min, while the 1-minute load average is above this), RESULTS (bench/results).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$(cd "${1:-$ROOT/build-bench}" && pwd)"
SECTIONS="${2:-cache,train,predict}"
DATA="${DATA:-../shared/data/gtsrb}"
THREADS="${THREADS:-2}"
PYTHON="${PYTHON:-/usr/bin/python3}"
PY_WORKERS="${PY_WORKERS:-0,1,2}"
PY_STEPS="${PY_STEPS:-0}"
PY_SWEEP_STEPS="${PY_SWEEP_STEPS:-30}"
MAX_LOAD="${MAX_LOAD:-1.5}"
RESULTS="${RESULTS:-$ROOT/bench/results}"
FEDSIGN="$BUILD/bin/fedsign"
WORK="$(mktemp -d /tmp/fedsign-bench.XXXXXX)"
CACHE="$WORK/cache"  # a private cache, so "cold" is really cold and others' caches are untouched
mkdir -p "$RESULTS" "$CACHE" "$WORK/bin"
echo "work dir $WORK" >&2
# Something on this shared machine now and then SIGTERMed freshly started `fedsign` processes;
# run a private copy under another name (results show the real path), and retry (see retry).
[[ -f "$FEDSIGN" ]] && cp "$FEDSIGN" "$WORK/bin/fsb-cli" && FEDSIGN="$WORK/bin/fsb-cli"
# Result files name no path of this machine: the repository root and the scratch directory become
# relative / $TMP.
real_paths() { sed -i "s|$WORK/bin/fsb-cli|$BUILD/bin/fedsign|g; s|$ROOT/||g; s|$WORK|\$TMP|g" "$@"; }

has() { [[ ",$SECTIONS," == *",$1,"* ]]; }
now() { date +%s.%N; }
elapsed() { "$PYTHON" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$(now)"; }
load1() { cut -d' ' -f1 /proc/loadavg; }
# Runs "$@"; if it dies of SIGTERM sent by someone else on this shared machine, runs it again
# (up to 5 times). The timed commands below re-take their start time on a retry.
retry() {
  local rc
  for _ in 1 2 3 4 5; do
    rc=0; "$@" || rc=$?
    ((rc == 143)) || return "$rc"
    echo "terminated from outside: $*; retrying" >&2
  done
  return "$rc"
}

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
  cold() { rm -rf "$CACHE"; mkdir -p "$CACHE"; t=$(now); "${cold_cmd[@]}" >"$WORK/cache-cold.log" 2>&1; }
  warm() { t=$(now); "${cold_cmd[@]}" >"$WORK/cache-warm.log" 2>&1; }
  retry cold; cold_wall=$(elapsed "$t")
  retry warm; warm_wall=$(elapsed "$t")
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
  real_paths "$RESULTS/cache_load.md" "$RESULTS/cache_load.csv"
  cat "$RESULTS/cache_load.md"
fi

# ------------------------------------------------------------------------------------- train
cpp_train() {  # label, extra args...: one epoch; appends a JSON line to $WORK/train.jsonl
  local label="$1"; shift
  local out="$WORK/train-$label"
  local cmd=("$FEDSIGN" train --data "$DATA" --epochs 1 --threads "$THREADS" --cache-dir "$CACHE"
             --out "$out" "$@")
  local t
  attempt() { rm -rf "$out"; t=$(now); "${cmd[@]}" >"$out.log" 2>&1; }
  retry attempt || { cat "$out.log" >&2; return 1; }
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
  retry "$FEDSIGN" data cache "$DATA" --cache-dir "$CACHE" --threads "$THREADS" >/dev/null 2>&1
  wait_for_quiet
  START_LOAD="$(uptime | sed 's/.*load average: //')"
  : >"$WORK/train.jsonl"
  : >"$WORK/python.jsonl"
  : >"$WORK/sweep.jsonl"
  # 1. Python DataLoader worker sweep (fp32, PY_SWEEP_STEPS batches each) to pick the fairest
  #    worker count for Python.
  py_cmd=("$PYTHON" "$ROOT/bench/python_pipeline.py" --data "$DATA" --threads "$THREADS")
  sweep_cmd=("${py_cmd[@]}" --steps "$PY_SWEEP_STEPS" --workers "$PY_WORKERS" --precision fp32)
  "${sweep_cmd[@]}" >>"$WORK/sweep.jsonl" 2>"$WORK/python-sweep.log"
  best_workers=$("$PYTHON" -c "
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if 'error' not in l]
print(max(runs, key=lambda r: r['images_per_second'])['workers'])" "$WORK/sweep.jsonl")
  cat "$WORK/sweep.jsonl" >&2
  # 2. Interleaved: every Python run sits between two runs of the fedsign default, so each
  #    ratio is against the C++ speed measured just before and just after (others' load drifts).
  cpp_train default-1                                            # auto: bf16 + channels-last here
  train_images=$(tail -1 "$WORK/train.jsonl" | "$PYTHON" -c "import json,sys; print(json.load(sys.stdin)['images'])")
  py_run=("${py_cmd[@]}" --max-images "$train_images" --steps "$PY_STEPS" --workers "$best_workers")
  "${py_run[@]}" --precision fp32 >>"$WORK/python.jsonl" 2>"$WORK/python-fp32.log"
  tail -1 "$WORK/python.jsonl" >&2
  cpp_train default-2
  "${py_run[@]}" --precision bf16 >>"$WORK/python.jsonl" 2>"$WORK/python-bf16.log"
  tail -1 "$WORK/python.jsonl" >&2
  cpp_train default-3
  # 3. The other fedsign modes.
  cpp_train fp32-contiguous --precision fp32 --memory-format contiguous
  cpp_train fp32-channels-last --precision fp32 --memory-format channels-last
  if grep -q avx512_bf16 /proc/cpuinfo || grep -q amx_bf16 /proc/cpuinfo; then
    cpp_train bf16-contiguous --precision bf16 --memory-format contiguous
  fi
  step_cmd=("$BUILD/bench/train_step_bench" compact 128 20 "$THREADS")
  "${step_cmd[@]}" >"$WORK/train_step_bench.txt" 2>&1

  "$PYTHON" - "$WORK" "$RESULTS" "${py_run[*]}" "${sweep_cmd[*]}" "${step_cmd[*]}" "$PY_STEPS" \
    >"$WORK/train_table.md" <<'EOF'
import csv, json, sys
work, results, py_run, sweep_cmd, step_cmd, steps = sys.argv[1:7]
cpp = [json.loads(l) for l in open(f"{work}/train.jsonl")]
py = [json.loads(l) for l in open(f"{work}/python.jsonl")]
sweep = [json.loads(l) for l in open(f"{work}/sweep.jsonl")]
label = lambda r: r["command"].split("--out ")[1].split()[0].rsplit("/train-", 1)[1]
default = {label(r): r for r in cpp if label(r).startswith("default-")}
ok = [r for r in py if "error" not in r]
# Python run i (0: fp32, 1: bf16) is bracketed by default-(i+1) and default-(i+2).
for i, r in enumerate(py):
    r["bracket"] = [default[f"default-{i + 1}"]["images_per_second"],
                    default[f"default-{i + 2}"]["images_per_second"]]
rows = []
for r in cpp + py:
    ips = r.get("images_per_second")
    rows.append({
        "run": label(r) if "command" in r else "python",
        "pipeline": r["pipeline"], "precision": r["precision"],
        "memory_format": r.get("memory_format", "-"), "workers": r["workers"],
        "images": r.get("images", "-"), "seconds": r.get("seconds", "-"),
        "images_per_second": ips or "-",
        "with_cache_load": round(r["images"] / (r["seconds"] + r["cache_load_seconds"]), 1)
                           if "cache_load_seconds" in r else "-",
        "val_accuracy_after_1_epoch": r.get("val_accuracy", "-"),
        "cpp_default_bracket": "/".join(str(b) for b in r.get("bracket", [])),
        "error": r.get("error", ""),
    })
with open(f"{results}/train_throughput.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)

what = "one epoch" if steps == "0" else f"{steps} steps of 128 images"
print(f"Training throughput, {what} over {cpp[0]['images']} training images (fedsign: its "
      f"track-disjoint 80% of Train.csv; Python: the same count), batch 128, AdamW, label "
      f"smoothing 0.1, {ok[0]['threads'] if ok else '?'} threads. img/s = images / wall time of "
      "the epoch loop (loading + augmentation + forward/backward/step). fedsign reads the decoded "
      "uint8 cache (loaded once per process: \"incl. cache load\" charges it to the epoch); "
      "Python decodes each PNG with PIL on every access.\n")
print("Runs in order. The fedsign default (bf16 autocast + channels-last on this CPU) runs before "
      "and after each Python run; the ratio divides the mean of those two by the Python run.\n")
print("| # | pipeline | precision | memory format | DataLoader workers | images | seconds | img/s "
      "| img/s incl. cache load | val. acc. after 1 epoch |")
print("|---:|---|---|---|---:|---:|---:|---:|---:|---:|")
order = [default["default-1"]] + [x for i, r in enumerate(py) for x in (r, default[f"default-{i + 2}"])]
order += [r for r in cpp if not label(r).startswith("default-")]
for n, r in enumerate(order, 1):
    name = r["pipeline"] + (" default" if r.get("command") and label(r).startswith("default-") else "")
    if "error" in r:
        print(f"| {n} | {name} | {r['precision']} | | {r['workers']} | failed: {r['error']} | | | | |")
        continue
    acc = f"{100 * r['val_accuracy']:.1f}%" if "val_accuracy" in r else "-"
    cl = round(r["images"] / (r["seconds"] + r["cache_load_seconds"])) if "cache_load_seconds" in r else "-"
    print(f"| {n} | {name} | {r['precision']} | {r['memory_format']} | {r['workers']} | "
          f"{r['images']} | {r['seconds']} | {r['images_per_second']:.0f} | {cl} | {acc} |")
print()
print("| comparison | fedsign default img/s (before / after) | Python img/s | ratio |")
print("|---|---:|---:|---:|")
for r in ok:
    b = r["bracket"]
    print(f"| fedsign default vs Python {r['precision']} ({r['memory_format']}, {r['workers']} workers) "
          f"| {b[0]:.0f} / {b[1]:.0f} | {r['images_per_second']:.0f} | "
          f"**x{sum(b) / 2 / r['images_per_second']:.2f}** |")
step_text = open(f"{work}/train_step_bench.txt").read()
numbers = dict(l.split("=", 1) for l in step_text.splitlines() if l.startswith(("GEMM_", "TRAIN_")))
if "GEMM_BF16_GFLOPS" in numbers and "TRAIN_MFLOP_PER_IMAGE" in numbers:
    gemm, flops = float(numbers["GEMM_BF16_GFLOPS"]), float(numbers["TRAIN_MFLOP_PER_IMAGE"])
    runs = [default[k]["images_per_second"] for k in sorted(default)]
    print(f"\nAgainst the hardware (train_step_bench, same script run): this machine's bf16 GEMM "
          f"runs at {gemm:.0f} GFLOP/s (torch::mm, 2048 x 2048); a training image of the compact "
          f"CNN costs {flops:.1f} MFLOP (3 x forward). The fedsign default epochs above "
          f"({', '.join(f'{r:.0f}' for r in runs)} img/s) do "
          + ", ".join(f"{r * flops / 1e3:.0f}" for r in runs)
          + " GFLOP/s: " + ", ".join(f"{100 * r * flops / 1e3 / gemm:.0f}%" for r in runs)
          + " of the GEMM rate.")
print(f"\nPython DataLoader worker sweep (fp32, `{sweep_cmd}`; the best count is used above):\n")
print("| workers | img/s |")
print("|---:|---:|")
for r in sweep:
    print(f"| {r['workers']} | {r.get('images_per_second', r.get('error'))} |")
print("\nCommands (the fedsign runs in the order above, then the Python ones):\n")
for r in cpp:
    print(f"    {r['command']}")
print(f"    {py_run} --precision fp32")
print(f"    {py_run} --precision bf16")
print(f"\n## One training step per mode (`{step_cmd}`: random 32x32 input, no data loading)\n")
print("```")
print(open(f"{work}/train_step_bench.txt").read().rstrip())
print("```")
EOF
  { header "End-to-end training throughput: fedsign vs Python/PyTorch"; cat "$WORK/train_table.md"; } \
    >"$RESULTS/train_throughput.md"
  real_paths "$RESULTS/train_throughput.md" "$RESULTS/train_throughput.csv"
  cat "$RESULTS/train_throughput.md"
fi

# ----------------------------------------------------------------------------------- predict
if has predict; then
  MODEL="${MODEL:-$WORK/train-default-1}"
  if [[ ! -f "$MODEL/model.pt" ]]; then
    MODEL=/tmp/bench-model
    [[ -f "$MODEL/model.pt" ]] ||
      "$FEDSIGN" train --data "$DATA" --epochs 1 --threads "$THREADS" --cache-dir "$CACHE" \
        --out "$MODEL" >"$WORK/predict-model.log" 2>&1
  fi
  # 1000 full-frame images spread over all classes (every 19th row of Train.csv).
  awk -F, -v d="$DATA" 'NR > 1 && NR % 19 == 0 { sub(/\r$/, "", $8); print d "/" $8 }' "$DATA/Train.csv" | head -1000 \
    >"$WORK/images.txt"
  mapfile -t IMAGES <"$WORK/images.txt"
  wait_for_quiet
  START_LOAD="$(uptime | sed 's/.*load average: //')"
  median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
  declare -A single many
  predict() {  # precision, images...: sets t to its start time
    local precision="$1"; shift
    t=$(now)
    "$FEDSIGN" predict "$MODEL" "$@" --json --precision "$precision" --threads "$THREADS" >/dev/null
  }
  for precision in auto fp32; do
    retry predict "$precision" "${IMAGES[0]}"  # warm the page cache
    for i in $(seq 0 19); do
      retry predict "$precision" "${IMAGES[$i]}"
      elapsed "$t"
    done | median >"$WORK/single-$precision.txt"
    single[$precision]=$(cat "$WORK/single-$precision.txt")
    retry predict "$precision" "${IMAGES[@]}"
    many[$precision]=$(elapsed "$t")
  done
  bench_cmd=("$BUILD/bench/predict_bench" "$MODEL" --reps 200 --threads "$THREADS")
  retry "${bench_cmd[@]}" "${IMAGES[@]}" >"$WORK/predict_bench.txt" 2>&1
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
  real_paths "$RESULTS/predict.md" "$RESULTS/predict.csv"
  cat "$RESULTS/predict.md"
fi

echo "results in $RESULTS; logs in $WORK" >&2
