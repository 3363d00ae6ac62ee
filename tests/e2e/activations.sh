#!/usr/bin/env bash
# End-to-end tests of the ten activations, lecun init and alpha per
# activation (issue 12) on synthetic data written by build/synth_idx: a grid
# of all ten trains and every command reads it back; a per-activation alpha
# map stores the right alphas; leaky_relu at alpha 1 is warned with its
# place. Ends with "N passed, M failed".
set -u
. "$(dirname "$0")/lib/common.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep-e2e-acts.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
ACTS="relu elu leaky_relu prelu selu gelu silu mish tanh softplus"
newruns() {  # newruns FILE: the plan's rows in state new
    grep -Ec '^ +[0-9]+ +[0-9a-f]{16} +new ' "$1"
}
col() {  # col FILE N: field N of each data row of a CSV (no quoted commas here)
    tr -d '\r' <"$1" | awk -F, -v n="$2" 'NR > 1 { print $n }' | tr '\n' ' ' | sed 's/ $//'
}

mkdir data && "$SYNTH" data 500 100 >/dev/null || { echo "cannot make data"; echo "0 passed, 1 failed"; exit 1; }
cat > ten.yaml <<YAML
name: ten
data: {dir: $T/data, train_limit: 400}
train: {batch_size: 50}
model: {conv: [4], dense: [8]}
grid:
  activation: [relu, elu, leaky_relu, prelu, selu, gelu, silu, mish, tanh, softplus]
  alpha: {elu: [1.0], leaky_relu: [0.01, 0.3], prelu: [0.25]}
  init: [he, lecun]
  epochs: 1
  seed: [1, 2]
YAML
"$SWEEP" plan ten.yaml --db t.db >plan.out 2>plan.err
check "plan exits 0" [ $? -eq 0 ]
check "plan: 44 runs (11 activation-alpha pairs x 2 inits x 2 seeds)" \
    [ "$(newruns plan.out)" = 44 ]
check "plan: no warning" [ -z "$(grep -v '^sweep: data:' plan.err)" ]
"$SWEEP" run ten.yaml --db t.db --jobs 2 >/dev/null 2>run.err
check "a grid of all ten activations trains" [ $? -eq 0 ]
check "every run done" [ "$(sqlite3 t.db "SELECT count(*) FROM runs WHERE status = 'done'")" = 44 ]

# ---- the alphas stored: the map's, NULL for the activations without one
q() { sqlite3 t.db "$1" | tr '\n' ' ' | sed 's/ $//'; }
check "elu stores 1.0" [ "$(q "SELECT DISTINCT alpha FROM runs WHERE activation = 'elu'")" = "1.0" ]
check "leaky_relu stores 0.01 and 0.3" \
    [ "$(q "SELECT DISTINCT alpha FROM runs WHERE activation = 'leaky_relu' ORDER BY alpha")" = "0.01 0.3" ]
check "prelu stores 0.25" [ "$(q "SELECT DISTINCT alpha FROM runs WHERE activation = 'prelu'")" = "0.25" ]
check "no alpha (NULL) for the seven without" \
    [ "$(q "SELECT count(*) FROM runs WHERE alpha IS NULL")" = 28 ]
check "the NULL ones are exactly those without alpha" \
    [ "$(q "SELECT DISTINCT activation FROM runs WHERE alpha IS NULL ORDER BY activation")" = \
      "gelu mish relu selu silu softplus tanh" ]
check "lecun stored as init" [ "$(q "SELECT count(*) FROM runs WHERE init = 'lecun'")" = 22 ]

