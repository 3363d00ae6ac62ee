#!/usr/bin/env bash
# Never lose a result: SIGKILL at several moments, SIGINT, and two processes
# on one database; each time the sweep must end with every run done once and
# final metrics bit-identical to an unbroken sweep. Ends "N passed, M failed".
set -u
. "$(dirname "$0")/lib/common.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep-crash.XXXXXX")
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
cd "$T" || exit 1
if ! command -v sqlite3 >/dev/null; then
    echo "skipped: the sqlite3 shell is not installed"
    echo "0 passed, 0 failed"
    exit 0
fi
q() { sqlite3 -batch -noheader "$@"; }
dump='SELECT r.run_key, e.epoch, printf("%!.17g %!.17g %!.17g %!.17g", e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy), printf("%!.17g %!.17g", r.test_loss, r.test_accuracy) FROM epochs e JOIN runs r USING(run_id) ORDER BY 1, 2'

mkdir data && "$SYNTH" data 500 100 >/dev/null || { echo "cannot make data"; echo "0 passed, 1 failed"; exit 1; }
cat > sweep.yaml <<YAML
name: crash
data: {dir: $T/data, train_limit: 240}
train: {batch_size: 20}
grid:
  activation: [relu, elu, prelu]
  alpha: 0.5
  dropout: 0.25
  epochs: 4
  seed: 7
YAML

# wait_epochs DB N: until the database holds N epoch rows (at most ~60 s)
wait_epochs() {
    for _ in $(seq 1 600); do
        [ "$(q "$1" 'SELECT count(*) FROM epochs' 2>/dev/null || echo 0)" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

"$SWEEP" run sweep.yaml --db ref.db --jobs 1 --threads 1 >/dev/null 2>&1
check "unbroken sweep exits 0" [ $? -eq 0 ]
ref=$(q ref.db "$dump")
[ -n "$ref" ] || { echo "the unbroken sweep recorded nothing"; echo "$pass passed, $((fail + 1)) failed"; exit 1; }
check "unbroken sweep: 12 epoch rows" [ "$(q ref.db 'SELECT count(*) FROM epochs')" = 12 ]
check "no checkpoint left after done runs" [ -z "$(ls ref.db-checkpoints 2>/dev/null)" ]

# ---- SIGKILL at several moments, then finish
for at in 1 3 6 9; do
    "$SWEEP" run sweep.yaml --db crash.db --jobs 2 --threads 1 >/dev/null 2>&1 &
    pid=$!
    wait_epochs crash.db $at
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    check "integrity ok after kill -9 at $at epochs" [ "$(q crash.db 'PRAGMA integrity_check')" = ok ]
done
"$SWEEP" run sweep.yaml --db crash.db --jobs 2 --threads 1 >/dev/null 2>final.err
check "the sweep finishes after the kills" [ $? -eq 0 ]
check "every run done once" [ "$(q crash.db "SELECT count(*), sum(status='done') FROM runs")" = "3|3" ]
check "no duplicate or missing epochs" [ "$(q crash.db 'SELECT count(*), count(DISTINCT run_id || "-" || epoch) FROM epochs')" = "12|12" ]
check "metrics bit-identical to the unbroken sweep" [ "$(q crash.db "$dump")" = "$ref" ]
check "checkpoints removed once done" [ -z "$(ls crash.db-checkpoints 2>/dev/null)" ]

# ---- SIGINT, then resume from the checkpoint (one longer run)
sed -e 's/name: crash/name: long/' -e 's/activation: .*/activation: elu/' -e 's/epochs: 4/epochs: 25/' sweep.yaml >long.yaml
"$SWEEP" run long.yaml --db longref.db >/dev/null 2>&1
long_ref=$(q longref.db "$dump")
"$SWEEP" run long.yaml --db int.db --jobs 1 --threads 2 >/dev/null 2>int.err &
pid=$!
wait_epochs int.db 2
kill -INT $pid
wait $pid
check "SIGINT exits 130" [ $? -eq 130 ]
check "SIGINT leaves the run interrupted" [ "$(q int.db "SELECT status FROM runs")" = interrupted ]
check "SIGINT: a checkpoint is kept" [ -n "$(ls int.db-checkpoints 2>/dev/null)" ]
check "SIGINT: finished epochs kept" [ "$(q int.db 'SELECT count(*) FROM epochs')" -ge 2 ]
"$SWEEP" run long.yaml --db int.db >/dev/null 2>&1
check "resumed sweep exits 0" [ $? -eq 0 ]
check "resumed metrics bit-identical" [ -n "$long_ref" ] && [ "$(q int.db "$dump")" = "$long_ref" ]

# ---- two processes on one database: every run trained exactly once
"$SWEEP" run sweep.yaml --db two.db --jobs 1 --threads 1 >/dev/null 2>a.err &
a=$!
"$SWEEP" run sweep.yaml --db two.db --jobs 1 --threads 1 >/dev/null 2>b.err &
b=$!
wait $a
ra=$?
wait $b
rb=$?
check "both processes exit 0" [ "$ra.$rb" = "0.0" ]
if [ "$ra.$rb" != "0.0" ]; then   # say why, for whoever reads the log
    echo "exit statuses $ra and $rb; their last lines:"
    tail -n 5 a.err b.err
fi
check "each run trained exactly once" [ "$(cat a.err b.err | grep -c ': done, test_accuracy')" = 3 ]
check "both processes trained" [ "$(grep -c ': done, test_accuracy' a.err)" -ge 1 ] 
check "no 'database is locked' surfaced" bash -c "! grep -qi 'locked' a.err b.err"
check "two processes: metrics bit-identical" [ "$(q two.db "$dump")" = "$ref" ]

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
