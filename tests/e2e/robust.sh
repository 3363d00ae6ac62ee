#!/usr/bin/env bash
# End-to-end tests of what an adversarial probe broke (issue 16): outputs
# that are the database, a database deleted during a run, checkpoints the
# database does not vouch for (kept, restored, forged, NaN, links), stolen
# pids, two datasets under one name, values that vanish as floats, hostile
# names, oversized batches, a long outside lock. Ends with "N passed, M
# failed".
set -u
. "$(dirname "$0")/lib/common.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep-robust.XXXXXX")
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
cd "$T" || exit 1
if ! command -v sqlite3 >/dev/null || ! command -v python3 >/dev/null; then
    echo "skipped: the sqlite3 shell or python3 is not installed"
    echo "0 passed, 0 failed"
    exit 0
fi
q() { sqlite3 -batch -noheader "$@"; }
sum() { sha256sum "$1" | cut -d' ' -f1; }
dump='SELECT e.epoch, printf("%!.17g %!.17g", e.train_loss, e.val_loss), printf("%!.17g %!.17g", r.test_loss, r.test_accuracy) FROM epochs e JOIN runs r USING(run_id) ORDER BY 1'
# a checkpoint's header: magic[8] key[32] int32 epoch; the last 4 bytes are
# the CRC-32 of all before. forge FILE EPOCH|- [nan]: sets the epoch and/or
# a NaN first weight, with a valid CRC.
forge() {
    python3 - "$@" <<'PY'
import struct, sys, zlib
path, epoch = sys.argv[1], sys.argv[2]
b = bytearray(open(path, 'rb').read())
if epoch != '-':
    b[40:44] = struct.pack('<i', int(epoch))
if len(sys.argv) > 3:
    hdr = 8 + 32 + 4 + 4 + 8 + 8 + 4 + 4 + 8 + 4 + 4 + 8   # format 03: has_best padded to 8, then n_bn
    b[hdr:hdr + 4] = struct.pack('<f', float('nan'))
b[-4:] = struct.pack('<I', zlib.crc32(bytes(b[:-4])) & 0xffffffff)
open(path, 'wb').write(b)
PY
}

mkdir data && "$SYNTH" data 300 100 >/dev/null || { echo "cannot make data"; echo "0 passed, 1 failed"; exit 1; }
cat > r.yaml <<YAML
name: r
data: {dir: $T/data, train_limit: 120}
train: {batch_size: 20}
grid:
  activation: [relu]
  epochs: 3
  seed: 7
YAML
"$SWEEP" run r.yaml --db ref.db >/dev/null 2>&1
check "a reference sweep" [ $? -eq 0 ]
ref=$(q ref.db "$dump")
key=$(q ref.db "SELECT run_key FROM runs")

# ---- 1. an output that is the database is refused, the database intact
cp ref.db x.db && before=$(sum x.db)
"$SWEEP" export --db x.db -o x.db 2>err.txt
check "export -o the database exits 2" [ $? -eq 2 ]
check "export -o the database says so" grep -q "is the database" err.txt
check "export -o the database leaves it intact" [ "$(sum x.db)" = "$before" ]
ln -s x.db link.csv
"$SWEEP" export --db x.db -o link.csv 2>/dev/null
check "export through a link to the database exits 2" [ $? -eq 2 ]
check "... and leaves it intact" [ "$(sum x.db)" = "$before" ] && [ -L link.csv ]
"$SWEEP" export --db x.db -o x.db-wal 2>/dev/null
check "export -o the database's -wal exits 2" [ $? -eq 2 ]
ln -s x.db fig.png
"$SWEEP" plot --db x.db -o fig.png 2>err.txt
check "plot -o a link to the database exits 2" [ $? -eq 2 ]
check "plot leaves the database intact" [ "$(sum x.db)" = "$before" ] && [ "$(q x.db 'PRAGMA integrity_check')" = ok ]

# ---- 2. a database deleted while a sweep runs: exit 2, checkpoints kept
sed -e 's/name: r/name: gone/' -e 's/epochs: 3/epochs: 400/' r.yaml > gone.yaml
"$SWEEP" run gone.yaml --db gone.db >/dev/null 2>gone.err &
pid=$!
for _ in $(seq 1 600); do
    [ "$(q gone.db 'SELECT count(*) FROM epochs' 2>/dev/null || echo 0)" -ge 2 ] && break
    sleep 0.1
