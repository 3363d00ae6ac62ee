#!/usr/bin/env bash
# Runs the unit tests and the end-to-end CLI tests (tests/e2e/*.sh, or those
# named in $E2E); ends with the total as
# "N passed, M failed" and exits non-zero if anything failed.
set -u
BUILD=${BUILD:-build}
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0

tally() {  # reads a runner's output, echoes it, adds its closing counts
    local out=$1 line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    if [ -z "$line" ]; then
        echo "runner printed no result line: counted as one failure"
        failed=$((failed + 1))
        return
    fi
    passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
    failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$BUILD/test_unit" 2>&1 | tee "$log" | sed 's/^[0-9]* passed, [0-9]* failed$/unit: &/'
tally "$log"
for t in "$here"/e2e/*.sh; do
    [ -e "$t" ] || continue
    # E2E="cli crash" runs only those end-to-end scripts (make asan uses it)
    if [ -n "${E2E:-}" ] && [[ " $E2E " != *" $(basename "$t" .sh) "* ]]; then
        continue
    fi
    SWEEP="$BUILD/sweep" bash "$t" 2>&1 | tee "$log" | sed "s/^[0-9]* passed, [0-9]* failed\$/$(basename "$t"): &/"
    tally "$log"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
