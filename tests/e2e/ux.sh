#!/usr/bin/env bash
# What a new user meets: the resume hint, --dry-run and plan, stale rows,
# --jobs/--threads, a closed pipe, diverged runs and --retry, the checkpoint
# folder, sweep delete and its triggers, progress on a narrow terminal
# (tmux), one error prefix, sweep train's flags and img/s. One section per
# item of the issue. Ends with "N passed, M failed".
set -u
. "$(dirname "$0")/lib/common.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep-e2e-ux.XXXXXX")
TMUX_SESSION=sweep-ux-$$
trap 'tmux kill-session -t "$TMUX_SESSION" 2>/dev/null; rm -rf "$T"' EXIT
cd "$T" || exit 1
q() { sqlite3 -batch -noheader "$@"; }
if ! command -v sqlite3 >/dev/null; then
    echo "skipped: sqlite3 is not installed"
    echo "0 passed, 0 failed"
    exit 0
fi
mkdir data && "$SYNTH" data 2000 200 >/dev/null || { echo "cannot make data"; echo "0 passed, 1 failed"; exit 1; }

grid() {  # grid NAME EPOCHS TRAIN_LIMIT [EXTRA TRAIN LINES]: a 4-run grid
    cat <<YAML
name: $1
data:
  dir: $T/data
  train_limit: $3
train:
  batch_size: 50
${4:-}
grid:
  activation: [relu, elu]
  epochs: $2
  seed: [1, 2]
YAML
}
grid tiny 2 200 >tiny.yaml
grid long 40 400 >long.yaml
# (an epoch of tm trains long enough, 32 batches, that the live status is
# redrawn, every 0.2 s, while its batches run: 12 batches were over in 0.1 s)
grid tm 3 1600 >tm.yaml
grid div 2 200 "  optimizer: sgd
  learning_rate: 1.0e30" >div.yaml
