#!/usr/bin/env bash
# End to end, without Slurm: shards from --shard and from Slurm's variables
# (set by hand), their default databases, `sweep merge` (union, idempotence,
# refusals that leave OUT as it was) and `sweep slurm` printing its scripts.
# tests/e2e/slurm.sh does the same on a real cluster. Ends with
# "N passed, M failed".
set -u
. "$(dirname "$0")/lib/common.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep-merge.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
q() { sqlite3 -batch -noheader "$@"; }
have_sqlite3=1
command -v sqlite3 >/dev/null || have_sqlite3=0
# Slurm's variables from the environment this test runs in must not shard it.
unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_JOB_ID SLURM_JOB_ID SLURM_PROCID SLURM_STEP_ID \
    SLURM_NTASKS SLURM_CPUS_PER_TASK SLURM_CPUS_ON_NODE

mkdir data && "$SYNTH" data 400 100 >/dev/null || { echo "cannot make data"; echo "0 passed, 1 failed"; exit 1; }
cat >tiny.yaml <<YAML
name: tiny
data: {dir: $T/data, train_limit: 200}
train: {batch_size: 50}
grid:
  activation: [relu, elu]
  epochs: 1
  seed: [1, 2]
YAML

# ---- two shards by hand, each in its default database
"$SWEEP" run tiny.yaml --shard 0/2 >/dev/null 2>s0.err
check "shard 0/2 exits 0" [ $? -eq 0 ]
"$SWEEP" run tiny.yaml --shard 1/2 >/dev/null 2>s1.err
check "shard 1/2 exits 0" [ $? -eq 0 ]
check "shard 0 has its default database" [ -f results/tiny-local-shard0of2.db ]
check "shard 1 has its default database" [ -f results/tiny-local-shard1of2.db ]
check "no shared database for shards" [ ! -e results/sweep.db ]
check "the run says which shard" grep -q "shard 1 of 2 (from --shard)" s1.err

# ---- merge: the union, then nothing more
"$SWEEP" merge all.db results/tiny-local-shard0of2.db results/tiny-local-shard1of2.db >m1.out 2>m1.err
check "merge exits 0" [ $? -eq 0 ]
check "merge reports 4 new runs" grep -q "^tiny: merged 4 runs from 2 inputs (4 new," m1.out
check "merge reports all done" grep -q "^tiny: 4 of 4 runs done; missing 0 " m1.out
"$SWEEP" merge all.db results/tiny-local-shard1of2.db results/tiny-local-shard0of2.db >m2.out 2>m2.err
check "merging again exits 0" [ $? -eq 0 ]
check "merging again adds nothing" grep -q "^tiny: merged 0 runs from 2 inputs (0 new, 0 better.*), 4 unchanged" m2.out
check "no warning: the copies agree" [ ! -s m2.err ]
if [ $have_sqlite3 = 1 ]; then
    check "4 done runs, 4 epochs" [ "$(q all.db "SELECT count(*) FROM runs WHERE status = 'done'") $(q all.db "SELECT count(*) FROM epochs")" = "4 4" ]
    check "summary: 2 settings of 2 seeds" [ "$(q all.db "SELECT count(*) || ' ' || min(n) FROM summary")" = "2 2" ]
fi
"$SWEEP" run tiny.yaml --db all.db >/dev/null 2>again.err
check "the merged database needs no more training" grep -q "nothing to train" again.err

# ---- only part of the grid: the rest is reported missing
"$SWEEP" merge part.db results/tiny-local-shard0of2.db >part.out
n0=$(sed -n 's/^tiny: merged \([0-9]*\) runs.*/\1/p' part.out)
check "a partial merge reports the runs never run" grep -q "^tiny: $n0 of 4 runs done; missing $((4 - n0)) (0 pending, $((4 - n0)) never run)" part.out

