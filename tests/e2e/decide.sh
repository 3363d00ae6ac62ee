#!/usr/bin/env bash
# decide: seeds 1..min first, then one more seed on both sides of each
# undecided comparison up to max; decided from the database, so a rerun
# trains nothing; refused with --shard; compare shows the decision and
# status what is still open. Config errors name the place.
set -u
. "$(dirname "$0")/lib/common.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep-e2e-decide.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
mkdir data && "$SYNTH" data 300 100 >/dev/null || { echo "cannot make data"; echo "0 passed, 1 failed"; exit 1; }
cat > d.yaml <<YAML
name: d
data: {dir: $T/data, train_limit: 100}
train: {batch_size: 50}
grid: {activation: [relu, elu], epochs: 1}
decide: {metric: test_loss, baseline: relu, rope: 0.0, seeds: {min: 2, max: 4}}
YAML
"$SWEEP" run d.yaml --db d.db >out.txt 2>log.txt
check "decide run exits 0" [ $? -eq 0 ]
check "the log says why the comparison stopped" grep -Eq 'sweep: decide: elu .* vs relu .*: (better|worse|equivalent|undecided) after [234] seeds' log.txt
n=$(sqlite3 d.db "SELECT count(*) FROM runs" 2>/dev/null || echo skip)
if [ "$n" != skip ]; then
    check "between 2 and 4 seeds per side" [ "$n" -ge 4 ] && [ "$n" -le 8 ]
    check "seeds added on both sides alike" [ "$(sqlite3 d.db "SELECT count(DISTINCT c) FROM (SELECT count(*) AS c FROM runs GROUP BY activation)")" = 1 ]
fi
"$SWEEP" run d.yaml --db d.db >/dev/null 2>again.txt
check "a rerun trains nothing" grep -q 'nothing to train' again.txt
check "a rerun decides the same" [ "$(grep 'sweep: decide:' again.txt)" = "$(grep 'sweep: decide: elu' log.txt)" ]
"$SWEEP" compare --db d.db --by activation --metric test_loss --csv >c.csv
check "compare has the decision column" [ "$(head -1 c.csv | tr -d '\r' | awk -F, '{ print $NF }')" = decision ]
"$SWEEP" status --db d.db >status.txt
check "status tells the decide state" grep -q 'd: decide on test_loss:' status.txt
"$SWEEP" run d.yaml --db s.db --shard 0/2 >/dev/null 2>err.txt
check "--shard is refused with exit 2" [ $? -eq 2 ]
check "--shard: one clear line" grep -q 'decide: adds seeds as results come in' err.txt
sed 's/grid: {activation: \[relu, elu\], epochs: 1}/grid: {activation: [relu, elu], epochs: 1, seed: [1, 2]}/' d.yaml >bad1.yaml
"$SWEEP" run bad1.yaml --db x.db >/dev/null 2>err.txt
check "a seed axis with decide: exit 2" [ $? -eq 2 ]
check "a seed axis with decide: the place" grep -q 'bad1.yaml:4:.*no seed axis' err.txt
sed 's/baseline: relu/baseline: prelu/' d.yaml >bad2.yaml
"$SWEEP" run bad2.yaml --db x.db >/dev/null 2>err.txt
check "a baseline not in the grid: exit 2" grep -q "bad2.yaml:5:.*decide baseline 'prelu' is not a value of grid.activation" err.txt
sed 's/max: 4/max: 1/' d.yaml >bad3.yaml
"$SWEEP" run bad3.yaml --db x.db >/dev/null 2>err.txt
check "seeds.max below min: exit 2" grep -q "bad3.yaml:5:.*seeds.max" err.txt
check "no database made by bad configs" [ ! -e x.db ]
# kill -9 at some moment, then resume with --jobs 2: the same runs, the
# same results bit for bit, the same decision as the unbroken run above
if command -v sqlite3 >/dev/null; then
    "$SWEEP" run d.yaml --db k.db --jobs 1 >/dev/null 2>&1 &
    pid=$!
    sleep 1.5
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    "$SWEEP" run d.yaml --db k.db --jobs 2 >/dev/null 2>resumed.txt
    check "resumed decide run exits 0" [ $? -eq 0 ]
    q="SELECT activation, seed, status, test_loss FROM runs ORDER BY activation, seed"
    check "after kill -9: the same runs and results" [ "$(sqlite3 k.db "$q")" = "$(sqlite3 d.db "$q")" ]
    check "after kill -9: the same decision" [ "$(grep 'sweep: decide: elu' resumed.txt)" = "$(grep 'sweep: decide: elu' log.txt)" ]
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
