#!/usr/bin/env bash
# The robustness table of docs/robustness.md: every defence {FedAvg (none), median, trimmed mean,
# Multi-Krum, adaptive clipping, FLTrust, Multi-Krum with adaptive clipping, the cosine filter with
# memory and the copy test, alone, with adaptive clipping, and with its label test and adaptive
# clipping, with memory after one drop, after two, or after one in half of a client's rounds, or
# after two drops by the label test alone}
# against every attack {none, sign flip 20%, scaling x10 10%, label flip 30%, backdoor 10%,
# little-is-enough 20%} (the share of all clients that attack, issue 14's grid), on GTSRB split
# into CLIENTS clients (Dirichlet 0.5),
# and a reference column: FedAvg with the attack's clients absent (what a perfect defence reaches).
# Prints one Markdown table: final central accuracy on the validation (development) split, and for
# the backdoor its attack success rate (accuracy on triggered validation images of the other
# classes).
#
#   scripts/fl_robust_table.sh           # run what is missing (resumable), then the table
#   scripts/fl_robust_table.sh --table   # only the table, from existing runs
#
# Every run starts from CONFIG (configs/fl/fedavg_dirichlet_0.5.toml: 100 clients, Dirichlet 0.5,
# 10 per round, its local recipe and cosine schedule) with these overrides. Environment: FEDSIGN
# (build/bin/fedsign), LABEL_TEST (0.5: the label test's ratio), DATA (../shared/data/gtsrb), OUT (runs/robust), ROUNDS (60), CLIENTS (100), PER_ROUND (10), MODEL (compact), JOBS (2 runs at a time),
# THREADS (per run; cores/JOBS), EXTRA (more flags for every run), LOG_LEVEL (info; debug logs the
# cosine filter's scores per client and round, what scripts/cosine_filter_scores.py reads), ONLY_DEFENCES and ONLY_ATTACKS (a
# part of the grid, e.g. ONLY_DEFENCES="fedavg median multi-krum"). Multi-Krum assumes
# f = ceil(share x PER_ROUND) attackers per round, the attack's share (0.2 without an attack).
# Logs: OUT/<defence>-<attack>.log; the table also goes to OUT/table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
FEDSIGN=${FEDSIGN:-build/bin/fedsign}
DATA=${DATA:-../shared/data/gtsrb}
OUT=${OUT:-runs/robust}
CONFIG=${CONFIG:-configs/fl/fedavg_dirichlet_0.5.toml}
ROUNDS=${ROUNDS:-60}
CLIENTS=${CLIENTS:-100}
PER_ROUND=${PER_ROUND:-10}
MODEL=${MODEL:-compact}
JOBS=${JOBS:-2}
EXTRA=${EXTRA:-}
LOG_LEVEL=${LOG_LEVEL:-info}
THREADS=${THREADS:-$(( $(nproc) / JOBS ))}; (( THREADS >= 1 )) || THREADS=1

DEFENCES=(fedavg median trimmed-mean multi-krum clipping fltrust multi-krum-clipping cosine-filter
          cosine-filter-clipping cosine-label-clipping cosine-label-strikes-clipping
          cosine-label-share-clipping cosine-label-memory-clipping absent)
DEFENCE_NAMES=("FedAvg (no defence)" "median" "trimmed mean (beta 0.2)" "Multi-Krum (f = attackers per round)"
               "adaptive clipping" "FLTrust (100 root images)" "Multi-Krum + adaptive clipping"
               "cosine filter (memory, copies)" "cosine filter + adaptive clipping"
               "cosine filter + label test + adaptive clipping"
               "cosine filter (2 strikes) + label test + adaptive clipping"
               "cosine filter (drop share 0.5) + label test + adaptive clipping"
               "cosine filter + label test (memory from its drops, 2 strikes) + adaptive clipping"
               "reference: FedAvg, the attackers absent")
