#!/usr/bin/env bash
# Colour data end to end: small CIFAR-10 and CIFAR-100 binary folders
# written by build/synth_cifar train, their data errors exit 2 with nothing
# recorded, augmented training is bit-identical at 1 and 2 threads and
# after a kill, and the data settings reach the database and `compare --by`.
# Ends with "N passed, M failed".
set -u
. "$(dirname "$0")/lib/common.sh"
CIFAR=$(dirname "$SWEEP")/synth_cifar
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep-cifar.XXXXXX")
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
cd "$T" || exit 1
if ! command -v sqlite3 >/dev/null; then
    echo "skipped: the sqlite3 shell is not installed"
    echo "0 passed, 0 failed"
    exit 0
fi
q() { sqlite3 -batch -noheader "$@"; }
dump='SELECT r.run_key, e.epoch, printf("%!.17g %!.17g %!.17g %!.17g", e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy), printf("%!.17g %!.17g", r.test_loss, r.test_accuracy) FROM epochs e JOIN runs r USING(run_id) ORDER BY 1, 2'

mkdir c10 c100 && "$CIFAR" c10 600 200 --names >/dev/null && "$CIFAR" c100 600 200 --cifar100 --names >/dev/null ||
    { echo "cannot make data"; echo "0 passed, 1 failed"; exit 1; }

# config NAME DIR [EXTRA DATA LINES...]: a one-run sweep on DIR
config() {
    local name=$1 dir=$2
    shift 2
    {
        echo "name: $name"
        echo "data:"
        echo "  dir: $dir"
        for line in "$@"; do echo "  $line"; done
        echo "train: {batch_size: 50}"
        echo "grid: {activation: elu, epochs: 1, seed: 1}"
    } >"$name.yaml"
}

# ---- CIFAR-10: auto detection, class names, limits
config c10 "$T/c10" "val_limit: 100" "test_limit: 150"
"$SWEEP" run c10.yaml --db c10.db >c10.out 2>c10.err
check "cifar10 folder trains (exit 0)" [ $? -eq 0 ]
check "auto detection says what it found, once" \
    [ "$(grep -c "sweep: data: $T/c10: cifar10 (6 files, class names), 3x32x32, 10 classes" c10.err)" = 1 ]
check "cifar10 run recorded as such" \
    [ "$(q c10.db "SELECT data_format, label IS NULL, augment IS NULL, val_limit, test_limit FROM runs")" = "cifar10|1|1|100|150" ]
check "cifar10: 10 class names stored" \
    [ "$(q c10.db "SELECT count(*), min(name) FROM classes")" = "10|class_0" ]
acc10=$(q c10.db "SELECT printf('%.4f', test_accuracy) FROM runs")
echo "# cifar10 folder, 1 epoch: test_accuracy $acc10"
check "cifar10 learned something in one epoch" [ "$(q c10.db "SELECT test_accuracy > 0.2 FROM runs")" = 1 ]
"$SWEEP" plan c10.yaml --db c10.db >plan.out 2>plan.err
check "plan also says what it found" grep -q "cifar10 (6 files, class names)" plan.err

# ---- CIFAR-100, fine labels (and coarse)
config c100 "$T/c100" "format: cifar100" "label: fine"
"$SWEEP" run c100.yaml --db c100.db >c100.out 2>c100.err
check "cifar100 folder trains with fine labels (exit 0)" [ $? -eq 0 ]
check "cifar100 run recorded with its labelling" \
    [ "$(q c100.db "SELECT data_format, label FROM runs")" = "cifar100|fine" ]
check "cifar100: 100 fine class names stored" [ "$(q c100.db "SELECT count(*) FROM classes")" = 100 ]
acc100=$(q c100.db "SELECT printf('%.4f', test_accuracy) FROM runs")
echo "# cifar100 folder (fine), 1 epoch: test_accuracy $acc100"
config coarse "$T/c100" "label: coarse"
"$SWEEP" run coarse.yaml --db c100.db >/dev/null 2>coarse.err
check "coarse labels: 20 classes" grep -q "3x32x32, 20 classes" coarse.err
check "coarse and fine runs have different keys" \
    [ "$(q c100.db "SELECT count(DISTINCT run_key) FROM runs")" = 2 ]

