#!/usr/bin/env bash
# Mutation check of the server hardening (issue 13: "each fix with a test that fails on today's
# code"). For every defence in the table below, a minimal source edit that removes it; the named
# tests must then FAIL. A mutation the tests survive is a test gap.
#
# Per mutation: check that SEARCH occurs exactly once in FILE (else "stale": update the table),
# replace it, `cmake --build BUILD --target TARGETS`, `ctest -R REGEX`, restore the file. At the
# end the touched targets are rebuilt once from the restored sources. Prints a Markdown table.
#
#   scripts/check_mutations.sh                    # all mutations (an hour or so)
#   ONLY=norm-bound,fold-round scripts/check_mutations.sh
#   scripts/check_mutations.sh --list             # the table, and whether each SEARCH still applies
#   scripts/check_mutations.sh --baseline         # first check that the tests pass unmutated
# Env: BUILD (build), JOBS (2), TEST_TIMEOUT (300 s per test), LOGS (BUILD/mutation-logs), FORCE
# (run although a ninja process is running).
#
# ~1-2 min per unit-test mutation on 2 cores (recompile one file, relink the test program), 2-4
# min per fault/process mutation. Exit 1 if a mutation SURVIVED, 2 if one could not be judged
# (build-failed, no-tests). It edits src/ in the working tree while it runs (the original is
# restored, also on Ctrl-C or error): do not edit those files or build meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
JOBS=${JOBS:-2}
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
LOGS=${LOGS:-$BUILD/mutation-logs}

NET=test_net                  # tests/net unit tests (no processes)
# tests/faults: real fedsign processes running build/bin/fedsign. The program is
# test_faults_process (tests/CMakeLists.txt: a source that includes tests/faults/faults.h starts
# processes).
FAULTS="fedsign_cli test_faults_process"

ids=() items=() files=() whats=() regexes=() targets=() searches=() replaces=()
# mutation ID ITEM FILE WHAT TEST_REGEX TARGETS SEARCH REPLACE
mutation() {
  ids+=("$1") items+=("$2") files+=("$3") whats+=("$4") regexes+=("$5") targets+=("$6")
  searches+=("$7") replaces+=("$8")
}
N=src/fedsign/net

# 1. Stalled uploads, keepalive.
mutation upload-timeout 1 $N/coordinator.cpp "upload timeout counted from the upload's start" \
  '^net\.Claims\.CarryTheDeclaredCountAndAnUploadDeadline$' "$NET" \
  'task->upload_deadline = std::min(Clock::now() + options_.upload_timeout,' \
  'task->upload_deadline = std::min(Clock::time_point::max(),'
mutation upload-cancel 1 $N/service.cpp "watchdog cancels a stalled upload stream at its upload deadline" \
  '^faults\.FaultSuite\.StalledAndKilledUploadsDoNotHoldTheRound$' "$FAULTS" \
  'ticket.set_deadline(coordinator_.begin_upload(task));' \
  'coordinator_.begin_upload(task);'
mutation keepalive 1 $N/server_setup.cpp "server keepalive pings (gRPC default: 2 h)" \
  '^net\.ServerArgs\.KeepaliveAndStreamLimitsAreTheConfiguredOnes$' "$NET" \
  '{GRPC_ARG_KEEPALIVE_TIME_MS, o.keepalive_ms},' \
  '/* mutation: no keepalive */'
# 2. Example counts, update norm, new global model, evaluation results.
mutation max-examples 2 $N/coordinator.cpp "--max-examples cap on the declared train count" \
  '^net\.Sessions\.DeclaredExampleCountsAreBounded$' "$NET" \
  'if (num_train < 0 || num_test < 0 || num_train > options_.max_examples ||' \
  'if (num_train < 0 || num_test < 0 ||'
mutation declared-cap 2 $N/service.cpp "num_examples capped by the count declared at registration" \
  '^faults\.FaultSuite\.PoisonedUpdatesNeverReachTheAggregate$' "$FAULTS" \
  'bounds.max_examples = std::min(bounds.max_examples, task->declared_examples);' \
  '/* mutation: declaration not applied */'
mutation norm-bound 2 $N/validate.cpp "L2 bound on update - global (reject or clip)" \
  '^net\.UpdateBounds\.(HugeButFiniteWeightsAreRejected|ClippingScalesTheChangeOntoTheBound)$' "$NET" \
  'if (!std::isfinite(change) || change > bound) {' \
  'if (!std::isfinite(change)) {'
mutation finite-aggregate 2 $N/round_adapter.cpp "finiteness check of the new global model" \
  '^net\.Fold\.ANonFiniteAggregateKeepsThePreviousGlobalModel$' "$NET" \
  'check_finite(out.weights, "new global model"); !s.ok()' \
  'check_finite(out.weights, "new global model"); false'
