#!/usr/bin/env bash
# Looking inside: layer statistics, early stopping and deeper models, end to
# end on a small synthetic dataset written by build/synth_idx; and the
# upgrade of a version 1 database. Ends with "N passed, M failed".
set -u
. "$(dirname "$0")/lib/common.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep-inside.XXXXXX")
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
cd "$T" || exit 1
if ! command -v sqlite3 >/dev/null; then
    echo "skipped: the sqlite3 shell is not installed"
    echo "0 passed, 0 failed"
    exit 0
fi
q() { sqlite3 -batch -noheader "$@"; }

mkdir data small big && "$SYNTH" data 500 100 >/dev/null && "$SYNTH" small 300 60 12 >/dev/null &&
    "$SYNTH" big 3000 100 >/dev/null ||
    { echo "cannot make data"; echo "0 passed, 1 failed"; exit 1; }

# Two depths, relu and elu, stopped when val_accuracy stops improving.
cat > inside.yaml <<YAML
name: inside
data: {dir: $T/data, train_limit: 300}
train:
  batch_size: 50
  learning_rate: 0.003
  early_stopping: {monitor: val_accuracy, patience: 1, restore_best: true}
grid:
  activation: [relu, elu]
  model:
    - {conv: [8], dense: [32]}
    - {conv: [8, 16], dense: [32]}
  epochs: 8
  seed: 1
YAML

# ---- plan shows the model
"$SWEEP" plan inside.yaml --db none.db >plan.out
check "plan exits 0" [ $? -eq 0 ]
check "plan has a model column" grep -Eq ' model$' <(head -1 plan.out)
check "plan lists both depths" [ "$(grep -c 'conv=8;dense=32$' plan.out) $(grep -c 'conv=8-16;dense=32$' plan.out)" = "2 2" ]

# ---- a sweep with early stopping and a model axis
"$SWEEP" run inside.yaml --db a.db >run.out 2>run.err
check "run exits 0" [ $? -eq 0 ]
check "4 runs done" [ "$(q a.db "SELECT count(*) FROM runs WHERE status = 'done'")" = 4 ]
check "schema version 3" [ "$(q a.db "PRAGMA user_version")" = 3 ]
check "the model column holds both depths" \
    [ "$(q a.db "SELECT group_concat(DISTINCT model) FROM (SELECT model FROM runs ORDER BY run_id)")" = "conv=8;dense=32,conv=8-16;dense=32" ]
check "layer_stats: epochs x activation layers rows per run" \
    [ "$(q a.db "SELECT count(*) FROM runs r WHERE (SELECT count(*) FROM layer_stats l WHERE l.run_id = r.run_id) != (SELECT count(*) FROM epochs e WHERE e.run_id = r.run_id) * CASE r.model WHEN 'conv=8;dense=32' THEN 2 ELSE 3 END")" = 0 ]
