#!/usr/bin/env bash
# End-to-end tests of the sweep CLI on a tiny synthetic dataset written by
# build/synth_idx. Ends with "N passed, M failed".
set -u
. "$(dirname "$0")/lib/common.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
q() { sqlite3 -batch -noheader "$@"; }
have_sqlite3=1
command -v sqlite3 >/dev/null || have_sqlite3=0

mkdir data && "$SYNTH" data 500 100 >/dev/null || { echo "cannot make data"; echo "0 passed, 1 failed"; exit 1; }
cat > tiny.yaml <<YAML
name: tiny
data:
  dir: $T/data
  validation_split: 0.2
  train_limit: 200
train:
  batch_size: 50
grid:
  activation: [relu, elu]
  init: he
  dropout: [0.25]
  epochs: 2
  seed: [1, 2]
YAML

# ---- help and version
check "version prints" bash -c "'$SWEEP' --version | grep -q '^sweep [0-9]'"
for c in run plan status export train; do
    check "$c --help exits 0" bash -c "'$SWEEP' $c --help | grep -q usage"
done
check "train --help lists the activations from the table" \
    bash -c "'$SWEEP' train --help | grep -q -- '--activation NAME       relu | elu | leaky_relu'"
check "train --help stands on its own" bash -c "! '$SWEEP' train --help | grep -q SPEC"
check "train names the valid activations" \
    bash -c "'$SWEEP' train --activation nope 2>&1 | grep -q \"must be relu, elu, leaky_relu\""
check "unknown command exits 2" bash -c "'$SWEEP' frobnicate 2>/dev/null; [ \$? -eq 2 ]"
check "unknown flag exits 2" bash -c "'$SWEEP' run tiny.yaml --jbos 2 2>&1 >/dev/null | grep -q \"unknown option '--jbos'\""

# ---- a first run trains everything and records it
"$SWEEP" run tiny.yaml --db db1.db >run1.out 2>run1.err
check "run exits 0" [ $? -eq 0 ]
check "run prints the summary on stdout" grep -q "mean_test_accuracy" run1.out
check "progress went to stderr" grep -q "epoch 2/2" run1.err
if [ $have_sqlite3 = 1 ]; then
    check "4 runs done" [ "$(q db1.db "SELECT count(*) FROM runs WHERE status='done'")" = 4 ]
    check "8 epoch rows" [ "$(q db1.db "SELECT count(*) FROM epochs")" = 8 ]
    check "alpha NULL for relu only" [ "$(q db1.db "SELECT count(*) FROM runs WHERE (alpha IS NULL) = (activation='relu')")" = 4 ]
    check "test scores recorded" [ "$(q db1.db "SELECT count(*) FROM runs WHERE test_accuracy BETWEEN 0 AND 1 AND test_loss > 0")" = 4 ]
    check "summary: one row per setting" [ "$(q db1.db "SELECT count(*) FROM summary")" = 2 ]
    check "summary n = 2 seeds" [ "$(q db1.db "SELECT min(n) FROM summary")" = 2 ]
    check "schema version set" [ "$(q db1.db "PRAGMA user_version")" -ge 1 ]
    check "WAL journal" [ "$(q db1.db "PRAGMA journal_mode")" = wal ]
    check "learned something" [ "$(q db1.db "SELECT min(test_accuracy) > 0.3 FROM runs")" = 1 ]
fi

# ---- the same command again trains nothing
before=$(q db1.db "SELECT group_concat(started_at) FROM runs" 2>/dev/null)
start=$(date +%s)
"$SWEEP" run tiny.yaml --db db1.db >run2.out 2>run2.err
check "second run exits 0" [ $? -eq 0 ]
check "second run trains nothing" grep -q "nothing to train" run2.err
check "second run is quick" [ $(($(date +%s) - start)) -le 5 ]
[ $have_sqlite3 = 1 ] && check "second run touched no run" [ "$(q db1.db "SELECT group_concat(started_at) FROM runs")" = "$before" ]

# ---- plan and status
"$SWEEP" plan tiny.yaml --db db1.db >plan.out
check "plan exits 0" [ $? -eq 0 ]
check "plan lists 4 done runs" [ "$(grep -c ' done ' plan.out)" = 4 ]
"$SWEEP" plan tiny.yaml --db none.db >plan2.out
check "plan without a database says new" [ "$(grep -c ' new ' plan2.out)" = 4 ]
check "plan creates no database" [ ! -e none.db ]
check "status shows the sweep" bash -c "'$SWEEP' status --db db1.db | grep -Eq '^tiny +4 +4 '"

# ---- export
for what in summary runs epochs; do
    "$SWEEP" export --db db1.db --what $what -o $what.csv
    check "export $what exits 0" [ $? -eq 0 ]
done
check "summary.csv: header + 2 rows" [ "$(wc -l <summary.csv)" = 3 ]
check "runs.csv: header + 4 rows" [ "$(wc -l <runs.csv)" = 5 ]
check "epochs.csv: header + 8 rows" [ "$(wc -l <epochs.csv)" = 9 ]
check "epochs.csv repeats the settings" bash -c "head -1 epochs.csv | grep -q activation && head -1 epochs.csv | grep -q val_loss"
check "export to stdout" bash -c "'$SWEEP' export --db db1.db --what runs --sweep tiny | cmp -s - runs.csv"
check "export of an unknown sweep exits 2" bash -c "'$SWEEP' export --db db1.db --sweep nope 2>/dev/null >/dev/null; [ \$? -eq 2 ]"

