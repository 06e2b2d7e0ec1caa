#!/usr/bin/env bash
# Fails when a library layer includes a header of a layer above it. The layers and what each may
# include (besides itself) are listed once here; HACKING.md draws the same picture. Run by ctest
# (test "layers") and by hand: scripts/check_layers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A allowed=(
  [core]=""
  [data]="core"
  [report]="core"
  [models]="core"
  [vision]="core data"
  [train]="core data models report"
  [fl]="core data models report train"
  [net]="core data models report train fl"
  [experiments]="core data models report train vision"
  [serve]="core data models report train vision experiments net"
)
status=0
for dir in src/fedsign/*/; do
  layer=$(basename "$dir")
  [ "$layer" = pch ] && continue
  if [ -z "${allowed[$layer]+set}" ]; then
    echo "check_layers: src/fedsign/$layer is not in the layer table of scripts/check_layers.sh"
    status=1
    continue
  fi
  while IFS=: read -r file line include; do
    target=$(sed -E 's/.*"fedsign\/([a-z_]+)\/.*/\1/' <<<"$include")
    [ "$target" = "$layer" ] && continue
    if ! grep -qw "$target" <<<"${allowed[$layer]}"; then
      echo "$file:$line: layer '$layer' includes '$target' (allowed: ${allowed[$layer]:-nothing})"
      status=1
    fi
  done < <(grep -rnE '#include "fedsign/[a-z_]+/' "$dir" | sed -E 's/^([^:]+):([0-9]+):(.*)$/\1:\2:\3/')
done
[ $status -eq 0 ] && echo "check_layers: every include flows down the layer table"
exit $status