mutation eval-validate 2 $N/validate.cpp "evaluation count <= declared test examples" \
  '^net\.EvaluateResults\.AreValidatedLikeUpdates$' "$NET" \
  'if (num_examples < 0 || num_examples > max_examples) {' \
  'if (num_examples < 0) {'
# 3. Anonymous streams.
mutation header-timeout 3 $N/service.cpp "header-read timeout of result streams" \
  '^faults\.FaultSuite\.FloodOfUnauthenticatedStreamsIsBounded$' "$FAULTS" \
  'watchdog_.arm(Clock::now() + options_.header_timeout, canceller(context));' \
  'watchdog_.arm(Clock::time_point::max(), canceller(context));'
mutation pending-cap 3 $N/service.cpp "cap on streams waiting for their header" \
  '^net\.ResultStreams\.BeyondThePendingHeaderCapAreRefusedAtOnce$' "$NET" \
  'if (++pending_headers_ > options_.max_pending_headers) {' \
  'if (++pending_headers_ > 1000000) {'
# 4. Session ids and identity.
mutation session-bits 4 $N/coordinator.cpp "256-bit session ids (now 64)" \
  '^net\.Sessions\.AreLongRandomAndBoundToIdentityAndConnection$' "$NET" \
  'unsigned char bytes[32];' \
  'unsigned char bytes[8];'
mutation session-csprng 4 $N/coordinator.cpp "session ids from RAND_bytes (now a counter)" \
  '^net\.Sessions\.AreLongRandomAndBoundToIdentityAndConnection$' "$NET" \
  'FEDSIGN_CHECK(RAND_bytes(bytes, sizeof bytes) == 1, "OpenSSL RAND_bytes failed");' \
  'static unsigned counter = 0; ++counter; for (unsigned char& b : bytes) b = static_cast<unsigned char>(counter);'
mutation session-peer 4 $N/coordinator.cpp "session bound to the registering connection" \
  '^net\.Sessions\.AreLongRandomAndBoundToIdentityAndConnection$' "$NET" \
  '(options_.bind_session_to_peer && bound->peer != caller.peer)' \
  'false'
mutation session-cert 4 $N/coordinator.cpp "session bound to the certificate name on every call" \
  '^net\.Sessions\.AreLongRandomAndBoundToIdentityAndConnection$' "$NET" \
  'bound->identity != caller.identity ||' \
  'false ||'
mutation register-cert 4 $N/coordinator.cpp "certificate CN must equal the name at registration" \
  '^faults\.FaultSuite\.ValidTokenWithAnotherNamesCertificateIsRefused$' "$FAULTS" \
  'if (!identity.empty() && identity != name) {' \
  'if (false) {'
# 5. Late updates.
mutation fold-round 5 $N/round_adapter.cpp "fold() accepts only the round being aggregated" \
  '^net\.Fold\.RefusesAnUpdateOfAnotherRound$' "$NET" \
  ' || task->round != aggregating_round_) {' \
  ') {'
mutation fold-commit 5 $N/round_adapter.cpp "fold() refuses a task already failed (deadline)" \
  '^net\.Fold\.RefusesAnUpdateWhoseTaskFailedAtItsUploadDeadline$' "$NET" \
  'if (!coordinator_.commit(task)) {' \
  'if (false) {'
# 6. Insecure defaults.
mutation tls-required 6 $N/server_setup.cpp "no plaintext off loopback without --insecure" \
  '^net\.ListenPolicy\.PlaintextOnlyOnLoopbackUnlessInsecure$' "$NET" \
  'FEDSIGN_CHECK(o.insecure,' \
  'FEDSIGN_CHECK(true,'
mutation status-loopback 6 $N/server_setup.cpp "/status on loopback unless --status-remote" \
  '^net\.ListenPolicy\.PlaintextOnlyOnLoopbackUnlessInsecure$' "$NET" \
  'FEDSIGN_CHECK(o.status_remote || is_loopback_address(o.status_address),' \
  'FEDSIGN_CHECK(true,'
mutation status-token 6 $N/status_http.cpp "bearer token on /status" \
  '^net\.StatusEndpoint\.AnOptionalBearerTokenGuardsStatus$' "$NET" \
  'if (CRYPTO_memcmp(got.data(), expected.data(), expected.size()) != 0) {' \
  'if (got.empty() && false) {'
mutation token-file 6 $N/tokens.cpp "secrets read from a file (--token-file)" \
  '^net\.Tokens\.SecretsComeFromAFileOrTheEnvironment$' "$NET" \
  'if (!file.empty()) {' \
  'if (!file.empty() && false) {'
