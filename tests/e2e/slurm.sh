#!/usr/bin/env bash
# End to end on a real one-node Slurm cluster stood up on 127.0.0.1 by
# tools/slurm-cluster.sh: `sweep slurm --submit` of a tiny grid, the array
# and the merge job after it, the merged database's rows; Slurm's own array
# ids (3, 5, 7) sharding `sweep run` through its environment; rerunning one
# shard into its database. The daemons are stopped by pid, also on failure.
# Skipped (with "skipped: REASON") only where Slurm cannot be installed.
# Ends with "N passed, M failed".
set -u
. "$(dirname "$0")/lib/common.sh"
CLUSTER=$(cd "$(dirname "$0")/../.." && pwd)/tools/slurm-cluster.sh
skip() {
    echo "skipped: $1"
    echo "0 passed, 0 failed"
    exit 0
}
finish() {
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ]
    exit
}
q() { sqlite3 -batch -noheader "$@"; }

installed=1
for b in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/munged /usr/bin/sbatch; do
    [ -x "$b" ] || installed=0
done
if [ $installed = 0 ]; then
    [ "$(id -u)" = 0 ] || skip "Slurm is not installed and we are not root to install it"
    command -v apt-get >/dev/null || skip "Slurm is not installed and there is no apt-get"
fi
[ "$(id -u)" = 0 ] || skip "the Slurm daemons need root"
command -v sqlite3 >/dev/null || { echo "not ok the sqlite3 shell is needed"; fail=1; finish; }

T=$(mktemp -d "${TMPDIR:-/tmp}/sweep-slurm.XXXXXX")
chmod 755 "$T"
trap 'bash "$CLUSTER" stop "$T/cluster" >/dev/null 2>&1; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
cd "$T" || exit 1

# ---- the cluster
bash "$CLUSTER" start "$T/cluster" >start.out 2>start.err
rc=$?
[ $rc -eq 77 ] && skip "$(tail -n 1 start.err)"
check "one-node cluster starts" [ $rc -eq 0 ]
if [ $rc -ne 0 ]; then
    cat start.err
    tail -n 20 "$T"/cluster/*.log 2>/dev/null
    finish
fi
export SLURM_CONF=$T/cluster/slurm.conf
check "the node is idle" [ "$(sinfo -h -N -o %t)" = idle ]
daemons=$(awk '{print $2}' "$T/cluster/daemons.pids")

# ---- a tiny grid: 4 runs of 1 epoch on a few hundred synthetic images
mkdir data && "$SYNTH" data 400 100 >/dev/null || { echo "not ok cannot make data"; fail=$((fail + 1)); finish; }
cat >tiny.yaml <<YAML
name: tiny
data: {dir: $T/data, validation_split: 0.2, train_limit: 200}
train: {batch_size: 50}
grid:
  activation: [relu, elu]
  epochs: 1
  seed: [1, 2]
YAML

job_states() { scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
wait_job() {  # wait_job ID SECONDS: until every record of job ID has ended
    local i states
    for ((i = 0; i < $2 * 5; i++)); do
        states=$(job_states "$1")
        if [ -n "$states" ] &&
            ! grep -qE 'PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED|REQUEUED' <<<"$states"; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# ---- the scripts, without submitting
"$SWEEP" slurm tiny.yaml --array 2 --db results/merged.db >print.out 2>print.err
check "slurm without --submit exits 0" [ $? -eq 0 ]
check "prints the array line" grep -qx '#SBATCH --array=0-1' print.out
check "prints the merge command" grep -q 'exec "$sweep" merge "$db"' print.out
check "writes both scripts next to the database" [ -x results/tiny-array.sbatch -a -x results/tiny-merge.sbatch ]
check "the scripts are valid bash" bash -n results/tiny-array.sbatch
echo "name: [unclosed" >bad.yaml
"$SWEEP" slurm bad.yaml --array 2 --db bad/merged.db >/dev/null 2>bad.err
check "a bad config exits 2" [ $? -eq 2 ]
check "a bad config writes no script" [ ! -e bad ]
"$SWEEP" slurm tiny.yaml --array 2 --sbatch-arg=--array=0-5 >/dev/null 2>&1
check "--sbatch-arg cannot set the array" [ $? -eq 2 ]

# ---- submit: array of 2 shards, then the merge job
start=$(date +%s)
"$SWEEP" slurm tiny.yaml --array 2 --max-parallel 2 --cpus-per-task 1 \
    --sbatch-arg=--time=10:00 --db results/merged.db --submit >submit.out 2>submit.err
check "slurm --submit exits 0" [ $? -eq 0 ]
array=$(sed -n 's/^array job \([0-9]*\):.*/\1/p' submit.out)
merge=$(sed -n 's/^merge job \([0-9]*\):.*/\1/p' submit.out)
check "prints the array job id" [ -n "$array" ]
check "prints the merge job id" [ -n "$merge" ]
wait_job "$merge" 90
check "the merge job ends within 90 s" [ $? -eq 0 ]
check "the merge job completed" [ "$(job_states "$merge")" = COMPLETED ]
check "both array tasks completed" [ "$(job_states "$array" | grep -c '^COMPLETED$')" = 2 ]
times() { scontrol show job "$1" 2>/dev/null | grep -o "$2=[0-9T:-]*" | cut -d= -f2 | sort | sed -n "$3"; }
merge_after_array() {
    local started ended
    started=$(times "$merge" StartTime 1p)
    ended=$(times "$array" EndTime '$p')
    [ -n "$started" ] && [ -n "$ended" ] && [[ ! "$started" < "$ended" ]]
}
check "the merge started after the array ended" merge_after_array
echo "# submit to merged: $(($(date +%s) - start)) s"