check "layer_stats is not empty" [ "$(q a.db "SELECT count(*) > 0 FROM layer_stats")" = 1 ]
check "the deeper model's layers" [ "$(q a.db "SELECT group_concat(layer) FROM (SELECT DISTINCT layer FROM layer_stats l JOIN runs r USING (run_id) WHERE r.model = 'conv=8-16;dense=32' ORDER BY layer)")" = "conv1,conv2,dense1" ]
check "the shallow model's layers" [ "$(q a.db "SELECT group_concat(layer) FROM (SELECT DISTINCT layer FROM layer_stats l JOIN runs r USING (run_id) WHERE r.model = 'conv=8;dense=32' ORDER BY layer)")" = "conv1,dense1" ]
check "statistics in range" [ "$(q a.db "SELECT count(*) FROM layer_stats WHERE NOT (dead_fraction BETWEEN 0 AND 1 AND grad_norm > 0 AND mean_activation IS NOT NULL)")" = 0 ]
check "relu outputs are never negative" [ "$(q a.db "SELECT count(*) FROM layer_stats JOIN runs USING (run_id) WHERE activation = 'relu' AND mean_activation < 0")" = 0 ]
check "early stopping settings recorded" [ "$(q a.db "SELECT DISTINCT es_monitor || ' ' || es_patience || ' ' || es_restore_best FROM runs")" = "val_accuracy 1 1" ]
check "best_epoch and stopped_epoch set" [ "$(q a.db "SELECT count(*) FROM runs WHERE best_epoch >= 1 AND stopped_epoch >= best_epoch")" = 4 ]
check "stopped_epoch is the last epoch recorded" [ "$(q a.db "SELECT count(*) FROM runs r WHERE stopped_epoch = (SELECT max(epoch) FROM epochs e WHERE e.run_id = r.run_id)")" = 4 ]
check "a run stopped early" [ "$(q a.db "SELECT count(*) > 0 FROM runs WHERE stopped_epoch < epochs")" = 1 ]
check "stopped after patience epochs without improvement, or at the end" [ "$(q a.db "SELECT count(*) FROM runs WHERE stopped_epoch = epochs OR stopped_epoch - best_epoch = es_patience")" = 4 ]
check "best_epoch: the first epoch of the highest val_accuracy" [ "$(q a.db "SELECT count(*) FROM runs r WHERE best_epoch = (SELECT min(epoch) FROM epochs e WHERE e.run_id = r.run_id AND e.val_accuracy = (SELECT max(val_accuracy) FROM epochs f WHERE f.run_id = r.run_id))")" = 4 ]
check "summary: one row per activation and model" [ "$(q a.db "SELECT count(*) FROM summary")" = 4 ]
check "summary names the model and early stopping" [ "$(q a.db "SELECT DISTINCT early_stopping FROM summary") $(q a.db "SELECT count(DISTINCT model) FROM summary")" = "val_accuracy;patience=1;restore_best 2" ]
check "the printed summary shows the models" grep -q "conv=8-16;dense=32" run.out

# ---- export
"$SWEEP" export --db a.db --what layer_stats -o layers.csv
check "export layer_stats exits 0" [ $? -eq 0 ]
check "layer_stats.csv header" bash -c "head -1 layers.csv | tr -d '\r' | grep -q 'model,es_monitor,es_patience,es_restore_best,data_format,label,augment,val_limit,test_limit,dataset,batchnorm,momentum,nesterov,weight_decay,lr_schedule,status,epoch,layer,mean_activation,dead_fraction,grad_norm$'"
check "layer_stats.csv: a row per layer_stats row" [ "$(($(wc -l <layers.csv) - 1))" = "$(q a.db "SELECT count(*) FROM layer_stats")" ]
check "runs.csv has best_epoch and stopped_epoch" bash -c "'$SWEEP' export --db a.db --what runs | head -1 | grep -q 'best_epoch,stopped_epoch'"
"$SWEEP" export --db a.db --what layers >/dev/null 2>what.err
check "an unknown --what exits 2 and lists layer_stats" bash -c "[ $? -eq 2 ] && grep -q layer_stats what.err"

# ---- compare splits or pools the model axis
"$SWEEP" compare --db a.db --by activation >cmp1.out 2>cmp1.err
check "compare --by activation pools the models, and says so" grep -q "pooled over model (conv=8;dense=32, conv=8-16;dense=32)" cmp1.err
"$SWEEP" compare --db a.db --by activation,model --csv >cmp2.csv 2>cmp2.err
check "compare --by activation,model: 4 rows, nothing pooled" [ "$(wc -l <cmp2.csv)" = 5 -a ! -s cmp2.err ]
# (in the grid's order, not the text's: "conv=8-16" sorts before "conv=8;")
check "compare --by model: models in the grid's order" [ "$("$SWEEP" compare --db a.db --by model,activation --csv 2>/dev/null | tr -d '\r' | awk -F, 'NR > 1 { printf "%s ", $1 }')" = "conv=8;dense=32 conv=8-16;dense=32 conv=8;dense=32 conv=8-16;dense=32 " ]

