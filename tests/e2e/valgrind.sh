#!/usr/bin/env bash
# One end-to-end sweep (two jobs of two threads, every activation that has
# its own code path) under valgrind memcheck: no errors, no leaks of ours.
# libgomp keeps its thread pool until exit; its blocks are "still
# reachable" or "possibly lost" and are not counted. Ends "N passed, M failed".
set -u
. "$(dirname "$0")/lib/common.sh"
if ! command -v valgrind >/dev/null; then
    echo "skipped: valgrind is not installed"
    echo "0 passed, 0 failed"
    exit 0
fi
if nm -u "$SWEEP" 2>/dev/null | grep -q __asan; then
    echo "skipped: valgrind cannot run a sanitizer build"
    echo "0 passed, 0 failed"
    exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep-vg.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
# 12x12 images keep the run short under valgrind; the network adapts
mkdir data && "$SYNTH" data 100 40 12 >/dev/null
cat > vg.yaml <<YAML
name: vg
data: {dir: $T/data, train_limit: 40}
train: {batch_size: 20}
grid:
  activation: [relu, elu, prelu]
  alpha: 0.5
  epochs: 2
YAML
VG="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99"
$VG "$SWEEP" run vg.yaml --db vg.db --jobs 2 --threads 2 >run.out 2>run.err
rc=$?
check "sweep run under memcheck exits 0" [ $rc -eq 0 ]
check "no memcheck error or leak in sweep run" bash -c "! grep -q '^==[0-9]*==' run.err"
$VG "$SWEEP" export --db vg.db --what epochs -o epochs.csv 2>exp.err
check "sweep export under memcheck exits 0" [ $? -eq 0 ]
check "export wrote every epoch" [ "$(wc -l <epochs.csv)" = 7 ]
echo "name: [" >bad.yaml
$VG "$SWEEP" run bad.yaml --db bad.db >/dev/null 2>bad.err
check "a config error under memcheck exits 2" [ $? -eq 2 ]
check "no memcheck error or leak on the error path" bash -c "! grep -q '^==[0-9]*==' bad.err"
[ $fail -eq 0 ] || sed -n '1,40p' run.err
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
