#!/usr/bin/env bash
# make check: `make test`, then `make asan`, then the grand total as
# "N passed, M failed"; non-zero exit if anything failed.
set -u
MAKE_CMD=${1:-make}
passed=0 failed=0 status=0
for target in test asan; do
    log=$(mktemp)
    $MAKE_CMD --no-print-directory $target 2>&1 | tee "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    rm -f "$log"
    if [ -z "$line" ]; then
        echo "make $target printed no result line"
        failed=$((failed + 1))
        continue
    fi
    passed=$((passed + ${line%% *}))
    failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
done
echo "$passed passed, $failed failed"
[ $status -eq 0 ] && [ $failed -eq 0 ]