M=results/merged.db
check "merged: 4 runs done" [ "$(q $M "SELECT count(*) FROM runs WHERE status = 'done'")" = 4 ]
check "merged: 4 runs in all" [ "$(q $M "SELECT count(*) FROM runs")" = 4 ]
check "merged: one epoch row per run" [ "$(q $M "SELECT count(*) FROM epochs")" = 4 ]
check "merged: epochs belong to their runs" [ "$(q $M "SELECT count(DISTINCT run_id) FROM epochs JOIN runs USING (run_id) WHERE epoch = 1 AND val_accuracy BETWEEN 0 AND 1")" = 4 ]
check "merged: test scores" [ "$(q $M "SELECT count(*) FROM runs WHERE test_accuracy BETWEEN 0 AND 1 AND test_loss > 0")" = 4 ]
check "merged: summary, 2 settings of 2 seeds" [ "$(q $M "SELECT count(*) || ' ' || min(n) || ' ' || max(n) FROM summary")" = "2 2 2" ]
check "merged: one sweep with its config" [ "$(q $M "SELECT count(*) FROM sweeps WHERE name = 'tiny' AND config_text LIKE '%seed: [1, 2]%'")" = 1 ]
s0=results/tiny-$array-shard0of2.db s1=results/tiny-$array-shard1of2.db
check "one database per shard" [ -f "$s0" -a -f "$s1" ]
n0=$(q "$s0" "SELECT count(*) FROM runs WHERE status = 'done'" 2>/dev/null)
n1=$(q "$s1" "SELECT count(*) FROM runs WHERE status = 'done'" 2>/dev/null)
check "the shards split the 4 runs" [ "$((n0 + n1))" = 4 -a "$n0" -ge 1 -a "$n1" -ge 1 ]
check "the same rows in the shards and the merge" [ "$(q "$s0" "SELECT run_key, test_loss FROM runs" ; q "$s1" "SELECT run_key, test_loss FROM runs")" = "$(q $M "SELECT run_key, test_loss FROM runs ORDER BY run_id")" ]
check "task output says its shard" grep -q "shard 1 of 2" "logs/tiny-${array}_1.out"
check "merge output reports the runs" grep -q "^tiny: merged 4 runs from 2 inputs" "logs/tiny-merge-$merge.out"
check "merge output: all done" grep -q "^tiny: 4 of 4 runs done; missing 0" "logs/tiny-merge-$merge.out"
check "status reads the merged database" bash -c "'$SWEEP' status --db $M | grep -Eq '^tiny +4 +4 '"

