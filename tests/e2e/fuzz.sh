#!/usr/bin/env bash
# The CI's short fuzzing run: `make fuzz FUZZ_SECONDS=10` (every libFuzzer
# target of tests/fuzz/ for 10 s), one check per target. Skipped when clang
# with libFuzzer is not available. Ends with "N passed, M failed".
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cc=${FUZZ_CC:-clang}
secs=${FUZZ_SECONDS:-10}
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep-fuzz-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT

# Probe: compile and run a tiny fuzzer with the sanitizers the targets use.
cat > "$T/probe.c" <<'C'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }
C
if ! command -v "$cc" >/dev/null 2>&1 ||
   ! "$cc" -fsanitize=fuzzer,address,undefined "$T/probe.c" -o "$T/probe" >/dev/null 2>&1 ||
   ! "$T/probe" -runs=1 >/dev/null 2>&1; then
    echo "skipped: clang with libFuzzer not available"
    echo "0 passed, 0 failed"
    exit 0
fi

# An enclosing make (make test, make asan) passes its variables down through
# MAKEFLAGS: BUILD or SAN from there must not reach the fuzz build.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
mkdir -p "$root/build"
lock=()
command -v flock >/dev/null && lock=(flock "$root/build/.fuzz.lock")   # one fuzz build at a time
(cd "$root" && ${lock[@]+"${lock[@]}"} make fuzz FUZZ_CC="$cc" FUZZ_SECONDS="$secs") >"$T/out" 2>&1
rc=$?

pass=0 fail=0
while IFS= read -r line; do
    t=${line%%:*}
    if [[ $line =~ ^[a-z_0-9]+:\ ([0-9]+)\ executions\ in\ [0-9]+\ s,\ no\ crash$ ]]; then
        pass=$((pass + 1))
        echo "ok $t: ${BASH_REMATCH[1]} executions, no crash"
    else
        fail=$((fail + 1))
        echo "not ok $t: ${line#*: }"
    fi
done < <(grep -E '^fuzz_[a-z_0-9]+: ' "$T/out")
# Details of findings (indented by run.sh), or why nothing ran.
grep -E '^    ' "$T/out"
if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
    fail=$((fail + 1))
    echo "not ok make fuzz exited $rc:"
    tail -n 15 "$T/out" | sed 's/^/    /'
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