done
rm -f gone.db gone.db-wal gone.db-shm
( sleep 120; kill -9 $pid 2>/dev/null ) &
watchdog=$!
wait $pid
rc=$?
kill $watchdog 2>/dev/null
check "a deleted database stops the sweep with exit 2" [ $rc -eq 2 ]
check "... saying the database was deleted" grep -q "database was deleted" gone.err
check "... keeping the checkpoint" [ -n "$(ls gone.db-checkpoints 2>/dev/null)" ]

# ---- 3. checkpoints the database does not vouch for
# a kept checkpoint and a new database: the run trains all its epochs
"$SWEEP" run r.yaml --db k.db --keep-checkpoints >/dev/null 2>&1
rm -f k.db k.db-wal k.db-shm
"$SWEEP" run r.yaml --db k.db >/dev/null 2>k.err
check "kept checkpoint, new database: exit 0" [ $? -eq 0 ]
check "kept checkpoint, new database: every epoch recorded, as unbroken" [ "$(q k.db "$dump")" = "$ref" ]
check "kept checkpoint, new database: the reason is printed" grep -q "checkpoint .* not used: it continues epoch 3 but the database holds 0" k.err
# a restored backup that holds epoch 1 only, the checkpoint at epoch 3
"$SWEEP" run r.yaml --db b.db --keep-checkpoints >/dev/null 2>&1
q b.db "DELETE FROM epochs WHERE epoch > 1; UPDATE runs SET status = 'interrupted'"
"$SWEEP" run r.yaml --db b.db >/dev/null 2>b.err
check "restored backup: exit 0" [ $? -eq 0 ]
check "restored backup: epochs 1,2,3 as unbroken" [ "$(q b.db "$dump")" = "$ref" ]
check "restored backup: the reason is printed" grep -q "database holds 1 of epochs 1..3" b.err
# a forged checkpoint claiming epoch 1000 of a 3-epoch run
"$SWEEP" run r.yaml --db f.db --keep-checkpoints >/dev/null 2>&1
q f.db "DELETE FROM epochs WHERE epoch > 1; UPDATE runs SET status = 'interrupted'"
forge "f.db-checkpoints/1-$key.ckpt" 1000
"$SWEEP" run r.yaml --db f.db >/dev/null 2>f.err
check "checkpoint claiming epoch 1000: the run trains its 3 epochs" [ "$(q f.db "$dump")" = "$ref" ]
check "checkpoint claiming epoch 1000: the reason is printed" grep -q "claims epoch 1000 of a 3-epoch run" f.err

# ---- 6. a checkpoint with a NaN weight (valid CRC) is not loaded
"$SWEEP" run r.yaml --db n.db --keep-checkpoints >/dev/null 2>&1
q n.db "UPDATE runs SET status = 'interrupted'"
forge "n.db-checkpoints/1-$key.ckpt" - nan
"$SWEEP" run r.yaml --db n.db >/dev/null 2>n.err
check "NaN checkpoint: the run trains again, as unbroken" [ "$(q n.db "$dump")" = "$ref" ]
check "NaN checkpoint: the reason is printed" grep -q "NaN or infinite" n.err

# ---- 8. the checkpoint folder: ours, not writable by others, no links followed
mkdir -m 0777 w.db-checkpoints && chmod 0777 w.db-checkpoints
"$SWEEP" run r.yaml --db w.db >/dev/null 2>w.err
check "a checkpoint folder others may write exits 2" [ $? -eq 2 ]
check "... and says why" grep -q "others may write in the checkpoint folder" w.err
mkdir elsewhere && ln -s elsewhere l.db-checkpoints
"$SWEEP" run r.yaml --db l.db >/dev/null 2>l.err
check "a checkpoint folder that is a link exits 2" [ $? -eq 2 ]
mkdir s.db-checkpoints && echo precious > victim
ln -s "$T/victim" "s.db-checkpoints/1-$key.ckpt"
"$SWEEP" run r.yaml --db s.db --keep-checkpoints >/dev/null 2>s.err
check "a link in the checkpoint folder: the run ends done" [ "$(q s.db 'SELECT status FROM runs')" = done ]
check "... its target untouched" [ "$(cat victim)" = precious ]
check "... the link is not read, and the reason is printed" grep -q "symbolic link" s.err