# ---- rerun shard 1 of that array into its database: nothing left to do
sbatch --wait --parsable --array=1 --export=ALL,SWEEP_SHARD_JOB=$array \
    results/tiny-array.sbatch >rerun.out 2>rerun.err
check "a rerun of shard 1 succeeds" [ $? -eq 0 ]
rerun=$(cut -d';' -f1 rerun.out)
check "the rerun resumes the shard's database" grep -q "database .*tiny-$array-shard1of2.db" "logs/tiny-${rerun}_1.out"
check "the rerun trains nothing" grep -q "nothing to train" "logs/tiny-${rerun}_1.out"

# ---- Slurm's environment alone shards `sweep run`: ids 3, 5, 7 of 3
sbatch --wait --parsable --array=3-7:2 --cpus-per-task=1 --output="$T/logs/env-%A_%a.out" \
    --wrap "'$SWEEP' run '$T/tiny.yaml'" >env.out 2>env.err
check "an array of ids 3,5,7 succeeds" [ $? -eq 0 ]
env_job=$(cut -d';' -f1 env.out)
for i in 0 1 2; do
    check "task $i has its own default database" [ -f "results/tiny-$env_job-shard${i}of3.db" ]
done
keys=$(for i in 0 1 2; do q "results/tiny-$env_job-shard${i}of3.db" "SELECT run_key FROM runs WHERE status = 'done'"; done | sort)
check "the 3 shards hold the 4 runs once each" [ "$keys" = "$(q $M "SELECT run_key FROM runs" | sort)" ]
check "task of id 5 is shard 1 of 3" grep -q "shard 1 of 3 (from SLURM_ARRAY_TASK_ID)" "logs/env-${env_job}_5.out"
check "threads from SLURM_CPUS_PER_TASK" grep -q "1 job x 1 thread" "logs/env-${env_job}_3.out"

# ---- merging those into the merged database adds nothing: the same bits
"$SWEEP" merge $M results/tiny-$env_job-shard*of3.db >remerge.out 2>remerge.err
check "merge of a second sharding exits 0" [ $? -eq 0 ]
check "it merges nothing new" grep -q "^tiny: merged 0 runs from 3 inputs (0 new, 0 better.*), 4 unchanged" remerge.out
check "the runs are bit-identical across shardings" [ ! -s remerge.err ]

# ---- a diverged run: its task still succeeds and the merge reports it;
# a task that cannot run (no data): the merge job is cancelled
cat >div.yaml <<YAML
name: div
data: {dir: $T/data, train_limit: 100}
train: {batch_size: 50, optimizer: sgd}
grid:
  learning_rate: [0.01, 1.0e12]
  epochs: 1
YAML
sed "s|dir: $T/data|dir: $T/no-data|; s/name: div/name: nodata/" div.yaml >nodata.yaml
"$SWEEP" slurm div.yaml --array 2 --cpus-per-task 1 --db results/div.db --submit >div.out 2>&1
div_merge=$(sed -n 's/^merge job \([0-9]*\):.*/\1/p' div.out)
"$SWEEP" slurm nodata.yaml --array 2 --cpus-per-task 1 --db results/nodata.db --submit >nodata.out 2>&1
nodata_merge=$(sed -n 's/^merge job \([0-9]*\):.*/\1/p' nodata.out)
wait_job "$div_merge" 60
wait_job "$nodata_merge" 60
check "a diverged run does not stop the merge" [ "$(job_states "$div_merge")" = COMPLETED ]
check "the merge reports it" grep -q "^div: 1 of 2 runs done; .*diverged 1" "logs/div-merge-$div_merge.out"
check "a failed task cancels the merge" [ "$(job_states "$nodata_merge")" = CANCELLED ]
check "and no merged database is made" [ ! -e results/nodata.db ]

# ---- stop: every daemon gone
bash "$CLUSTER" stop "$T/cluster"
check "the cluster stops" [ $? -eq 0 ]
alive=0
for pid in $daemons; do
    if [ -e "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
        alive=1
    fi
done
check "no daemon is left running" [ $alive = 0 ]
finish
