#!/usr/bin/env bash
# A sweep's name is bound to its grid: after the YAML is edited, the earlier
# runs stay, but summary, compare and export use the current grid's runs
# unless --all; every config text is kept; plan lists the runs that left;
# no statistic pools two settings. Also a version 2 database upgrades.
set -u
. "$(dirname "$0")/lib/common.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep-e2e-grid.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
mkdir data && "$SYNTH" data 400 100 >/dev/null || { echo "cannot make data"; echo "0 passed, 1 failed"; exit 1; }
write() {  # write LIMIT
    cat > g.yaml <<YAML
name: g
data: {dir: $T/data, train_limit: $1}
train: {batch_size: 50}
grid: {activation: [relu, elu], epochs: 1, seed: [1, 2]}
YAML
}
write 300
"$SWEEP" run g.yaml --db g.db >/dev/null 2>&1
check "first grid runs" [ $? -eq 0 ]
write 100
"$SWEEP" run g.yaml --db g.db >/dev/null 2>&1
check "edited grid runs" [ $? -eq 0 ]
"$SWEEP" compare --db g.db --by activation --csv >cur.csv 2>cur.err
check "compare: n = 2 per setting, not 4 pooled" [ "$(tr -d '\r' <cur.csv | awk -F, 'NR > 1 { printf "%s ", $3 }')" = "2 2 " ]
check "compare: nothing pooled, no warning" [ ! -s cur.err ]
"$SWEEP" compare --db g.db --by train_limit,activation --all --csv >all.csv 2>/dev/null
check "--all --by train_limit: 4 rows of n = 2" [ "$(tr -d '\r' <all.csv | awk -F, 'NR > 1 { printf "%s/%s/%s ", $1, $2, $4 }')" = "300/relu/2 100/relu/2 300/elu/2 100/elu/2 " ]
"$SWEEP" compare --db g.db --by activation --all --csv >/dev/null 2>pool.err
check "--all pooled over train_limit is warned" grep -q 'pooled over train_limit (300, 100)' pool.err
"$SWEEP" plan g.yaml --db g.db >plan.out 2>&1
check "plan lists the 4 runs that left the grid" grep -q 'g: 4 recorded runs left the grid' plan.out
check "plan names their setting" grep -q 'train_limit=300' plan.out
"$SWEEP" export --db g.db --what summary >sum.csv
"$SWEEP" export --db g.db --what summary --all >sumall.csv
check "export summary: the current grid's 2 rows" [ "$(wc -l <sum.csv)" = 3 ]
check "export summary --all: 4 rows" [ "$(wc -l <sumall.csv)" = 5 ]
if command -v gnuplot >/dev/null; then
    "$SWEEP" plot --db g.db --metric val_loss -o cur.svg >/dev/null 2>&1
    "$SWEEP" plot --db g.db --metric val_loss --all -o all.svg >/dev/null 2>&1
    check "plot: the current grid's lines only" bash -c "grep -q 'relu (n=2)' cur.svg && ! grep -q 'train_limit=300' cur.svg"
    check "plot --all: the earlier grid's lines too" grep -q 'train_limit=300' all.svg
fi
if command -v sqlite3 >/dev/null; then
    check "both config texts kept with their times" [ "$(sqlite3 g.db 'SELECT count(*), count(DISTINCT config_text) FROM sweep_configs')" = "2|2" ]
    check "summary view: train_limit 100 only" [ "$(sqlite3 g.db 'SELECT group_concat(DISTINCT train_limit) FROM summary')" = 100 ]
    check "runs in the grid: 4 of 8" [ "$(sqlite3 g.db 'SELECT sum(in_grid), count(*) FROM runs')" = "4|8" ]
    "$SWEEP" merge m.db g.db >/dev/null 2>&1
    check "merge: exits 0" [ $? -eq 0 ]
    check "merge: the history comes along" [ "$(sqlite3 m.db 'SELECT count(*) FROM sweep_configs')" = 2 ]
    check "merge: the runs that left the grid stay out" [ "$(sqlite3 m.db 'SELECT sum(in_grid), count(*) FROM runs')" = "4|8" ]
    # a version 2 database (the schema before sweep_configs and in_grid)
    sqlite3 v2.db <<'SQL'
