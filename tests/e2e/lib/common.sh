# Sourced by every tests/e2e/*.sh: resolves $SWEEP (the binary under test,
# made absolute) and $SYNTH (the synthetic-data writer beside it), and
# defines check NAME CMD..., which counts CMD's success or failure; each
# script ends with "$pass passed, $fail failed".
SWEEP=${SWEEP:-build/sweep}
SWEEP=$(cd "$(dirname "$SWEEP")" && pwd)/$(basename "$SWEEP")
SYNTH=$(dirname "$SWEEP")/synth_idx
pass=0 fail=0
check() {  # check NAME CMD...: passes if CMD succeeds
    local name=$1
    shift
    if "$@"; then
        pass=$((pass + 1))
        echo "ok $name"
    else
        fail=$((fail + 1))
        echo "not ok $name"
    fi
}
