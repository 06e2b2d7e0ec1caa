# Sourced by the experiment scripts: the small table arithmetic they share.
#   mean_range          fractions on stdin, one per line -> "mean% (min-max)" in percent ("-" if none)
#   csv_values KEY COL FILE...   column COL (by header name) of the rows whose first field is KEY
#   json_number FILE KEY         the number of a top-level "KEY": line of a JSON file (test.json)

mean_range() {
  awk 'NF { v = 100 * $1; s += v; if (n == 0 || v < lo) lo = v; if (n == 0 || v > hi) hi = v; ++n }
       END { if (n) printf "%.2f%% (%.2f-%.2f)", s / n, lo, hi; else printf "-" }'
}

csv_values() {
  local key=$1 col=$2; shift 2
  awk -F, -v key="$key" -v col="$col" '
    FNR == 1 { delete c; for (i = 1; i <= NF; ++i) c[$i] = i; next }
    $1 == key && (col in c) { print $c[col] }' "$@"
}

json_number() { sed -n "s/^ *\"$2\": *\([0-9.eE+-]*\),*\$/\1/p" "$1"; }
