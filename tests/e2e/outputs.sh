#!/usr/bin/env bash
# End-to-end tests of the files sweep writes for the user (export -o):
# through a symlink to its target, into a FIFO or /dev/fd/1 directly,
# keeping the mode, with the reason on failure and no temp left; and of
# SIGHUP, which stops a sweep like SIGINT. Ends with "N passed, M failed".
set -u
. "$(dirname "$0")/lib/common.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep-e2e-out.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
q() { sqlite3 -batch -noheader "$@"; }

mkdir data && "$SYNTH" data 300 100 >/dev/null || { echo "cannot make data"; echo "0 passed, 1 failed"; exit 1; }
cat > tiny.yaml <<YAML
name: tiny
data: {dir: $T/data, validation_split: 0.2, train_limit: 100}
train: {batch_size: 50}
grid:
  activation: [relu]
  epochs: 1
  seed: [1]
YAML
"$SWEEP" run tiny.yaml --db t.db >/dev/null 2>&1
check "a sweep to export" [ $? -eq 0 ]
"$SWEEP" export --db t.db --what runs > expected.csv
check "export to stdout" grep -q run_key expected.csv

# ---- a regular file keeps its mode; nothing else is left in the folder
mkdir plain && echo old > plain/x.csv && chmod 600 plain/x.csv
"$SWEEP" export --db t.db --what runs -o plain/x.csv
check "export -o exits 0" [ $? -eq 0 ]
check "export -o writes the CSV" cmp -s plain/x.csv expected.csv
check "a 0600 file stays 0600" [ "$(stat -c %a plain/x.csv)" = 600 ]
check "no temp file left" [ "$(ls -A plain)" = x.csv ]

# ---- a symlink: its target is written, the link stays
mkdir real && echo old > real/data.csv && ln -s real/data.csv link.csv
"$SWEEP" export --db t.db --what runs -o link.csv
check "export through a link exits 0" [ $? -eq 0 ]
check "the link is still a link" [ -L link.csv ]
check "its target has the CSV" cmp -s real/data.csv expected.csv
check "no temp beside the target" [ "$(ls -A real)" = data.csv ]

# ---- a FIFO and /dev/stdout are written directly
mkfifo pipe
cat pipe > from-pipe.csv &
reader=$!
( sleep 30; kill $reader 2>/dev/null; rm -f pipe ) &   # a FIFO replaced by a file: no hang
watchdog=$!
"$SWEEP" export --db t.db --what runs -o pipe
check "export into a FIFO exits 0" [ $? -eq 0 ]
kill -0 $reader 2>/dev/null && { sleep 1; kill $reader 2>/dev/null; }
wait $reader
kill $watchdog 2>/dev/null
check "the FIFO stays a FIFO" [ -p pipe ]
check "the reader got the CSV" cmp -s from-pipe.csv expected.csv
# (/dev/fd/1, not /dev/stdout: a sweep that renamed over it, as run by
# root, would replace the system's /dev/stdout link)
"$SWEEP" export --db t.db --what runs -o /dev/fd/1 > via-stdout.csv
check "export -o /dev/fd/1 reaches stdout" cmp -s via-stdout.csv expected.csv

# ---- failures say why, exit 2, leave nothing
"$SWEEP" export --db t.db --what runs -o missing/x.csv 2> err.txt
check "a missing folder exits 2" [ $? -eq 2 ]
check "the error names the path and the reason" grep -q "missing/x.csv: cannot write: No such file or directory" err.txt
"$SWEEP" export --db t.db --what runs -o real 2> err.txt
check "a folder as output exits 2" [ $? -eq 2 ]
check "the error says it is a folder" grep -q "Is a directory" err.txt
check "the folder holds only its file" [ "$(ls -A real)" = data.csv ]

# ---- SIGHUP: like SIGINT, exit 130 and the run marked interrupted
cat > long.yaml <<YAML
name: long
data: {dir: $T/data}
train: {batch_size: 20}
grid:
  epochs: 500
YAML
if command -v sqlite3 >/dev/null; then
    "$SWEEP" run long.yaml --db long.db >/dev/null 2>long.err &
    pid=$!
    for _ in $(seq 1 600); do
        [ "$(q long.db "SELECT count(*) FROM epochs" 2>/dev/null)" -ge 1 ] 2>/dev/null && break
        sleep 0.1
    done
    kill -HUP $pid
    ( sleep 60; kill -9 $pid 2>/dev/null ) &   # a stop that never comes must not hang the suite
    watchdog=$!
    wait $pid
    rc=$?
    kill $watchdog 2>/dev/null
    check "SIGHUP exits 130" [ $rc -eq 130 ]
    check "SIGHUP marks the run interrupted" [ "$(q long.db "SELECT status FROM runs")" = interrupted ]
    check "SIGHUP says how to resume" grep -q "To resume: .*sweep run long.yaml --db long.db$" long.err
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