ATTACKS=(none sign-flip scale label-flip backdoor little-is-enough)
ATTACK_NAMES=("no attack" "sign flip 20%" "scaling x10 10%" "label flip 30%" "backdoor 10%"
              "little is enough 20%")

# ONLY_DEFENCES / ONLY_ATTACKS (space-separated ids): a part of the grid, for a quicker look.
keep_only() {  # ARRAY NAMES_ARRAY WANTED...: filters both arrays in place to the wanted ids
  local -n ids=$1 names=$2; shift 2
  local kept_ids=() kept_names=() i w
  for i in "${!ids[@]}"; do
    for w in "$@"; do [[ ${ids[$i]} == "$w" ]] && { kept_ids+=("${ids[$i]}"); kept_names+=("${names[$i]}"); }; done
  done
  ids=("${kept_ids[@]}"); names=("${kept_names[@]}")
}
# shellcheck disable=SC2086
[[ -n "${ONLY_DEFENCES:-}" ]] && keep_only DEFENCES DEFENCE_NAMES $ONLY_DEFENCES
# shellcheck disable=SC2086
[[ -n "${ONLY_ATTACKS:-}" ]] && keep_only ATTACKS ATTACK_NAMES $ONLY_ATTACKS

# The share of all clients that attack, per attack.
attack_fraction() {
  case $1 in
    none) echo 0 ;;
    scale|backdoor) echo 0.1 ;;
    label-flip) echo 0.3 ;;
    *) echo 0.2 ;;
  esac
}

# Multi-Krum's f: the attackers expected per round, rounded up (2 when nobody attacks).
krum_f() {
  awk -v f="$(attack_fraction "$1")" -v n="$PER_ROUND" \
    'BEGIN { if (f == 0) f = 0.2; k = f * n; print (k == int(k)) ? k : int(k) + 1 }'
}

COSINE="--robust cosine-filter --cosine-memory --duplicate-cosine 0.999"
# The label test's ratio (the server labels its 100 FLTrust root images with every update's model).
LABEL_TEST=${LABEL_TEST:-0.5}
defence_flags() {  # DEFENCE ATTACK
  case $1 in
    fedavg) ;;
    median) echo "--robust median" ;;
    trimmed-mean) echo "--robust trimmed-mean --trim-beta 0.2" ;;
    multi-krum) echo "--robust multi-krum --krum-f $(krum_f "$2")" ;;
    clipping) echo "--adaptive-clip" ;;
    fltrust) echo "--robust fltrust --fltrust-root 100" ;;
    multi-krum-clipping) echo "--robust multi-krum --krum-f $(krum_f "$2") --adaptive-clip" ;;
    cosine-filter) echo "$COSINE" ;;
    cosine-filter-clipping) echo "$COSINE --adaptive-clip" ;;
    cosine-label-clipping) echo "$COSINE --label-test $LABEL_TEST --adaptive-clip" ;;
    cosine-label-strikes-clipping)
      echo "$COSINE --cosine-strikes 2 --label-test $LABEL_TEST --adaptive-clip" ;;
    cosine-label-share-clipping)
      echo "$COSINE --cosine-drop-share 0.5 --label-test $LABEL_TEST --adaptive-clip" ;;
    cosine-label-memory-clipping)
      echo "$COSINE --cosine-strikes 2 --cosine-strikes-from label --label-test $LABEL_TEST --adaptive-clip" ;;
    absent) ;;
  esac
}

# Where a cell's run lives. The reference column is FedAvg with the attack's clients absent
# (--attack abstain: they drop out whenever asked), what a defence that removed exactly them
# would reach; it depends only on the attack's share, so attacks of one share share its run.
run_dir() {  # DEFENCE ATTACK
  if [[ $1 == absent ]]; then
    [[ $2 == none ]] && { echo "$OUT/fedavg-none"; return; }
    echo "$OUT/absent-$(attack_fraction "$2")"
  else
    echo "$OUT/$1-$2"
  fi
}

