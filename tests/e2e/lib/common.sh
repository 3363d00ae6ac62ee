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

# to_v2 DB: makes a version 3 database what version 2 wrote (the triggers
# first: they name sweep_configs and classes). One list, so a column added
# to version 3 is dropped here once for every test of the upgrade.
to_v2() {
    local drops="" c
    for c in in_grid data_format label augment val_limit test_limit dataset batchnorm momentum \
        nesterov weight_decay lr_schedule; do
        drops="$drops ALTER TABLE runs DROP COLUMN $c;"
    done
    sqlite3 "$1" "DROP TRIGGER sweeps_delete_runs; DROP TRIGGER runs_delete_epochs;
        DROP TRIGGER epochs_delete_layers; DROP VIEW summary; DROP VIEW summary_all;
        DROP TABLE sweep_configs; DROP TABLE classes; $drops PRAGMA user_version = 2;"
}