CREATE TABLE sweeps (sweep_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, config_path TEXT, config_text TEXT, created_at TEXT NOT NULL);
CREATE TABLE runs (run_id INTEGER PRIMARY KEY, sweep_id INTEGER NOT NULL, run_key TEXT NOT NULL, activation TEXT NOT NULL, alpha REAL, init TEXT NOT NULL, dropout REAL NOT NULL, epochs INTEGER NOT NULL, seed INTEGER NOT NULL, batch_size INTEGER NOT NULL, learning_rate REAL NOT NULL, optimizer TEXT NOT NULL, validation_split REAL, train_limit INTEGER, status TEXT NOT NULL DEFAULT 'pending', started_at TEXT, finished_at TEXT, wall_seconds REAL, threads INTEGER, test_loss REAL, test_accuracy REAL, error TEXT, diverged_epoch INTEGER, host TEXT, pid INTEGER, heartbeat_at TEXT, model TEXT NOT NULL DEFAULT 'conv=32-64;dense=256', es_monitor TEXT, es_patience INTEGER, es_restore_best INTEGER, best_epoch INTEGER, stopped_epoch INTEGER, UNIQUE (sweep_id, run_key));
CREATE TABLE epochs (run_id INTEGER NOT NULL, epoch INTEGER NOT NULL, train_loss REAL, train_accuracy REAL, val_loss REAL, val_accuracy REAL, seconds REAL, PRIMARY KEY (run_id, epoch));
CREATE TABLE layer_stats (run_id INTEGER NOT NULL, epoch INTEGER NOT NULL, layer TEXT NOT NULL, mean_activation REAL, dead_fraction REAL, grad_norm REAL, PRIMARY KEY (run_id, epoch, layer));
CREATE VIEW summary AS SELECT 1 AS n;
INSERT INTO sweeps VALUES (1, 'old', 'old.yaml', 'name: old', '2026-01-01T00:00:00Z');
INSERT INTO runs (sweep_id, run_key, activation, init, dropout, epochs, seed, batch_size, learning_rate, optimizer, status, test_accuracy, test_loss) VALUES (1, 'k1', 'relu', 'he', 0.25, 1, 1, 50, 0.001, 'adam', 'done', 0.5, 1.0), (1, 'k2', 'relu', 'he', 0.25, 1, 2, 50, 0.001, 'adam', 'done', 0.7, 1.0);
PRAGMA user_version = 2;
SQL
    "$SWEEP" run g.yaml --db v2.db >/dev/null 2>&1
    check "a version 2 database upgrades and runs" [ $? -eq 0 ]
    check "upgraded to version 3" [ "$(sqlite3 v2.db 'PRAGMA user_version')" = 3 ]
    check "the old config is the first of its history" [ "$(sqlite3 v2.db "SELECT config_text FROM sweep_configs WHERE sweep_id = 1")" = "name: old" ]
    "$SWEEP" compare --db v2.db --sweep old --by activation --csv >old.csv 2>/dev/null
    check "the old runs still compare (in their grid)" [ "$(tr -d '\r' <old.csv | awk -F, 'NR == 2 { print $3 }')" = 2 ]
    # g.db as version 2 wrote it: both grids' runs mixed under one config
    cp g.db mixed.db
    to_v2 mixed.db
    check "mixed.db is a version 2 file" [ "$(sqlite3 mixed.db 'PRAGMA user_version')" = 2 ]
    "$SWEEP" run g.yaml --db mixed.db >/dev/null 2>&1
    check "an upgraded mixed database: the next run trains nothing" [ $? -eq 0 ]
    "$SWEEP" compare --db mixed.db --by activation --csv >mixed.csv 2>mixed.err
    check "an upgraded mixed database: n = 2, the current grid's" [ "$(tr -d '\r' <mixed.csv | awk -F, 'NR > 1 { printf "%s ", $3 }')" = "2 2 " ]
    check "an upgraded mixed database: one history entry, no duplicate" [ "$(sqlite3 mixed.db 'SELECT count(*), sum(from_upgrade) FROM sweep_configs')" = "1|0" ]
    check "an upgraded mixed database: the grid's runs get their dataset, the others stay unknown" \
        [ "$(sqlite3 mixed.db 'SELECT in_grid, count(dataset), count(*) FROM runs GROUP BY 1' | paste -sd' ')" = "0|0|4 1|4|4" ]
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