# ---- data errors: exit 2 naming the file, nothing recorded
cp -r c10 trunc && truncate -s -100 trunc/data_batch_3.bin
config trunc "$T/trunc"
"$SWEEP" run trunc.yaml --db bad.db >/dev/null 2>trunc.err
check "truncated batch exits 2" [ $? -eq 2 ]
check "truncated batch: the file is named" grep -q "trunc/data_batch_3.bin" trunc.err
echo "# $(cat trunc.err)"
check "truncated batch: no database written" [ ! -e bad.db ]
cp -r c10 badlabel && printf '\012' | dd of=badlabel/test_batch.bin bs=1 seek=$((3073 * 5)) conv=notrunc 2>/dev/null
config badlabel "$T/badlabel"
"$SWEEP" run badlabel.yaml --db c10.db >/dev/null 2>badlabel.err
check "label out of range exits 2" [ $? -eq 2 ]
check "label out of range: the file is named" grep -q "badlabel/test_batch.bin" badlabel.err
echo "# $(cat badlabel.err)"
check "label out of range: no sweep or run row written" \
    [ "$(q c10.db "SELECT count(*) FROM sweeps WHERE name = 'badlabel'")" = 0 ]
config wrongfmt "$T/c10" "format: cifar100"
"$SWEEP" run wrongfmt.yaml --db bad.db >/dev/null 2>wrongfmt.err
check "format cifar100 on a CIFAR-10 folder exits 2" [ $? -eq 2 ] && [ ! -e bad.db ]
config nolabel "$T/c10" "label: coarse"
"$SWEEP" run nolabel.yaml --db bad.db >/dev/null 2>nolabel.err
check "label on a CIFAR-10 folder: exit 2 at the config's place" \
    grep -q "nolabel.yaml:4:10: label is for CIFAR-100" nolabel.err
config typo "$T/c10" "format: cifar"
"$SWEEP" run typo.yaml --db bad.db >/dev/null 2>typo.err
check "unknown format: a suggestion" grep -q "typo.yaml:4:11: format must be one of auto, idx, cifar10, cifar100, got 'cifar' (did you mean 'cifar10'?)" typo.err
config onesplit "$T/c10" "train_limit: 1" "validation_split: 0.999"
"$SWEEP" run onesplit.yaml --db bad.db >/dev/null 2>onesplit.err
check "a split with no validation image exits 2 before the store" [ $? -eq 2 ] && [ ! -e bad.db ]

