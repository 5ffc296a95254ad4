#!/usr/bin/env bash
# The closing line of `./dev.sh test` from cargo test's output: "N passed, N failed, N skipped".
# A skipped test is one ignored because something it needs is absent (`ignore = "needs ..."`,
# e.g. ../shared); helpers that other tests start are not counted. With CI set, any skipped test
# fails the run, and the skipped tests are named either way.
#   tests/summary.sh LOG
set -euo pipefail
log="$1"
awk -v ci="${CI:-}" '
  /^ *Running / { binary = $2; sub(/\/main\.rs$/, "", binary); sub(/^.*\//, "", binary); sub(/\.rs$/, "", binary) }
  /^test .* \.\.\. ignored, needs / { name = $2; skipped[++n] = binary "::" name }
  /^test result:/ { passed += $4; failed += $6 }
  END {
    printf "%d passed, %d failed, %d skipped\n", passed, failed, n
    for (i = 1; i <= n; i++) printf "  skipped: %s\n", skipped[i]
    if (n > 0 && ci != "") { printf "CI is set: skipped tests fail the run\n"; exit 1 }
    if (failed > 0) exit 1
  }
' "$log"
