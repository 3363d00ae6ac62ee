#!/usr/bin/env bash
# Batch norm, same padding, optimizers and schedules end to end on small
# synthetic data: a run with all of them is bit-identical at 1 and 2
# threads and after kill -9 and resume; every optimizer with every schedule
# trains a 4-block same-padded model; the settings are columns of runs; bad
# values are refused with their place; a database made before these
# settings keeps its runs. Ends with "N passed, M failed".
set -u
. "$(dirname "$0")/lib/common.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep-bn.XXXXXX")
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
cd "$T" || exit 1
if ! command -v sqlite3 >/dev/null; then
    echo "skipped: the sqlite3 shell is not installed"
    echo "0 passed, 0 failed"
    exit 0
fi
q() { sqlite3 -batch -noheader "$@"; }
dump='SELECT r.run_key, e.epoch, printf("%!.17g %!.17g %!.17g %!.17g", e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy), printf("%!.17g %!.17g", r.test_loss, r.test_accuracy) FROM epochs e JOIN runs r USING(run_id) ORDER BY 1, 2'

mkdir data && "$SYNTH" data 600 100 >/dev/null || { echo "cannot make data"; echo "0 passed, 1 failed"; exit 1; }

# ---- batch norm + AdamW + cosine + same padding: bits at 1 and 2 threads, after kill -9
cat > bn.yaml <<YAML
name: bn
data: {dir: $T/data, train_limit: 400}
train:
  batch_size: 20
  optimizer: adamw
  weight_decay: 0.01
  lr_schedule: {kind: cosine}
model: {conv: [8, 16, 16, 16], dense: [32], padding: same}
grid:
  activation: elu
  batchnorm: true
  epochs: 4
  seed: 3
YAML
"$SWEEP" run bn.yaml --db t1.db --jobs 1 --threads 1 >/dev/null 2>t1.err
check "bn run at 1 thread exits 0" [ $? -eq 0 ]
ref=$(q t1.db "$dump")
check "4 epochs recorded" [ "$(q t1.db 'SELECT count(*) FROM epochs')" = 4 ]
check "the settings are columns of runs" [ "$(q t1.db "SELECT optimizer, batchnorm, weight_decay, lr_schedule, model FROM runs")" = "adamw|1|0.01|cosine|conv=8-16-16-16;dense=32;padding=same" ]
"$SWEEP" run bn.yaml --db t2.db --jobs 1 --threads 2 >/dev/null 2>&1
check "bit-identical at 2 threads" [ "$(q t2.db "$dump")" = "$ref" ]

