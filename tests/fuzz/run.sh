#!/usr/bin/env bash
# Runs each libFuzzer target for FUZZ_SECONDS (default 60) on a copy of its
# seed corpus, so the committed corpora only grow on purpose (FUZZ_MERGE=1
# merges the inputs that add coverage back into tests/fuzz/corpus/).
# Prints one line per target; exits non-zero if any target found a crash,
# leak, timeout or out-of-memory. Crash inputs go to BUILD/artifacts/TARGET/.
# usage: tests/fuzz/run.sh BUILD TARGET...
set -u
secs=${FUZZ_SECONDS:-60}
bin=${1:?usage: run.sh BUILD TARGET...}
shift
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sweep-fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
status=0

for t in "$@"; do
    corpus=$here/corpus/$t art=$bin/artifacts/$t log=$bin/$t.log
    mkdir -p "$work/$t" "$art"
    [ -d "$corpus" ] && cp -R "$corpus"/. "$work/$t"/
    # -max_len pinned: merged inputs must not raise it. Larger configs can
    # rightly take ~10 s under the sanitizers (1000 exclude rules x 100000
    # runs in grid_expand: 0.4 s at -O3) and would show up as timeouts.
    opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=4096
          -print_final_stats=1 -artifact_prefix="$art/")
    [ -f "$here/$t.dict" ] && opts+=(-dict="$here/$t.dict")
    start=$(date +%s)
    "$bin/$t" "${opts[@]}" "$work/$t" >"$log" 2>&1
    rc=$?
    secs_run=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        echo "$t: ${execs:-?} executions in $secs_run s, no crash"
    else
        status=1
        echo "$t: FAILED (exit $rc) after ${execs:-?} executions in $secs_run s; log in $log"
        grep -E 'ERROR: |SUMMARY: |runtime error|fuzz invariant failed|Test unit written' "$log" |
            head -n 8 | sed 's/^/    /'
    fi
    if [ "${FUZZ_MERGE:-}" = 1 ] && [ "$rc" -eq 0 ]; then
        mkdir -p "$corpus"
        "$bin/$t" -merge=1 -timeout=10 -rss_limit_mb=2048 -max_len=4096 "$corpus" "$work/$t" >"$log.merge" 2>&1 &&
            echo "$t: merged into $corpus ($(ls "$corpus" | wc -l) files)"
    fi
done
exit $status
