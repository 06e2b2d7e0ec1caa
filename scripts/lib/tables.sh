# Sourced by the experiment scripts: the small table arithmetic they share.
#   mean_range [signed] fractions on stdin, one per line -> "mean% (min-max)" in percent ("-" if
#                       none); with "signed", differences in points: "+m (+lo to +hi)"
#   last_value FILE COL the last value of metrics.csv column COL that is neither empty nor nan
#                       ("" when the file or column is missing)
#   csv_values KEY COL FILE...   column COL (by header name) of the rows whose first field is KEY
#   json_number FILE KEY         the number of a top-level "KEY": line of a JSON file (test.json)

mean_range() {
  local format="%.2f%% (%.2f-%.2f)"
  [[ "${1:-}" == signed ]] && format="%+.2f (%+.2f to %+.2f)"
  awk -v format="$format" '
    NF { v = 100 * $1; s += v; if (n == 0 || v < lo) lo = v; if (n == 0 || v > hi) hi = v; ++n }
    END { if (n) printf format, s / n, lo, hi; else printf "-" }'
}

last_value() {
  [[ -f "$1" ]] || return 0
  awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
    (name in col) && $col[name] != "" && $col[name] != "nan" { v = $col[name] } END { print v }' "$1"
}

csv_values() {
  local key=$1 col=$2; shift 2
  awk -F, -v key="$key" -v col="$col" '
    FNR == 1 { delete c; for (i = 1; i <= NF; ++i) c[$i] = i; next }
    $1 == key && (col in c) { print $c[col] }' "$@"
}

json_number() { sed -n "s/^ *\"$2\": *\([0-9.eE+-]*\),*\$/\1/p" "$1"; }
