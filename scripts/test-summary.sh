#!/usr/bin/env bash
# Reads `swift test` output (stdin or a file) and prints how many tests ran, passed, failed and
# were skipped, with each skip's one-line reason.
set -uo pipefail
log=${1:-/dev/stdin}
text=$(cat "$log")
passed=$(grep -cE "^Test Case '.*' passed" <<<"$text")
failed=$(grep -cE "^Test Case '.*' failed" <<<"$text")
skipped=$(grep -cE "^Test Case '.*' skipped" <<<"$text")
echo "tests: $((passed + failed)) ran ($passed passed, $failed failed), $skipped skipped"
grep -E ": Test skipped" <<<"$text" | sed -E "s/^.*error: //; s/^[^:]*:[0-9]+: //; s/^/  skipped: /" || true
