#!/bin/bash
# Rewrites the operator table of docs/operators.md (between the operators:begin/end markers)
# from `sofiec --operator-table`, the registry the compiler uses. With --check, changes nothing
# and exits 1 if the document is out of date (a test runs this).
#   tools/update_operator_docs.sh [--check] [path/to/sofiec]
set -euo pipefail
cd "$(dirname "$0")/.."
doc=docs/operators.md
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
sofiec="${1:-build/sofiec}"
table="$("$sofiec" --operator-table)"
new="$(awk -v table="$table" '
  /<!-- operators:begin -->/ { print; print table; skip = 1; next }
  /<!-- operators:end -->/ { skip = 0 }
  !skip { print }' "$doc")"
if [ "$check" = 1 ]; then
  if [ "$new" != "$(cat "$doc")" ]; then
    echo "$doc's operator table is out of date: run tools/update_operator_docs.sh" >&2
    exit 1
  fi
  exit 0
fi
printf '%s\n' "$new" > "$doc"