# ---- 9. stale temps are matched by name, never as a pattern
mkdir -p r1.db-checkpoints && touch "r1.db-checkpoints/1-$key.ckpt.tmp.abcdef"
"$SWEEP" run r.yaml --db 'r[1].db' >/dev/null 2>&1
check "--db 'r[1].db' leaves r1.db's temp files alone" [ -e "r1.db-checkpoints/1-$key.ckpt.tmp.abcdef" ]

# ---- 4. a reused pid: the run's owner is gone
cp ref.db p.db
q p.db "UPDATE runs SET status = 'running', host = '$(hostname)', pid = $$, heartbeat_at = '2000-01-01T00:00:00Z'"
"$SWEEP" run r.yaml --db p.db >/dev/null 2>p.err
check "a running row whose pid now names a younger process is trained again" [ "$(q p.db 'SELECT status FROM runs')" = done ]
check "... as its own run" grep -q "1 to train" p.err
sleep 300 &
holder=$!
sleep 1.2
cp ref.db h.db
q h.db "UPDATE runs SET status = 'running', host = '$(hostname)', pid = $holder, heartbeat_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
"$SWEEP" run r.yaml --db h.db >/dev/null 2>h.err
check "a run held by a live process is not trained" [ "$(q h.db 'SELECT status FROM runs')" = running ]
check "... and not called done" grep -q "1 still running in another process" h.err
kill $holder 2>/dev/null

# ---- 5. two datasets under one sweep name (data.dir absent, SWEEP_DATA changed)
mkdir data2 && "$SYNTH" data2 310 100 >/dev/null
cat > two.yaml <<YAML
name: two
data: {train_limit: 120}
train: {batch_size: 20}
grid: {activation: [relu], epochs: 1, seed: [1, 2]}
YAML
SWEEP_DATA="$T/data" "$SWEEP" run two.yaml --db two.db >/dev/null 2>&1 &&
    SWEEP_DATA="$T/data2" "$SWEEP" run two.yaml --db two.db >/dev/null 2>&1
check "two datasets under one name: both trained" [ $? -eq 0 ]
check "... every run records its dataset, two of them" \
    [ "$(q two.db "SELECT count(DISTINCT dataset) || ' ' || count(dataset) FROM runs WHERE dataset GLOB '$(printf '[0-9a-f]%.0s' $(seq 16))'")" = "2 4" ]
check "... summary keeps them apart: 2 rows of n = 2, not one of 4" \
    [ "$(q two.db "SELECT group_concat(n) FROM summary")" = "2,2" ]
"$SWEEP" compare --db two.db --by activation --csv >two.csv 2>two.err
check "... compare warns that it pools over dataset" grep -q "pooled over dataset" two.err
"$SWEEP" compare --db two.db --by dataset --csv >two.csv 2>/dev/null
check "... compare --by dataset splits them" [ "$(tr -d '\r' <two.csv | awk -F, 'NR > 1 { printf "%s ", $3 }')" = "2 2 " ]
"$SWEEP" export --db two.db --what runs >two_runs.csv
check "... export --what runs has the dataset" [ "$(head -1 two_runs.csv | tr ',' '\n' | grep -c '^dataset$')" = 1 ]

# ---- 7. values that vanish or overflow as floats
for v in "learning_rate: 1e-50" "learning_rate: 1e39" "dropout: 1e-50"; do
    sed "s/  seed: 7/  seed: 7\n  $v/" r.yaml > v.yaml
    "$SWEEP" run v.yaml --db v.db >/dev/null 2>v.err
    check "$v exits 2" [ $? -eq 2 ]
    check "$v names file:line:col" grep -q "v.yaml:[0-9]*:[0-9]*: .*32-bit float" v.err
done
sed "s/  seed: 7/  seed: 7\n  activation: [elu]\n  alpha: [1e-50]/; s/  activation: \[relu\]//" r.yaml > v.yaml
"$SWEEP" run v.yaml --db v.db >/dev/null 2>v.err
check "alpha: [1e-50] exits 2 at its place" grep -q "v.yaml:[0-9]*:[0-9]*: alpha" v.err
check "no database made for a bad value" [ ! -e v.db ]

