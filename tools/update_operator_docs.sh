#!/bin/bash
# Rewrites the tables generated from the compiler's registries: the operator table of
# docs/operators.md (between the operators:begin/end markers, from `sofiec --operator-table`)
# and the Keras layer table of docs/keras.md (keras-layers:begin/end, from
# `sofiec --keras-layer-table`, whose class names README.md lists too). With --check, changes nothing and exits 1 if a document is out
# of date (a test runs this).
#   tools/update_operator_docs.sh [--check] [path/to/sofiec]
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
sofiec="${1:-build/sofiec}"
status=0
update() {  # doc marker table
  local doc="$1" marker="$2" table="$3" new
  new="$(awk -v table="$table" -v begin="<!-- $marker:begin -->" -v end="<!-- $marker:end -->" '
    $0 == begin { print; print table; skip = 1; next }
    $0 == end { skip = 0 }
    !skip { print }' "$doc")"
  if [ "$check" = 1 ]; then
    if [ "$new" != "$(cat "$doc")" ]; then
      echo "$doc's $marker table is out of date: run tools/update_operator_docs.sh" >&2
      status=1
    fi
  else
    printf '%s\n' "$new" > "$doc"
  fi
}
update docs/operators.md operators "$("$sofiec" --operator-table)"
keras_table="$("$sofiec" --keras-layer-table)"
update docs/keras.md keras-layers "$keras_table"
# README: the class names alone, as one paragraph.
update README.md keras-layer-list "$(printf '%s\n' "$keras_table" | awk -F' [|] ' 'NR > 2 { sub(/^[|] /, "", $1); printf "%s%s", (n++ ? ", " : ""), $1 } END { print "." }')"
exit $status