# 7. Checkpoint. ckpt-fsync is expected to SURVIVE: no test observes a missing fsync (it only
# matters on a power cut); it is a code-review item (docs/security.md).
mutation ckpt-fsync 7 src/fedsign/fl/run/server_checkpoint.cpp "fsync of checkpoint file and directory" \
  '^net\.Checkpoint\.KeepsThePreviousGenerationAndFallsBackToIt$' "$NET" \
  '{.durable = true, .keep_previous = previous_checkpoint(file)}' \
  '{.durable = false, .keep_previous = previous_checkpoint(file)}'
mutation ckpt-prev 7 src/fedsign/fl/run/server_checkpoint.cpp "previous checkpoint generation kept" \
  '^net\.Checkpoint\.KeepsThePreviousGenerationAndFallsBackToIt$' "$NET" \
  '.keep_previous = previous_checkpoint(file)}' \
  '.keep_previous = {}}'
mutation ckpt-fallback 7 src/fedsign/fl/run/server_checkpoint.cpp "fallback to .prev when the latest is corrupt" \
  '^net\.Checkpoint\.KeepsThePreviousGenerationAndFallsBackToIt$' "$NET" \
  'why = e.what();' \
  'throw;'
# 8. --resume without a checkpoint.
mutation resume-no-ckpt 8 src/fedsign/fl/run/driver.cpp "--resume without a checkpoint is an error" \
  '^fl\.FederationOptions\.ResumeWithoutCheckpointIsAnErrorInBoth$' "fedsign_cli test_fl_process" \
  'if (config_.resume) {' \
  'if (config_.resume && server_checkpoint_exists(checkpoint_file())) {'
# 9. What the client accepts from the server.
mutation client-size 9 $N/client.cpp "client checks the announced model size before reserving" \
  '^net\.ClientTasks\.AModelAnnouncedBeyondTheLimitIsRefusedBeforeReading$' "$NET" \
  'return check_announced_size(specs, header.blob().total_bytes(), max_bytes);' \
  'return max_bytes > 0 ? Status::Ok() : Status::Ok();'
mutation client-finite 9 $N/client.cpp "client refuses a non-finite task model" \
  '^net\.ClientTasks\.AModelWithNonFiniteValuesIsRefused$' "$NET" \
  'check_finite(weights, "task " + group); !s.ok()' \
  'check_finite(weights, "task " + group); false'
# 10. Tokens and logs.
mutation token-unknown 10 $N/tokens.cpp "unknown names cost a comparison (no early return)" \
  '^net\.Tokens\.UnknownNamesCostAComparisonAndGetTheSameAnswer$' "$NET" \
  'const bool known = it != entries_.end();' \
  'const bool known = it != entries_.end(); if (!known) return {Code::kUnauthenticated, "unknown client or wrong token"};'
mutation log-escape 10 $N/status.cpp "control characters in client strings escaped" \
  '^net\.Logging\.ClientSuppliedNamesAreEscaped$' "$NET" \
  'else if (c >= 0x20 && c < 0x7f) out += static_cast<char>(c);' \
  'else if (c != 0) out += static_cast<char>(c);'
mutation token-deleted 10 $N/tokens.cpp "a deleted tokens file revokes everyone" \
  '^net\.Tokens\.ReloadOnChangeAndADeletedFileRevokesEveryone$' "$NET" \
  'entries_.clear();' \
  '/* mutation: keep the old list */'

# edit check|apply FILE SEARCH REPLACE: exit 3 unless SEARCH occurs exactly once (fixed string).
edit() {
  MODE=$1 FILE=$2 SEARCH=$3 REPLACE=$4 python3 - <<'EOF'
import os, sys
path, s, r = os.environ["FILE"], os.environ["SEARCH"], os.environ["REPLACE"]
try:
    text = open(path, encoding="utf-8", newline="").read()
except FileNotFoundError:
    sys.exit(3)
if text.count(s) != 1:
    sys.exit(3)
if os.environ["MODE"] == "apply":
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text.replace(s, r, 1))
EOF
}

list=0 baseline=0
for arg in "$@"; do
  case $arg in
    --list) list=1 ;;
    --baseline) baseline=1 ;;
    *) echo "usage: [ONLY=id,...] $0 [--list] [--baseline]" >&2; exit 2 ;;
  esac