# wait_epoch DB: until the database holds an epoch row (at most 30 s)
wait_epoch() {
    for _ in $(seq 300); do
        [ "$(q "$1" 'SELECT count(*) FROM epochs' 2>/dev/null)" -ge 1 ] 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# ---- 1. the resume hint works as printed, with --db quoted for the shell
mkdir "d x"
db1="d x/it's.db"
"$SWEEP" run long.yaml --db "$db1" >/dev/null 2>int.err &
pid=$!
wait_epoch "$db1"
kill -INT $pid
wait $pid
check "1: SIGINT exits 130" [ $? -eq 130 ]
hint=$(sed -n 's/.*To resume: //p' int.err)
check "1: the hint names the database, quoted (got: $hint)" \
    [ "$hint" = "$SWEEP run long.yaml --db 'd x/it'\\''s.db'" ]
check "1: runs in progress are interrupted" \
    [ "$(q "$db1" "SELECT count(*) FROM runs WHERE status = 'interrupted'")" -ge 1 ]
eval "timeout 300 $hint" >/dev/null 2>resume.err
check "1: the hint, run as printed, finishes the sweep" [ $? -eq 0 ]
check "1: in that database" [ "$(q "$db1" "SELECT count(*) FROM runs WHERE status = 'done'")" = 4 ]
check "1: and no other" [ ! -e results ]
"$SWEEP" run long.yaml >/dev/null 2>int2.err &
pid=$!
wait_epoch results/sweep.db
kill -INT $pid
wait $pid
check "1: with the default database the hint has no --db" \
    [ "$(sed -n 's/.*To resume: //p' int2.err)" = "$SWEEP run long.yaml" ]

# ---- 2. --dry-run reads the database (read-only) and agrees with plan
"$SWEEP" run tiny.yaml --db two.db >/dev/null 2>&1
sum_before=$(md5sum two.db)
"$SWEEP" run tiny.yaml --db two.db --dry-run >dry.out 2>dry.err
check "2: dry-run exits 0" [ $? -eq 0 ]
check "2: dry-run sees the done runs" [ "$(grep -c ' done ' dry.out)" = 4 ]
check "2: dry-run says nothing would train" grep -q "nothing would train" dry.out
"$SWEEP" plan tiny.yaml --db two.db >plan.out
check "2: dry-run's table and counts are plan's" \
    [ "$(grep -v '^dry run' dry.out)" = "$(cat plan.out)" ]
check "2: the database is unchanged" [ "$(md5sum two.db)" = "$sum_before" ]
"$SWEEP" run tiny.yaml --db none.db --dry-run >dry2.out
check "2: dry-run on no database: all new, none made" \
    bash -c "grep -q '4 new' dry2.out && grep -q 'would train 4' dry2.out && [ ! -e none.db ]"

# ---- 3. plan counts stale rows as stale
cp two.db stale.db
q stale.db "UPDATE runs SET status = 'running', host = '$(hostname)', pid = 999999,
            heartbeat_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE run_id = 1"
"$SWEEP" plan tiny.yaml --db stale.db >stale.out
check "3: the row says stale" [ "$(grep -c '^ *1  [0-9a-f]*  stale ' stale.out)" = 1 ]
check "3: the footer counts it as stale, not running" \
    bash -c "tail -1 stale.out | grep -q '3 done, 1 stale' && ! tail -1 stale.out | grep -Eq '[0-9] running'"
check "3: and that run would train" grep -q "sweep run trains 1" stale.out

# ---- 4. --jobs/--threads: 0 and negatives are usage errors; oversubscription warns
for a in "--jobs 0" "--threads 0" "--jobs -2" "--threads=-1"; do
    "$SWEEP" run tiny.yaml --db j.db $a >/dev/null 2>j.err
    check "4: run $a exits 2" [ $? -eq 2 ]
    check "4: run $a says so in one line" \
        bash -c "[ \$(wc -l <j.err) = 1 ] && grep -q 'needs a positive integer' j.err"
done
check "4: train --threads 0 exits 2" bash -c "'$SWEEP' train --threads 0 2>/dev/null; [ \$? -eq 2 ]"
"$SWEEP" run tiny.yaml --db none.db --dry-run --jobs 2 --threads 1024 >/dev/null 2>w.err
check "4: more threads than cores: one warning line" \
    bash -c "[ \$(grep -c 'warning: 2 jobs x 1024 threads = 2048 threads on' w.err) = 1 ]"
"$SWEEP" run tiny.yaml --db none.db --dry-run --jobs 1 --threads 1 >/dev/null 2>w2.err
check "4: no warning within the cores" [ -z "$(grep -v '^sweep: data:' w2.err)" ]

# ---- 5. a closed pipe is handled like SIGINT
"$SWEEP" run long.yaml --db pipe.db 2>&1 | head -2 >/dev/null
check "5: run | head exits 130" [ "${PIPESTATUS[0]}" -eq 130 ]
check "5: no run left running" [ "$(q pipe.db "SELECT count(*) FROM runs WHERE status = 'running'")" = 0 ]
check "5: the runs in progress are interrupted" \
    [ "$(q pipe.db "SELECT count(*) FROM runs WHERE status = 'interrupted'")" -ge 1 ]

# ---- 6. a diverged run is a result; --retry trains it again
"$SWEEP" run div.yaml --db div.db >/dev/null 2>div1.err
check "6: a diverged run exits 1" [ $? -eq 1 ]
check "6: diverged with its epoch" \
    [ "$(q div.db "SELECT count(*) FROM runs WHERE status = 'diverged' AND diverged_epoch = 1")" = 2 ]
before=$(q div.db "SELECT group_concat(started_at || run_id) FROM runs")
"$SWEEP" run div.yaml --db div.db >/dev/null 2>div2.err
check "6: the re-run exits 0" [ $? -eq 0 ]
check "6: and trains nothing" grep -q "nothing to train (diverged runs are results: --retry diverged" div2.err
check "6: no run was touched" [ "$(q div.db "SELECT group_concat(started_at || run_id) FROM runs")" = "$before" ]
check "6: --retry diverged,failed would train them" \
    bash -c "'$SWEEP' run div.yaml --db div.db --retry diverged,failed --dry-run | grep -q 'would train 2 runs'"
"$SWEEP" run div.yaml --db div.db --retry nope >/dev/null 2>retry.err
check "6: --retry nope exits 2" [ $? -eq 2 ]
check "6: naming the choices" grep -q "must be failed, diverged or none, got 'nope'" retry.err
sleep 1.1   # started_at has whole seconds
"$SWEEP" run div.yaml --db div.db --retry diverged >/dev/null 2>&1
check "6: --retry diverged trains them again (exit 1)" [ $? -eq 1 ]
check "6: they were trained again" \
    [ "$(q div.db "SELECT group_concat(started_at || run_id) FROM runs")" != "$before" ]
check "6: --help says diverged is not retried by default" \
    bash -c "'$SWEEP' run --help | grep -q 'Done and diverged runs are results'"

# ---- 7. no empty checkpoint folder once nothing is in progress
check "7: none after a finished run" [ ! -e two.db-checkpoints ]
check "7: none after the resumed one" [ ! -e "$db1-checkpoints" ]
check "7: kept while a run is interrupted (its checkpoint)" \
    bash -c "ls pipe.db-checkpoints/*.ckpt >/dev/null 2>&1"
"$SWEEP" run long.yaml --db pipe.db --retry none >/dev/null 2>&1 &
pid=$!
sleep 1; kill -INT $pid; wait $pid
"$SWEEP" delete long --db pipe.db --yes >/dev/null 2>&1
check "7: gone with the sweep's checkpoints" [ ! -e pipe.db-checkpoints ]

# ---- 8. sweep delete, and triggers for a plain DELETE
"$SWEEP" run tiny.yaml --db del.db >/dev/null 2>&1
"$SWEEP" run div.yaml --db del.db >/dev/null 2>&1
counts() { q del.db "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM epochs), (SELECT count(*) FROM layer_stats)"; }
c0=$(counts)
"$SWEEP" delete tiny --db del.db </dev/null >del1.out 2>del1.err
check "8: without --yes and no terminal: exit 2" [ $? -eq 2 ]
check "8: it printed what it would remove" grep -q "will remove sweep 'tiny' in del.db: 4 runs (4 done), 8 epochs" del1.out
check "8: and removed nothing" [ "$(counts)" = "$c0" ]
"$SWEEP" delete nope --db del.db --yes 2>del2.err
check "8: an unknown sweep lists the sweeps" grep -q "no sweep 'nope' in del.db (sweeps: div, tiny)" del2.err
"$SWEEP" delete tiny --db del.db --yes >del3.out
check "8: --yes removes it" [ $? -eq 0 ]
check "8: its runs, epochs and layer stats are gone" \
    [ "$(q del.db "SELECT count(*) FROM runs r JOIN sweeps s USING (sweep_id) WHERE s.name = 'tiny'")" = 0 ]
check "8: no orphans" [ "$(q del.db "SELECT (SELECT count(*) FROM epochs WHERE run_id NOT IN (SELECT run_id FROM runs)) + (SELECT count(*) FROM layer_stats WHERE run_id NOT IN (SELECT run_id FROM runs))")" = 0 ]
check "8: the other sweep stays" [ "$(q del.db "SELECT count(*) FROM runs")" = 4 ]
check "8: the schema has the triggers" [ "$(q del.db "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")" -ge 3 ]
q del.db "PRAGMA foreign_keys" >fk.txt
check "8: the sqlite3 shell has foreign keys off" [ "$(cat fk.txt)" = 0 ]
q del.db "DELETE FROM sweeps WHERE name = 'div'"
check "8: a plain DELETE FROM sweeps leaves no run, epoch or layer stat" [ "$(counts)" = "0|0|0" ]
"$SWEEP" run tiny.yaml --db del.db >/dev/null 2>&1
tmux kill-session -t "$TMUX_SESSION" 2>/dev/null
tmux new-session -d -s "$TMUX_SESSION" -x 100 -y 20 \
    "cd '$T' && '$SWEEP' delete tiny --db del.db >tty.out 2>&1; echo rc=\$? >>tty.out; sleep 30"
for _ in $(seq 50); do grep -q 'will remove' tty.out 2>/dev/null && break; sleep 0.1; done
sleep 0.3
tmux send-keys -t "$TMUX_SESSION" n Enter
for _ in $(seq 50); do grep -q 'rc=' tty.out 2>/dev/null && break; sleep 0.1; done
check "8: on a terminal it asks, and 'n' removes nothing" \
    bash -c "grep -q 'nothing removed' tty.out && grep -q 'rc=0' tty.out && [ \$(sqlite3 del.db 'SELECT count(*) FROM runs') = 4 ]"
tmux kill-session -t "$TMUX_SESSION" 2>/dev/null

# ---- 9. progress on a 60-column terminal: cut, not wrapped into piles
tmux new-session -d -s "$TMUX_SESSION" -x 60 -y 30 \
    "cd '$T' && '$SWEEP' run tm.yaml --db tm.db --jobs 2 >tm.out; echo rc=\$? >tm.rc; sleep 60"
: >screens.txt
for _ in $(seq 600); do
    tmux capture-pane -p -t "$TMUX_SESSION" >>screens.txt 2>/dev/null
    [ -s tm.rc ] && break
    sleep 0.1
done
tmux capture-pane -p -S - -t "$TMUX_SESSION" >history.txt
tmux capture-pane -p -J -S - -t "$TMUX_SESSION" >joined.txt   # wrapped lines joined
tmux kill-session -t "$TMUX_SESSION" 2>/dev/null
check "9: the sweep ran in the pane" grep -q "rc=0" tm.rc
check "9: no line shows more than twice in the pane's history" \
    [ "$(sed '/^$/d' history.txt | sort | uniq -c | awk '$1 > 2' | wc -l)" = 0 ]
check "9: no batch 0/0" bash -c "! grep -q 'batch 0/0' screens.txt"
check "9: the live status was drawn" grep -q "^  \[1\] epoch .* batch [1-9]" screens.txt
check "9: the sweep's ETA is shown" grep -q "^tm: [0-9] of 4 runs finished, ETA [0-9]" screens.txt
check "9: each finished epoch leaves one line with its val metrics" \
    [ "$(grep -c '^\[[12]\] epoch [1-3]/3  loss .* val_loss' history.txt)" = 12 ]
check "9: status and epoch lines are cut to 59 columns, not wrapped" \
    [ "$(grep -E '^(  \[[0-9]\]|\[[0-9]\] epoch|tm: [0-9] of)' joined.txt | awk 'length > 59' | wc -l)" = 0 ]

# ---- 10. messages: one prefix, reasons, names; one summary format
: >errs.txt
"$SWEEP" export --db del.db --what nope 2>>errs.txt
"$SWEEP" export --db del.db --sweep nope 2>>errs.txt
"$SWEEP" compare --db del.db --by nope 2>>errs.txt
"$SWEEP" plot --db del.db --metric nope -o x.svg 2>>errs.txt
"$SWEEP" run tiny.yaml --jobs x 2>>errs.txt
"$SWEEP" plan 2>>errs.txt
"$SWEEP" train --activation nope 2>>errs.txt
"$SWEEP" merge 2>>errs.txt
check "10: the errors were collected" [ "$(wc -l <errs.txt)" -ge 8 ]
check "10: every error has one prefix" \
    bash -c "! grep -v '^sweep: error: ' errs.txt && ! grep -E '^sweep: error: (sweep|error)' errs.txt"
check "10: a mistyped flag gets a suggestion" \
    bash -c "'$SWEEP' run tiny.yaml --jbos 2 2>&1 | grep -q \"unknown option '--jbos' (did you mean --jobs? see sweep run --help)\""
"$SWEEP" export --db del.db >/dev/full 2>full.err
check "10: a failed write says why" grep -q "No space left on device" full.err
"$SWEEP" export --db del.db --sweep nope 2>uk.err
check "10: an unknown sweep lists the valid ones" grep -q "no sweep .nope. in del.db (sweeps: tiny)" uk.err
"$SWEEP" run tiny.yaml --db del.db 2>/dev/null >sum.out
check "10: the summary folds shared settings" grep -q "^sweep=tiny  init=he" sum.out
check "10: and shows no NULL" bash -c "! grep -q NULL sum.out"
check "10: the measures stay columns" grep -q "^activation  alpha  n  mean_test_accuracy" sum.out

# ---- 11. sweep train: img/s over training time, the grid's epochs, every setting as a flag
printf 'name: e\ndata: {dir: %s/data}\n' "$T" >e.yaml
grid_epochs=$("$SWEEP" plan e.yaml --db none.db | awk 'NR == 2 { print $8 }')
check "11: train's default epochs are the grid's ($grid_epochs)" \
    bash -c "'$SWEEP' train --help | grep -q -- '--epochs N .*(default $grid_epochs,'"
"$SWEEP" train --data data --train-limit 1000 --validation-split 0.5 --epochs 1 --batch-size 100 \
    --conv 16 --dense none --early-stopping val_loss --patience 1 --restore-best --threads 1 >train.out
check "11: train with the model and early-stopping flags exits 0" [ $? -eq 0 ]
check "11: the model flags reach the model" grep -q "conv=16;dense=none; train 1000" train.out
check "11: early stopping reports" grep -q "early stopping: best epoch 1" train.out
# img/s counts training alone: above train images / epoch seconds (which include validation)
check "11: img/s counts training time only" \
    awk '/^epoch 1 / { for (i = 1; i <= NF; i++) { if ($i == "img/s") r = $(i - 1); if ($i ~ /s$/ && $i + 0 > 0 && !s) s = $i + 0 } }
         END { exit !(r > 1.05 * 1000 / s) }' train.out
check "11: --patience without --early-stopping exits 2" \
    bash -c "'$SWEEP' train --patience 2 2>/dev/null; [ \$? -eq 2 ]"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