# ---- every command reads the new names
"$SWEEP" compare --db t.db --by activation --csv >cmp.csv 2>cmp.err
check "compare --by activation exits 0" [ $? -eq 0 ]
check "compare lists ten levels, in grid order" [ "$(col cmp.csv 1)" = "$ACTS" ]
"$SWEEP" compare --db t.db --by init --csv >init.csv 2>/dev/null
check "compare --by init: he and lecun" [ "$(col init.csv 1)" = "he lecun" ]
"$SWEEP" export --db t.db --what summary -o summary.csv
check "summary: one row per activation-alpha-init" [ "$(($(wc -l <summary.csv) - 1))" = 22 ]
"$SWEEP" export --db t.db --what layer_stats -o layers.csv
check "layer_stats: conv1 and dense1 rows for every run" \
    [ "$(($(wc -l <layers.csv) - 1))" = 88 ]
check "layer_stats: dead fractions are numbers in [0, 1]" bash -c \
    "tr -d '\r' <layers.csv | awk -F, 'NR > 1 && !(\$23 >= 0 && \$23 <= 1) { bad = 1 } END { exit bad }'"
if command -v gnuplot >/dev/null; then
    "$SWEEP" plot --db t.db --by activation -o acts.svg 2>/dev/null
    check "plot --by activation exits 0" [ $? -eq 0 ]
    check "plot: a legend entry per activation" bash -c \
        "for a in $ACTS; do grep -q \">\$a (n=\" acts.svg || exit 1; done"
fi

# ---- defaults, one list, warnings
cat > one.yaml <<YAML
name: one
data: {dir: $T/data, train_limit: 100}
model: {conv: [4], dense: [8]}
grid:
  activation: [relu, elu, leaky_relu, prelu, gelu]
  alpha: [0.5, 1.0]
  epochs: 1
train: {batch_size: 50}   # at most the 100 training images: run and plan refuse more
YAML
"$SWEEP" plan one.yaml --db o.db >one.out 2>one.err
check "one list: 8 runs (relu and gelu once)" [ "$(newruns one.out)" = 8 ]
check "one list: leaky_relu at 1 warned at its place" \
    grep -q "^sweep: warning: one.yaml:6:16: leaky_relu with alpha 1 is linear" one.err
check "one list: one warning line" [ "$(grep -vc '^sweep: data:' one.err)" = 1 ]
sed -i '/alpha:/d' one.yaml
"$SWEEP" plan one.yaml --db o.db >def.out 2>def.err
check "no alpha: 5 runs" [ "$(newruns def.out)" = 5 ]
check "no alpha: leaky_relu at 0.3, prelu at 0.25, elu at 1" bash -c \
    "grep -Eq 'leaky_relu +0.3 ' def.out && grep -Eq 'prelu +0.25 ' def.out && grep -Eq 'elu +1 ' def.out"
check "no alpha: no warning" [ -z "$(grep -v '^sweep: data:' def.err)" ]
sed -i 's/^train:/  alpha: {gelu: [0.5]}\n&/' one.yaml   # the grid's last line, 7
"$SWEEP" plan one.yaml --db o.db >/dev/null 2>bad.err
check "alpha for gelu: exit 2" [ $? -eq 2 ]
check "alpha for gelu: the place and the reason" \
    grep -q "one.yaml:7:11: gelu takes no alpha (only elu, leaky_relu, prelu do)" bad.err

# ---- sweep train takes every name
for a in $ACTS swish; do
    "$SWEEP" train --data data --activation "$a" --init lecun --epochs 1 --train-limit 100 \
        --batch-size 50 --threads 1 >train.out 2>train.err
    check "sweep train --activation $a" grep -q '^test_loss' train.out
done
"$SWEEP" train --data data --activation leaky_relu --alpha 1 --epochs 1 --train-limit 50 \
    --threads 1 >/dev/null 2>lin.err
check "sweep train: leaky_relu --alpha 1 warned" grep -q 'warning: --alpha 1' lin.err
"$SWEEP" train --data data --activation relu6 >/dev/null 2>bad.err
check "sweep train: unknown activation exits 2" [ $? -eq 2 ]
check "sweep train: the message lists the ten" grep -q 'selu, gelu, silu, mish, tanh or softplus' bad.err

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