# ---- 12. hostile names in plot
sed "s/name: r/name: \"it''s x'y\"/" r.yaml > quote.yaml
"$SWEEP" run quote.yaml --db qu.db >/dev/null 2>&1
"$SWEEP" plot --db qu.db -o quote.svg 2>plot.err
check "a sweep name with '' plots" [ $? -eq 0 ] && grep -q "it''s x'y" quote.svg
mkdir nl && "$SWEEP" plot --db qu.db -o "nl/$(printf 'a\nb.svg')" 2>/dev/null
check "-o with a newline: written, no temp left" [ "$(ls nl | wc -l)" = 2 ] && [ -z "$(ls nl | grep tmp)" ]
mkdir pl && echo old > pl/fig.svg && chmod 600 pl/fig.svg && ln -s pl/fig.svg plink.svg
"$SWEEP" plot --db qu.db -o plink.svg 2>/dev/null
check "plot through a link writes its target, keeps the link and the mode" [ -L plink.svg ] && grep -q "<svg" pl/fig.svg && [ "$(stat -c %a pl/fig.svg)" = 600 ]

# ---- 13, 11, one image: refused before the database is touched
sed "s/batch_size: 20/batch_size: 8192/" r.yaml > big.yaml
"$SWEEP" run big.yaml --db big.db >/dev/null 2>big.err
check "batch_size 8192 on 120 images exits 2" [ $? -eq 2 ]
check "... saying the batch exceeds the training set" grep -q "larger than the training set" big.err
check "... before the database is made" [ ! -e big.db ]
mkdir fifo && cp data/* fifo/ && rm fifo/train-images* && mkfifo fifo/train-images-idx3-ubyte
sed "s|dir: $T/data|dir: $T/fifo|" r.yaml > fifo.yaml
timeout 20 "$SWEEP" plan fifo.yaml --db fifo.db >/dev/null 2>fifo.err
check "a FIFO as a data file: plan exits 2 at once" [ $? -eq 2 ]
mkdir one && "$SYNTH" one 1 10 >/dev/null
sed -e "s|dir: $T/data|dir: $T/one|" -e "s/, train_limit: 120//" -e "s/batch_size: 20/batch_size: 1/" r.yaml > one.yaml
"$SWEEP" run one.yaml --db one.db >/dev/null 2>one.err
check "a one-image training file exits 2" [ $? -eq 2 ]
check "... before the database is made" [ ! -e one.db ]

# ---- smaller: a hand-edited unknown status
cp ref.db u.db
q u.db "PRAGMA ignore_check_constraints = 1; UPDATE runs SET status = 'weird'"
"$SWEEP" status --db u.db >/dev/null 2>u.err
check "status reports an unknown status" grep -q "unknown status ('weird')" u.err
"$SWEEP" merge um.db u.db >/dev/null 2>um.err
check "merge of an unknown status exits 2" [ $? -eq 2 ]
check "... with a clear message" grep -q "has the unknown status 'weird'" um.err

# ---- 14. an outside write lock held for 50 s: the run waits, loses nothing
sed -e 's/name: r/name: lock/' -e 's/epochs: 3/epochs: 40/' r.yaml > lock.yaml
"$SWEEP" run lock.yaml --db lock.db >/dev/null 2>lock.err &
pid=$!
for _ in $(seq 1 600); do
    [ "$(q lock.db 'SELECT count(*) FROM epochs' 2>/dev/null || echo 0)" -ge 1 ] && break
    sleep 0.05
done
q lock.db "BEGIN IMMEDIATE" ".shell sleep 50" "COMMIT" 2>/dev/null
kill -0 $pid 2>/dev/null   # 40 short epochs end within seconds unless the lock held them
check "the lock held the run mid-way" [ $? -eq 0 ]
wait $pid
rc=$?
check "a 50 s outside lock: the run still ends with exit 0" [ $rc -eq 0 ]
check "... with all 40 epochs recorded, the run done" [ "$(q lock.db "SELECT (SELECT count(*) FROM epochs) || ' ' || status FROM runs")" = "40 done" ]

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
