#!/usr/bin/env bash
# Rebuilds data/sample/ (the small real-data sample shipped with fedsign) from a Kaggle-layout
# GTSRB copy: for each of the 43 classes, the first 4 tracks (lowest track ids) x 3 frames each
# (first, middle and last frame present in the copy) = 516 images, plus Train.csv.
#
# usage: scripts/make_sample.sh [GTSRB_DIR]   (default: ../shared/data/gtsrb beside the checkout)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-$repo/../shared/data/gtsrb}
out=$repo/data/sample
tracks_per_class=4

[ -f "$src/Train.csv" ] || { echo "make_sample: no Train.csv in $src" >&2; exit 1; }

header=$(head -n 1 "$src/Train.csv" | tr -d '\r')
path_column=$(echo "$header" | tr ',' '\n' | grep -nx 'Path' | cut -d: -f1)
[ -n "$path_column" ] || { echo "make_sample: no Path column in $src/Train.csv" >&2; exit 1; }

rm -rf "$out/Train" "$out/Train.csv"
mkdir -p "$out"

# Prefix each row with class, track, frame (parsed from Train/<c>/CCCCC_TTTTT_FFFFF.png), sort
# numerically, keep the first tracks of each class and the first/middle/last frame of each track.
rows=$(tail -n +2 "$src/Train.csv" | tr -d '\r' | grep -v '^[[:space:]]*$' |
  awk -F, -v col="$path_column" '{
    n = split($col, parts, "/"); split(parts[n], id, /[_.]/)
    print id[1] + 0, id[2] + 0, id[3] + 0, $0
  }' |
  sort -k1,1n -k2,2n -k3,3n |
  awk -v keep="$tracks_per_class" '
    BEGIN { class = -1; track = -1 }
    function flush(   i, mid) {
      if (count == 0) return
      mid = int((count - 1) / 2)
      print rows[0]
      if (mid > 0) print rows[mid]
      if (count - 1 > mid) print rows[count - 1]
      count = 0
    }
    {
      if ($1 != class) { flush(); class = $1; tracks = 0; track = -1 }
      if ($2 != track) { flush(); track = $2; tracks++ }
      if (tracks <= keep) rows[count++] = $4
    }
    END { flush() }')

{
  echo "$header"
  echo "$rows"
} > "$out/Train.csv"

echo "$rows" | while IFS= read -r row; do
  path=$(echo "$row" | cut -d, -f"$path_column")
  mkdir -p "$out/$(dirname "$path")"
  cp "$src/$path" "$out/$path"
  chmod 644 "$out/$path"
done

# The 43 sign pictograms (Meta/, RGBA) and Meta.csv: what --client-renders and `fedsign synth`
# render training images from.
rm -rf "$out/Meta" "$out/Meta.csv"
mkdir -p "$out/Meta"
cp "$src"/Meta/*.png "$out/Meta/"
cp "$src/Meta.csv" "$out/Meta.csv"
chmod 644 "$out"/Meta/*.png "$out/Meta.csv"

echo "make_sample: $(echo "$rows" | wc -l) images, $(du -sh "$out" | cut -f1) in $out"