attack_flags() {  # ATTACK [DEFENCE]
  [[ ${2:-} == absent && $1 != none ]] && { echo "--attack abstain --attack-fraction $(attack_fraction "$1")"; return; }
  case $1 in
    none) ;;
    scale) echo "--attack scale --attack-scale 10 --attack-fraction $(attack_fraction "$1")" ;;
    *) echo "--attack $1 --attack-fraction $(attack_fraction "$1")" ;;
  esac
}

if [[ "${1:-}" != "--table" ]]; then
  [[ -x "$FEDSIGN" ]] || { echo "no fedsign binary at $FEDSIGN (set FEDSIGN)" >&2; exit 1; }
  [[ -d "$DATA" ]] || { echo "no data at $DATA (set DATA)" >&2; exit 1; }
  mkdir -p "$OUT"
  failed=0
  declare -A started
  for defence in "${DEFENCES[@]}"; do
    for attack in "${ATTACKS[@]}"; do
      run=$(run_dir "$defence" "$attack")
      [[ -n "${started[$run]:-}" || ( -f "$run/metrics.csv" && -f "$run/model.pt" ) ]] && continue
      started[$run]=1
      while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n || failed=1; done
      resume=""
      [[ -f "$run/server.ckpt" ]] && resume="--resume"
      # Word splitting of the flag strings is intended: each is a list of flags.
      # shellcheck disable=SC2206,SC2207
      cmd=("$FEDSIGN" --log-level "$LOG_LEVEL" fl simulate --config "$CONFIG" --data "$DATA" --model "$MODEL" --clients "$CLIENTS"
           --clients-per-round "$PER_ROUND" --partition dirichlet --alpha 0.5 --rounds "$ROUNDS"
           --eval-every 10 --threads "$THREADS" $(defence_flags "$defence" "$attack")
           $(attack_flags "$attack" "$defence") $EXTRA --out "$run" $resume)
      echo "start: ${cmd[*]} (log $run.log)"
      "${cmd[@]}" > "$run.log" 2>&1 &
    done
  done
  while (( $(jobs -rp | wc -l) > 0 )); do wait -n || failed=1; done
  (( failed == 0 )) || { echo "a run failed: see $OUT/*.log" >&2; exit 1; }
fi

source scripts/lib/tables.sh

mkdir -p "$OUT"
{
  echo "Final central accuracy (%) on the validation (development) split; backdoor: accuracy /"
  echo "attack success rate (%). $CLIENTS clients (Dirichlet 0.5), $PER_ROUND per round, $ROUNDS"
  echo "rounds, the local recipe of $CONFIG (cosine schedule over the rounds),"
  echo "model $MODEL; the attack's share of all clients in its row."
  echo
  header="| attack |"; rule="|---|"
  for name in "${DEFENCE_NAMES[@]}"; do header+=" $name |"; rule+="---:|"; done
  echo "$header"; echo "$rule"
  for a in "${!ATTACKS[@]}"; do
    row="| ${ATTACK_NAMES[$a]} |"
    for defence in "${DEFENCES[@]}"; do
      m="$(run_dir "$defence" "${ATTACKS[$a]}")/metrics.csv"
      acc=$(last_value "$m" central_accuracy)
      cell="-"
      [[ -n "$acc" ]] && cell=$(awk -v v="$acc" 'BEGIN { printf "%.2f", 100 * v }')
      if [[ "${ATTACKS[$a]}" == backdoor && $defence != absent && -n "$acc" ]]; then
        asr=$(last_value "$m" backdoor_asr)
        [[ -n "$asr" ]] && cell+=$(awk -v v="$asr" 'BEGIN { printf " / %.2f", 100 * v }')
      fi
      row+=" $cell |"
    done
    echo "$row"
  done
} > "$OUT/table.md.tmp"
mv "$OUT/table.md.tmp" "$OUT/table.md"
cat "$OUT/table.md"