wait_epochs() {  # DB N: until the database holds N epoch rows (at most ~120 s)
    for _ in $(seq 1 1200); do
        [ "$(q "$1" 'SELECT count(*) FROM epochs' 2>/dev/null || echo 0)" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
# killed after its first epoch (again from scratch if the kill came too late)
for _ in 1 2 3 4 5; do
    rm -rf k.db k.db-*
    "$SWEEP" run bn.yaml --db k.db --jobs 1 --threads 2 >/dev/null 2>&1 &
    pid=$!
    wait_epochs k.db 1
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    [ "$(q k.db 'SELECT count(*) FROM epochs')" -lt 4 ] && break
done
check "killed mid-run, leaving a checkpoint" [ -n "$(ls k.db-checkpoints 2>/dev/null)" ]
"$SWEEP" run bn.yaml --db k.db --jobs 1 --threads 1 >/dev/null 2>&1
check "resumed after kill -9 exits 0" [ $? -eq 0 ]
check "bit-identical after kill -9 and resume" [ "$(q k.db "$dump")" = "$ref" ]

# ---- every optimizer with every schedule, a 4-block same-padded model
cat > opt.yaml <<YAML
name: opt
data: {dir: $T/data, train_limit: 200}
train: {batch_size: 25, nesterov: true}
model: {conv: [4, 8, 8, 8], dense: [16], padding: same}
grid:
  optimizer: [adam, adamw, sgd, rmsprop]
  learning_rate: 0.01
  momentum: 0.9
  weight_decay: 0.001
  lr_schedule: [constant, cosine, {kind: step, every: 1, gamma: 0.25}]
  batchnorm: [false, true]
  epochs: 2
  seed: 1
YAML
"$SWEEP" run opt.yaml --db opt.db --threads 1 >/dev/null 2>opt.err
check "every optimizer and schedule trains (exit 0)" [ $? -eq 0 ]
check "24 runs done" [ "$(q opt.db "SELECT count(*), sum(status = 'done') FROM runs")" = "24|24" ]
check "finite losses" [ "$(q opt.db "SELECT count(*) FROM epochs WHERE train_loss IS NULL OR val_loss IS NULL OR NOT (val_loss < 1e30)")" = 0 ]
check "momentum recorded for sgd and rmsprop only" [ "$(q opt.db "SELECT group_concat(DISTINCT optimizer || '=' || momentum) FROM (SELECT * FROM runs ORDER BY optimizer)")" = "adam=0.0,adamw=0.0,rmsprop=0.9,sgd=0.9" ]
check "nesterov for sgd only" [ "$(q opt.db "SELECT group_concat(DISTINCT optimizer) FROM runs WHERE nesterov = 1")" = "sgd" ]
check "schedules recorded" [ "$(q opt.db "SELECT group_concat(DISTINCT lr_schedule) FROM (SELECT * FROM runs ORDER BY lr_schedule)")" = "constant,cosine,step:every=1,gamma=0.25" ]
check "each schedule gives its own second epoch (cosine halves the rate, step quarters it)" [ "$(q opt.db "SELECT count(DISTINCT e.train_loss) FROM epochs e JOIN runs r USING(run_id) WHERE r.optimizer = 'sgd' AND r.batchnorm = 0 AND e.epoch = 2")" = 3 ]
check "the summary keeps settings apart" [ "$(q opt.db "SELECT count(*) FROM summary")" = 24 ]

# ---- sweep train with the flags
"$SWEEP" train --data data --train-limit 200 --epochs 2 --batch-size 25 --batchnorm --padding same \
    --optimizer sgd --momentum 0.9 --nesterov --weight-decay 1e-4 --lr-schedule step:1:0.5 \
    --threads 1 >train.out 2>train.err
check "sweep train with every new flag exits 0" [ $? -eq 0 ]
check "and prints its settings" grep -q "batchnorm=1 padding=same momentum=0.9 nesterov weight_decay=0.0001 lr_schedule=step:every=1,gamma=0.5" train.out
"$SWEEP" train --data data --lr-schedule step:0:0.5 >/dev/null 2>bad.err
check "a bad --lr-schedule exits 2" [ $? -eq 2 ]
"$SWEEP" train --data data --nesterov --optimizer sgd >/dev/null 2>bad.err
check "--nesterov without momentum exits 2" [ $? -eq 2 ]
"$SWEEP" train --data data --padding full >/dev/null 2>bad.err
check "a bad --padding exits 2" [ $? -eq 2 ]

# ---- bad values name their place
printf 'name: x\ndata: {dir: %s}\ntrain:\n  lr_schedule: {kind: step, every: 2, gamma: 2}\n' "$T/data" >bad.yaml
"$SWEEP" run bad.yaml --db bad.db >/dev/null 2>bad.err
check "gamma outside (0, 1] exits 2" [ $? -eq 2 ]
check "naming the place" grep -q "bad.yaml:4:46: gamma must be in (0, 1\], got 2" bad.err
check "and creates no database" [ ! -e bad.db ]
printf 'name: x\ndata: {dir: %s}\nmodel: {padding: sme}\n' "$T/data" >bad.yaml
"$SWEEP" run bad.yaml --db bad.db >/dev/null 2>bad.err
check "a bad padding exits 2 with a suggestion" grep -q "bad.yaml:3:18: padding must be one of valid, same, got 'sme' (did you mean 'same'?)" bad.err

# ---- a database made before these settings keeps its runs
cat > old.yaml <<YAML
name: old
data: {dir: $T/data, train_limit: 100}
train: {batch_size: 50}
grid:
  epochs: 1
YAML
key=$("$SWEEP" plan old.yaml --db none.db | awk 'NR == 2 { print $2 }')
# the version 2 schema as the binary before batch norm wrote it
q v2.db <<SQL
CREATE TABLE sweeps (sweep_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, config_path TEXT,
  config_text TEXT, created_at TEXT NOT NULL);
CREATE TABLE runs (run_id INTEGER PRIMARY KEY,
  sweep_id INTEGER NOT NULL REFERENCES sweeps(sweep_id) ON DELETE CASCADE, run_key TEXT NOT NULL,
  activation TEXT NOT NULL, alpha REAL, init TEXT NOT NULL, dropout REAL NOT NULL,
  epochs INTEGER NOT NULL, seed INTEGER NOT NULL, batch_size INTEGER NOT NULL,
  learning_rate REAL NOT NULL, optimizer TEXT NOT NULL, validation_split REAL, train_limit INTEGER,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed', 'diverged', 'interrupted')),
  started_at TEXT, finished_at TEXT, wall_seconds REAL, threads INTEGER, test_loss REAL,
  test_accuracy REAL, error TEXT, diverged_epoch INTEGER, host TEXT, pid INTEGER, heartbeat_at TEXT,
  model TEXT NOT NULL DEFAULT 'conv=32-64;dense=256', es_monitor TEXT, es_patience INTEGER,
  es_restore_best INTEGER, best_epoch INTEGER, stopped_epoch INTEGER,
  UNIQUE (sweep_id, run_key));
CREATE TABLE epochs (run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  epoch INTEGER NOT NULL CHECK (epoch >= 1), train_loss REAL, train_accuracy REAL, val_loss REAL,
  val_accuracy REAL, seconds REAL, PRIMARY KEY (run_id, epoch));
CREATE TABLE layer_stats (run_id INTEGER NOT NULL, epoch INTEGER NOT NULL CHECK (epoch >= 1),
  layer TEXT NOT NULL, mean_activation REAL, dead_fraction REAL, grad_norm REAL,
  PRIMARY KEY (run_id, epoch, layer),
  FOREIGN KEY (run_id, epoch) REFERENCES epochs(run_id, epoch) ON DELETE CASCADE);
CREATE VIEW summary AS SELECT r.activation, r.model, count(*) AS n FROM runs r GROUP BY 1, 2;
INSERT INTO sweeps VALUES (1, 'old', 'old.yaml', 'name: old', '2025-01-01T00:00:00Z');
INSERT INTO runs (run_id, sweep_id, run_key, activation, alpha, init, dropout, epochs, seed,
  batch_size, learning_rate, optimizer, validation_split, train_limit, status, test_loss,
  test_accuracy) VALUES (1, 1, '$key', 'relu', NULL, 'he', 0.25, 1, 1, 50, 0.001, 'adam', 0.2,
  100, 'done', 0.9, 0.85);
INSERT INTO epochs VALUES (1, 1, 2.0, 0.3, 0.9, 0.85, 0.04);
PRAGMA user_version = 2;
SQL
"$SWEEP" run old.yaml --db v2.db >old.out 2>old.err
check "a database of the previous schema is used" [ $? -eq 0 ]
check "its done run keeps its key and is not trained again" grep -q "nothing to train" old.err
check "old runs get the default settings" [ "$(q v2.db "SELECT batchnorm, momentum, nesterov, weight_decay, lr_schedule, test_accuracy FROM runs")" = "0|0.0|0|0.0|constant|0.85" ]
check "the summary has the new settings" [ "$(q v2.db "SELECT batchnorm || ' ' || lr_schedule || ' ' || n FROM summary")" = "0 constant 1" ]
check "integrity ok" [ "$(q v2.db "PRAGMA integrity_check")" = ok ]

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