# ---- same bits whatever --jobs and --threads
"$SWEEP" run tiny.yaml --db db2.db --jobs 1 --threads 2 >/dev/null 2>&1
check "jobs 1 x threads 2 exits 0" [ $? -eq 0 ]
if [ $have_sqlite3 = 1 ]; then
    dump='SELECT r.run_key, e.epoch, printf("%!.17g %!.17g %!.17g %!.17g", e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy), printf("%!.17g", r.test_loss) FROM epochs e JOIN runs r USING(run_id) ORDER BY 1, 2'
    check "bit-identical metrics across jobs/threads" [ "$(q db1.db "$dump")" = "$(q db2.db "$dump")" ]
    check "dump is not empty" [ -n "$(q db2.db "$dump")" ]
fi

# ---- config errors: exit 2, file:line:col, no database
bad() {  # bad NAME WANT_IN_STDERR YAML
    printf '%s\n' "$3" >bad.yaml
    "$SWEEP" run bad.yaml --db bad.db >/dev/null 2>bad.err
    local rc=$?
    check "config error ($1) exits 2" [ $rc -eq 2 ]
    check "config error ($1) names the place" grep -q "$2" bad.err
    check "config error ($1) creates no database" [ ! -e bad.db ]
}
bad "dropout range" "bad.yaml:4:13: " "name: b
data: {dir: $T/data}
grid:
  dropout: [1.5]"
bad "unknown key" "did you mean 'dropout'" "name: b
data: {dir: $T/data}
grid:
  dropuot: [0.5]"
bad "missing name" "bad.yaml:1:1: " "data: {dir: $T/data}"
bad "bad activation" "bad.yaml:4:" "name: b
data: {dir: $T/data}
grid:
  activation: [relu, relu6]"
bad "yaml syntax" "bad.yaml:" "name: [unclosed"
check "one line on stderr" [ "$(wc -l <bad.err)" = 1 ]

# ---- data and database errors
cat > nodata.yaml <<YAML
name: nodata
data: {dir: $T/no-such-folder}
YAML
"$SWEEP" run nodata.yaml --db nodata.db >/dev/null 2>nodata.err
check "missing data exits 2" [ $? -eq 2 ]
check "missing data names the file" grep -q "no-such-folder/train-images" nodata.err
check "missing data creates no database" [ ! -e nodata.db ]
echo "not a database" >notdb.db
cp notdb.db notdb.orig
"$SWEEP" run tiny.yaml --db notdb.db >/dev/null 2>notdb.err
check "a text file as --db exits 2" [ $? -eq 2 ]
check "a text file as --db is untouched" cmp -s notdb.db notdb.orig
check "a text file as --db: one clear line" grep -q "notdb.db" notdb.err

# ---- divergence: marked, the sweep goes on, exit 1
cat > div.yaml <<YAML
name: div
data: {dir: $T/data, train_limit: 100}
train: {batch_size: 50, optimizer: sgd}
grid:
  learning_rate: [0.01, 1.0e12]
  epochs: 1
YAML
"$SWEEP" run div.yaml --db div.db >/dev/null 2>div.err
check "diverged sweep exits 1" [ $? -eq 1 ]
if [ $have_sqlite3 = 1 ]; then
    check "diverged run marked" [ "$(q div.db "SELECT status || ' ' || diverged_epoch FROM runs WHERE learning_rate > 1")" = "diverged 1" ]
    check "the other run done" [ "$(q div.db "SELECT status FROM runs WHERE learning_rate < 1")" = done ]
fi

# ---- SIGINT: exit 130, finished epochs kept, run marked interrupted, resumable
cat > long.yaml <<YAML
name: long
data: {dir: $T/data}
train: {batch_size: 20}
grid:
  epochs: 500
YAML
if [ $have_sqlite3 = 1 ]; then
    "$SWEEP" run long.yaml --db long.db >/dev/null 2>long.err &
    pid=$!
    for _ in $(seq 1 600); do
        [ "$(q long.db "SELECT count(*) FROM epochs" 2>/dev/null)" -ge 1 ] 2>/dev/null && break
        sleep 0.1
    done
    kill -INT $pid
    ( sleep 60; kill -9 $pid 2>/dev/null ) &   # a stop that never comes must not hang the suite
    watchdog=$!
    wait $pid
    rc=$?
    kill $watchdog 2>/dev/null
    check "SIGINT exits 130" [ $rc -eq 130 ]
    check "SIGINT marks the run interrupted" [ "$(q long.db "SELECT status FROM runs")" = interrupted ]
    check "SIGINT keeps finished epochs" [ "$(q long.db "SELECT count(*) FROM epochs")" -ge 1 ]
    check "integrity ok after SIGINT" [ "$(q long.db "PRAGMA integrity_check")" = ok ]
    check "plan shows interrupted" grep -q interrupted <("$SWEEP" plan long.yaml --db long.db)
    sed -i 's/epochs: 500/epochs: 2/' long.yaml   # a new grid point, same database
    "$SWEEP" run long.yaml --db long.db >/dev/null 2>&1
    check "the database goes on being used after SIGINT" [ "$(q long.db "SELECT count(*) FROM runs WHERE status='done'")" = 1 ]
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