# ---- augmentation: same bits at 1 and 2 threads, and after a kill
config aug "$T/c10" "augment: {crop: 4, flip: true}" "val_limit: 60"
sed -i 's/epochs: 1/epochs: 3/' aug.yaml
"$SWEEP" run aug.yaml --db aug1.db --threads 1 >/dev/null 2>&1
check "augmented run exits 0" [ $? -eq 0 ]
"$SWEEP" run aug.yaml --db aug2.db --threads 2 >/dev/null 2>&1
ref=$(q aug1.db "$dump")
check "augmented: bit-identical at 1 and 2 threads" [ -n "$ref" ] && [ "$ref" = "$(q aug2.db "$dump")" ]
check "augment stored as text" [ "$(q aug1.db "SELECT augment FROM runs")" = "crop=4,flip" ]
check "augmentation changes the run key" [ "$(q aug1.db "SELECT run_key FROM runs")" != "$(q c10.db "SELECT run_key FROM runs")" ]
"$SWEEP" run aug.yaml --db augk.db --threads 2 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    [ "$(q augk.db 'SELECT count(*) FROM epochs' 2>/dev/null || echo 0)" -ge 1 ] && break
    sleep 0.1
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
"$SWEEP" run aug.yaml --db augk.db --threads 1 >/dev/null 2>&1
check "augmented: bit-identical after kill -9 and resume" [ "$ref" = "$(q augk.db "$dump")" ]
noaug=$("$SWEEP" train --data c10 --epochs 1 --val-limit 60 --test-limit 60 --threads 1 2>/dev/null | grep '^epoch' | cut -d' ' -f1-10)
t1=$("$SWEEP" train --data c10 --epochs 1 --augment crop=4,flip --val-limit 60 --test-limit 60 --threads 1 2>/dev/null | grep '^epoch' | cut -d' ' -f1-10)
t2=$("$SWEEP" train --data c10 --epochs 1 --augment crop=4,flip --val-limit 60 --test-limit 60 --threads 2 2>/dev/null | grep '^epoch' | cut -d' ' -f1-10)
check "train --augment: same at 1 and 2 threads" [ -n "$t1" ] && [ "$t1" = "$t2" ]
check "train --augment changes training" [ "$t1" != "$noaug" ]
check "train --val-limit: 60 validation images" bash -c "'$SWEEP' train --data c10 --epochs 1 --val-limit 60 --test-limit 70 2>/dev/null | grep -q 'validation 60, test 70'"
check "train --augment refuses a bad spec" bash -c "'$SWEEP' train --data c10 --augment crop=40 2>&1 >/dev/null | grep -q 'crop must be 1..16'"
check "train --label on CIFAR-10 exits 2" bash -c "'$SWEEP' train --data c10 --label coarse >/dev/null 2>&1; [ \$? -eq 2 ]"
check "train --format cifar100 --label coarse: 20 classes" bash -c "'$SWEEP' train --data c100 --format cifar100 --label coarse --epochs 1 --val-limit 50 --test-limit 50 2>&1 >/dev/null | grep -q '20 classes'"

# ---- compare --by the new settings
"$SWEEP" compare --db aug1.db --by augment >by.out 2>by.err
check "compare --by augment" grep -q "crop=4,flip" by.out
"$SWEEP" compare --db c10.db --by val_limit,test_limit >by2.out 2>&1
check "compare --by val_limit,test_limit" grep -q "150" by2.out
"$SWEEP" compare --db c100.db --sweep c100 --by data_format,label >by3.out 2>&1
check "compare --by data_format,label" grep -q "cifar100.*fine" by3.out

# ---- a version 2 database gains the data columns; its runs keep their keys
cp c10.db old.db
to_v2 old.db
"$SWEEP" run c10.yaml --db old.db >/dev/null 2>old.err
check "version 2 database: its done run is not trained again" grep -q "1 run: 1 done; nothing to train" old.err
check "version 2 database upgraded to 3 with the columns" \
    [ "$(q old.db "PRAGMA user_version; SELECT val_limit, test_limit, augment IS NULL FROM runs" | paste -sd' ')" = "3 0|0|1" ]

# ---- merge keeps the data settings
"$SWEEP" merge merged.db aug1.db >/dev/null 2>&1
check "merge keeps augment and the limits" \
    [ "$(q merged.db "SELECT data_format, augment, val_limit FROM runs")" = "cifar10|crop=4,flip|60" ]
"$SWEEP" merge merged.db aug1.db c100.db >/dev/null 2>&1
check "merge brings the class names, once" \
    [ "$(q merged.db "SELECT s.name, count(*) FROM classes JOIN sweeps s USING (sweep_id) GROUP BY 1 ORDER BY 1" | paste -sd' ')" = "aug|10 c100|100 coarse|20" ]

# ---- configs/cifar10_elu.yaml is ready for a CIFAR-10 folder
sed "s|^\(  dir:\).*|\1 $T/c10|" "$ROOT/configs/cifar10_elu.yaml" >elu.yaml
check "configs/cifar10_elu.yaml plans on a CIFAR-10 folder" \
    bash -c "'$SWEEP' plan elu.yaml --db none.db 2>&1 | grep -q 'cifar10_elu: 6 runs: 6 new'"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