# ---- the same bits whatever --jobs and --threads, nothing twice
dump='SELECT r.run_key, l.epoch, l.layer, printf("%!.17g %!.17g %!.17g", l.mean_activation, l.dead_fraction, l.grad_norm) FROM layer_stats l JOIN runs r USING (run_id) ORDER BY 1, 2, 3'
rdump='SELECT run_key, best_epoch, stopped_epoch, printf("%!.17g %!.17g", test_loss, test_accuracy) FROM runs ORDER BY 1'
"$SWEEP" run inside.yaml --db b.db --jobs 1 --threads 2 >/dev/null 2>&1
check "jobs 1 x threads 2 exits 0" [ $? -eq 0 ]
check "layer statistics bit-identical across jobs and threads" [ "$(q a.db "$dump")" = "$(q b.db "$dump")" ]
check "early stopping identical across jobs and threads" [ "$(q a.db "$rdump")" = "$(q b.db "$rdump")" ]
"$SWEEP" run inside.yaml --db a.db >/dev/null 2>again.err
check "running again trains nothing" grep -q "nothing to train" again.err

# ---- merge keeps models, early stopping and layer statistics
"$SWEEP" run inside.yaml --shard 0/2 --db s0.db >/dev/null 2>&1
"$SWEEP" run inside.yaml --shard 1/2 --db s1.db >/dev/null 2>&1
"$SWEEP" merge m.db s0.db s1.db >/dev/null 2>merge.err
check "merge of the shards exits 0" [ $? -eq 0 ]
check "merged layer statistics are the sweep's" [ "$(q m.db "$dump")" = "$(q a.db "$dump")" ]
check "merged runs keep best and stopped epochs" [ "$(q m.db "$rdump")" = "$(q a.db "$rdump")" ]
check "merged runs keep their models" [ "$(q m.db "SELECT group_concat(model || es_monitor, ' ') FROM (SELECT * FROM runs ORDER BY run_key)")" = "$(q a.db "SELECT group_concat(model || es_monitor, ' ') FROM (SELECT * FROM runs ORDER BY run_key)")" ]

# ---- interrupted with early stopping on, resumed: the same bits
# (validation accuracy reaches 1 at once here: it stops after epoch 4)
cat > resume.yaml <<YAML
name: resume
data: {dir: $T/big}
train:
  batch_size: 10
  early_stopping: {monitor: val_accuracy, patience: 3, restore_best: true}
grid:
  model: {conv: [16, 32], dense: [64]}
  epochs: 8
YAML
"$SWEEP" run resume.yaml --db ref.db --jobs 1 --threads 1 >/dev/null 2>&1
check "unbroken run exits 0" [ $? -eq 0 ]
"$SWEEP" run resume.yaml --db int.db --jobs 1 --threads 1 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    [ "$(q int.db "SELECT count(*) FROM epochs" 2>/dev/null || echo 0)" -ge 1 ] && break
    sleep 0.05
done
kill -INT $pid 2>/dev/null
wait $pid
check "SIGINT interrupted the run" [ "$(q int.db "SELECT status FROM runs")" = interrupted ]
"$SWEEP" run resume.yaml --db int.db --jobs 1 --threads 2 >/dev/null 2>&1
check "the resumed run exits 0" [ $? -eq 0 ]
edump='SELECT e.epoch, printf("%!.17g %!.17g", e.train_loss, e.val_loss) FROM epochs e ORDER BY 1'
check "resumed epochs bit-identical" [ "$(q ref.db "$edump")" = "$(q int.db "$edump")" ]
check "resumed layer statistics bit-identical" [ "$(q ref.db "$dump")" = "$(q int.db "$dump")" ]
check "resumed early stopping and test scores bit-identical" [ "$(q ref.db "$rdump")" = "$(q int.db "$rdump")" ]

# ---- bad models: exit 2, file:line:col, no database
cat > deep.yaml <<YAML
name: deep
data: {dir: $T/data}
grid:
  model:
    - {conv: [32, 64]}
    - {conv: [32, 64, 128, 256]}
YAML
"$SWEEP" run deep.yaml --db deep.db >/dev/null 2>deep.err
check "a model too deep for 28x28 exits 2" [ $? -eq 2 ]
check "its error names the place" grep -q "^sweep: error: deep.yaml:6:28: model {conv: \[32, 64, 128, 256\], dense: \[256\]} does not fit 28x28 images" deep.err
check "one line on stderr" [ "$(wc -l <deep.err)" = 1 ]
check "and creates no database" [ ! -e deep.db ]
cat > small.yaml <<YAML
name: small
data: {dir: $T/small}
model:
  conv: [8, 8, 8]