# ---- refusals: exit 2, OUT as it was (or never made)
sed 's/epochs: 1/epochs: 2/' tiny.yaml >other.yaml
"$SWEEP" run other.yaml --db other.db >/dev/null 2>&1
cp all.db all.before
"$SWEEP" merge all.db other.db >/dev/null 2>refused.err
check "another config under the same name exits 2" [ $? -eq 2 ]
check "the refusal says why" grep -q "sweep 'tiny' has another config" refused.err
check "one line on stderr" [ "$(wc -l <refused.err)" = 1 ]
check "the refused OUT is unchanged" cmp -s all.db all.before
"$SWEEP" merge fresh.db results/tiny-local-shard0of2.db other.db >/dev/null 2>&1
check "a refused new OUT exits 2" [ $? -eq 2 ]
check "a refused new OUT is not left behind" [ ! -e fresh.db ]
echo "not a database, and long enough to have a header if it were one............................" >text.db
"$SWEEP" merge all.db text.db >/dev/null 2>text.err
check "a text input exits 2" [ $? -eq 2 ]
check "a text input is named" grep -q "text.db: not a sweep database" text.err
check "OUT unchanged after a bad input" cmp -s all.db all.before
"$SWEEP" merge all.db >/dev/null 2>&1
check "merge without inputs exits 2" [ $? -eq 2 ]

# ---- Slurm's variables by hand: ids 3, 5, 7 of an array, job 900
for id in 3 5 7; do
    SLURM_ARRAY_JOB_ID=900 SLURM_ARRAY_TASK_ID=$id SLURM_ARRAY_TASK_MIN=3 SLURM_ARRAY_TASK_STEP=2 \
        SLURM_ARRAY_TASK_COUNT=3 SLURM_CPUS_PER_TASK=1 "$SWEEP" run tiny.yaml >/dev/null 2>env$id.err
    check "array task $id exits 0" [ $? -eq 0 ]
done
check "id 5 is shard 1 of 3" grep -q "shard 1 of 3 (from SLURM_ARRAY_TASK_ID)" env5.err
check "one CPU from SLURM_CPUS_PER_TASK" grep -q "1 job x 1 thread" env3.err
check "the array's databases" [ -f results/tiny-900-shard0of3.db -a -f results/tiny-900-shard1of3.db -a -f results/tiny-900-shard2of3.db ]
"$SWEEP" merge all.db results/tiny-900-shard*of3.db >env.out 2>env.err
check "the array's shards hold the same runs, bit for bit" grep -q "^tiny: merged 0 runs from 3 inputs (0 new, 0 better.*), 4 unchanged" env.out
check "no warning for them" [ ! -s env.err ]
SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_COUNT=two "$SWEEP" run tiny.yaml --db bad.db >/dev/null 2>bad.err
check "a bad SLURM_ARRAY_TASK_COUNT exits 2" [ $? -eq 2 ]
check "the error names the variable" grep -q "SLURM_ARRAY_TASK_COUNT must be an integer" bad.err
check "and touches no database" [ ! -e bad.db ]
SLURM_CPUS_ON_NODE=lots "$SWEEP" run tiny.yaml --db bad.db >/dev/null 2>bad.err
check "a bad SLURM_CPUS_ON_NODE exits 2" [ $? -eq 2 ]
check "its error names it" grep -q "SLURM_CPUS_ON_NODE" bad.err
SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_COUNT=2 "$SWEEP" run tiny.yaml --shard 0/1 --db one.db >/dev/null 2>one.err
check "--shard 0/1 runs the whole grid in an array task" grep -q "^sweep: tiny: 4 runs, 4 to train" one.err

# ---- sweep slurm without --submit: the scripts, no sbatch needed
"$SWEEP" slurm tiny.yaml --array 3 --max-parallel 2 --db results/merged.db >slurm.out 2>slurm.err
check "slurm exits 0" [ $? -eq 0 ]
check "array of 3, 2 at once" grep -qx '#SBATCH --array=0-2%2' slurm.out
check "cpus per task default 2" grep -qx '#SBATCH --cpus-per-task=2' slurm.out
check "absolute sweep binary" grep -qx "sweep='$SWEEP'" slurm.out
check "merge after the array" grep -q -- "--dependency=afterok:" slurm.out
check "the array script is written" [ -x results/tiny-array.sbatch ]
"$SWEEP" slurm tiny.yaml >/dev/null 2>&1
check "slurm without --array exits 2" [ $? -eq 2 ]
"$SWEEP" slurm tiny.yaml --array 2 --sbatch-arg "--time=1
#SBATCH --x" >/dev/null 2>&1
check "a two-line --sbatch-arg exits 2" [ $? -eq 2 ]
for c in merge slurm; do
    check "$c --help exits 0" bash -c "'$SWEEP' $c --help | grep -q usage"
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
