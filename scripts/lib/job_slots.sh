# Sourced by the experiment scripts: run commands in the background, at most JOBS at a time.
#   launch LOG COMMAND...   start COMMAND (output to LOG) once a slot is free
#   wait_all                wait for every started command
# FAILED becomes 1 when any command exits non-zero.
FAILED=0

launch() {
  local log=$1; shift
  while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n || FAILED=1; done
  echo "start: $* (log $log)"
  "$@" > "$log" 2>&1 &
}

wait_all() {
  while (( $(jobs -rp | wc -l) > 0 )); do wait -n || FAILED=1; done
}