YAML
"$SWEEP" run small.yaml --db small.db >/dev/null 2>small.err
check "a model too deep for the data's 12x12 images exits 2" [ $? -eq 2 ]
check "its error names the place and the data's size" grep -q "^sweep: error: small.yaml:4:16: model {conv: \[8, 8, 8\], dense: \[256\]} does not fit the data's 12x12 images" small.err
check "and creates no database" [ ! -e small.db ]
"$SWEEP" plan small.yaml >/dev/null 2>&1
check "plan refuses it too" [ $? -eq 2 ]
printf 'name: es\ndata: {dir: %s}\ntrain:\n  early_stopping: {monitor: val_acc, patience: 2}\n' "$T/data" >es.yaml
"$SWEEP" run es.yaml --db es.db >/dev/null 2>es.err
check "an unknown monitor exits 2" [ $? -eq 2 ]
check "with a suggestion" grep -q "es.yaml:4:29: monitor must be one of val_loss, val_accuracy, got 'val_acc' (did you mean 'val_accuracy'?)" es.err
check "and creates no database" [ ! -e es.db ]

# ---- a version 1 database is upgraded in place, its runs kept
cat > old.yaml <<YAML
name: old
data: {dir: $T/data, train_limit: 100}
train: {batch_size: 50}
grid:
  epochs: 1
YAML
key=$("$SWEEP" plan old.yaml | awk 'NR == 2 { print $2 }')
q v1.db <<SQL
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
  UNIQUE (sweep_id, run_key));
CREATE TABLE epochs (run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  epoch INTEGER NOT NULL CHECK (epoch >= 1), train_loss REAL, train_accuracy REAL, val_loss REAL,
  val_accuracy REAL, seconds REAL, PRIMARY KEY (run_id, epoch));
CREATE VIEW summary AS SELECT r.activation, count(*) AS n FROM runs r GROUP BY r.activation;
INSERT INTO sweeps VALUES (1, 'old', 'old.yaml', 'name: old', '2025-01-01T00:00:00Z');
INSERT INTO runs VALUES (1, 1, '$key', 'relu', NULL, 'he', 0.25, 1, 1, 50, 0.001, 'adam', 0.2, 100,
  'done', '2025-01-01T00:00:00Z', '2025-01-01T00:00:01Z', 0.5, 2, 0.9, 0.85, NULL, NULL, 'h', 1,
  '2025-01-01T00:00:01Z');
INSERT INTO epochs VALUES (1, 1, 2.0, 0.3, 0.9, 0.85, 0.04);
PRAGMA user_version = 1;
SQL
if [ "$(id -u)" != 0 ]; then   # root writes read-only files
    chmod a-w v1.db
    "$SWEEP" status --db v1.db >/dev/null 2>ro.err
    check "a read-only version 1 database is refused" [ $? -eq 2 ]
    check "saying why" grep -q "schema version 1 must be upgraded to 3, but the file is read-only" ro.err
    check "and left as it was" [ "$(q v1.db "PRAGMA user_version")" = 1 ]
    chmod u+w v1.db
fi
"$SWEEP" run old.yaml --db v1.db >old.out 2>old.err
check "a version 1 database is used" [ $? -eq 0 ]
check "its done run is not trained again" grep -q "nothing to train" old.err
check "upgraded to version 3" [ "$(q v1.db "PRAGMA user_version")" = 3 ]
check "old runs have the default model" [ "$(q v1.db "SELECT model || ' ' || ifnull(es_monitor, '-') || ' ' || ifnull(best_epoch, '-') FROM runs")" = "conv=32-64;dense=256 - -" ]
check "its epochs kept" [ "$(q v1.db "SELECT count(*) FROM epochs")" = 1 ]
check "layer_stats and the new summary" [ "$(q v1.db "SELECT count(*) FROM layer_stats") $(q v1.db "SELECT model || ' ' || n FROM summary")" = "0 conv=32-64;dense=256 1" ]
check "integrity ok" [ "$(q v1.db "PRAGMA integrity_check")" = ok ]

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