done
for want in ${ONLY:+${ONLY//,/ }}; do
  [[ " ${ids[*]} " == *" $want "* ]] || { echo "ONLY: no mutation '$want'" >&2; exit 2; }
done
selected=()
for i in "${!ids[@]}"; do
  if [[ -z ${ONLY:-} || ",$ONLY," == *",${ids[$i]},"* ]]; then selected+=("$i"); fi
done
((${#selected[@]})) || { echo "no mutation matches ONLY=$ONLY" >&2; exit 2; }

results=()
print_table() {
  echo "| id | item | file | removes | tests (ctest -R) | result |"
  echo "|---|---|---|---|---|---|"
  for i in "${selected[@]}"; do
    echo "| ${ids[$i]} | ${items[$i]} | \`${files[$i]#src/fedsign/}\` | ${whats[$i]} |" \
         "\`${regexes[$i]//|/\\|}\` | ${results[$i]} |"
  done
}

if ((list)); then
  for i in "${selected[@]}"; do
    if edit check "${files[$i]}" "${searches[$i]}" "${replaces[$i]}"; then results[$i]=ready
    else results[$i]=stale; fi
  done
  print_table
  exit 0
fi

# A build running meanwhile would compile the mutated sources into the tree's binaries.
if [[ -z ${FORCE:-} ]] && pgrep -x ninja >/dev/null; then
  echo "a ninja build is running: wait for it (or FORCE=1 if it is another tree's)" >&2
  exit 2
fi
mkdir -p "$LOGS"
backup=$(mktemp) mutated=$(mktemp)
current=""     # index of the mutation applied right now
touched=""     # targets built while a mutation was applied
restore() {
  [[ -n $current ]] || return 0
  local f=${files[$current]}
  if cmp -s "$f" "$mutated"; then
    cat "$backup" > "$f"  # not cp -p: the new mtime makes the build recompile it
  elif ! edit apply "$f" "${replaces[$current]}" "${searches[$current]}"; then
    cp "$backup" "$LOGS/${ids[$current]}.orig"
    echo "ERROR: $f changed while mutated; undo the mutation by hand (original: $LOGS/${ids[$current]}.orig)" >&2
    current=""
    return 1
  fi
  current=""
}
cleanup() {
  restore
  rm -f "$mutated" "$backup"
  if [[ -n $touched ]]; then
    echo "sources restored; rebuild: cmake --build $BUILD --target fedsign_cli$touched" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build() { cmake --build "$BUILD" -j "$JOBS" --target "$@" >>"$log" 2>&1; }

if ((baseline)); then
  union="" regex=""
  for i in "${selected[@]}"; do union+=" ${targets[$i]}"; regex+="${regex:+|}${regexes[$i]}"; done
  log=$LOGS/baseline.log; : >"$log"
  echo "baseline: building and running the selected tests unmutated (log: $log)" >&2
  # shellcheck disable=SC2086
  build $(tr ' ' '\n' <<<"$union" | sort -u)
  ctest --test-dir "$BUILD" -R "$regex" --timeout "$TEST_TIMEOUT" --no-tests=error >>"$log" 2>&1 ||
    { echo "baseline FAILED: the tests fail without any mutation (see $log)" >&2; exit 2; }
fi

status=0
for i in "${selected[@]}"; do
  id=${ids[$i]} f=${files[$i]}
  log=$LOGS/$id.log; : >"$log"
  if ! edit check "$f" "${searches[$i]}" "${replaces[$i]}"; then
    results[$i]=stale
    echo "[$id] stale: the search string does not occur exactly once in $f" >&2
    continue
  fi
  cp "$f" "$backup"
  current=$i
  edit apply "$f" "${searches[$i]}" "${replaces[$i]}"
  cp "$f" "$mutated"
  touched+=" ${targets[$i]}"
  echo "[$id] building ${targets[$i]} (log: $log)" >&2
  # shellcheck disable=SC2086
  if ! build ${targets[$i]}; then
    results[$i]=build-failed; status=$((status ? status : 2))
  elif [[ $(ctest --test-dir "$BUILD" -N -R "${regexes[$i]}" | sed -n 's/^Total Tests: //p') == 0 ]]; then
    results[$i]=no-tests; status=$((status ? status : 2))
  else
    echo "[$id] ctest -R '${regexes[$i]}'" >&2
    if ctest --test-dir "$BUILD" -R "${regexes[$i]}" --timeout "$TEST_TIMEOUT" --output-on-failure \
         >>"$log" 2>&1; then
      results[$i]=SURVIVED; status=1
    else
      results[$i]=killed
    fi
  fi
  echo "[$id] ${results[$i]}" >&2
  restore || exit 2
done

if [[ -n $touched ]]; then
  log=$LOGS/rebuild.log; : >"$log"
  echo "rebuilding the touched targets from the restored sources (log: $log)" >&2
  # shellcheck disable=SC2086
  build fedsign_cli $(tr ' ' '\n' <<<"$touched" | sort -u) && touched="" ||
    { echo "WARNING: the final rebuild failed (see $log)" >&2; status=$((status ? status : 2)); }
fi
print_table
exit "$status"
