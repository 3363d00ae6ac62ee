#!/usr/bin/env bash
# End-to-end tests of `sweep compare` and `sweep plot` on a tiny sweep over
# synthetic data written by build/synth_idx. Ends with "N passed, M failed".
# The plot checks need gnuplot; without it they are skipped, not failed.
set -u
. "$(dirname "$0")/lib/common.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep-e2e-compare.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
col() {  # col FILE N: field N of each data row of a CSV (no quoted commas here)
    tr -d '\r' <"$1" | awk -F, -v n="$2" 'NR > 1 { print $n }' | tr '\n' ' ' | sed 's/ $//'
}
exits2() {  # exits2 NAME ARGS...: sweep ARGS exits 2 with one line on stderr
    local name=$1
    shift
    "$SWEEP" "$@" >/dev/null 2>err.txt
    local rc=$?
    check "$name exits 2" [ $rc -eq 2 ]
    check "$name: one line on stderr" [ "$(wc -l <err.txt)" = 1 ]
}

mkdir data && "$SYNTH" data 500 100 >/dev/null || { echo "cannot make data"; echo "0 passed, 1 failed"; exit 1; }
cat > tiny.yaml <<YAML
name: tiny
data:
  dir: $T/data
  validation_split: 0.2
  train_limit: 200
train:
  batch_size: 50
grid:
  activation: [relu, elu]
  init: [he, glorot]
  epochs: 2
  seed: [1, 2, 3]
YAML
"$SWEEP" run tiny.yaml --db c.db >/dev/null 2>run.err
check "tiny sweep runs" [ $? -eq 0 ]

for c in compare plot; do
    check "$c --help exits 0" bash -c "'$SWEEP' $c --help | grep -q usage"
done

# ---- the table on a terminal
"$SWEEP" compare --db c.db --by activation >table.out 2>table.err
check "compare exits 0" [ $? -eq 0 ]
check "table header has the p_value column" grep -Eq '^activation +.*mean +sd +ci95_low +ci95_high +diff +p_value' table.out
check "table: relu row, baseline p '-'" grep -Eq '^relu +.* -$' table.out
check "table: elu row" grep -Eq '^elu ' table.out
check "table names the baseline" grep -q 'against activation=relu' table.out
check "pooling init is warned on stderr" grep -q 'pooled over init (he, glorot)' table.err

# ---- CSV
"$SWEEP" compare --db c.db --by activation --metric test_loss --csv >one.csv 2>one.err
check "compare --csv exits 0" [ $? -eq 0 ]
check "csv: header + 2 rows" [ "$(wc -l <one.csv)" = 3 ]
check "csv: header" [ "$(head -1 one.csv | tr -d "\r")" = "activation,metric,n,mean,sd,ci95_low,ci95_high,diff,p_value,test,p_holm,diff_ci95_low,diff_ci95_high,effect_size" ]
check "csv: CRLF line ends" [ "$(grep -c $'\r$' one.csv)" = 3 ]
check "csv: levels in grid order" [ "$(col one.csv 1)" = "relu elu" ]
check "csv: n = 6 (3 seeds x 2 inits pooled)" [ "$(col one.csv 3)" = "6 6" ]
check "csv: baseline p empty" [ "$(tr -d '\r' <one.csv | awk -F, 'NR == 2 { print "[" $9 "]" }')" = "[]" ]
check "csv: other p in [0, 1]" [ "$(tr -d '\r' <one.csv | awk -F, 'NR == 3 && $9 != "" && $9 >= 0 && $9 <= 1 { print "y" }')" = y ]
check "csv: CI brackets the mean" [ "$(tr -d '\r' <one.csv | awk -F, 'NR > 1 && $6 <= $4 && $4 <= $7 { k++ } END { print k }')" = 2 ]

"$SWEEP" compare --db c.db --by activation,init --csv >two.csv 2>two.err
check "two axes exit 0" [ $? -eq 0 ]
check "two axes: header + 4 rows" [ "$(wc -l <two.csv)" = 5 ]
check "two axes: n = 3 seeds" [ "$(col two.csv 4)" = "3 3 3 3" ]
check "two axes: blocks per init, baseline first" [ "$(tr -d '\r' <two.csv | awk -F, 'NR > 1 { printf "%s/%s ", $1, $2 }')" = "relu/he elu/he relu/glorot elu/glorot " ]
check "two axes: p empty exactly on relu rows" [ "$(tr -d '\r' <two.csv | awk -F, 'NR > 1 && ($10 == "") != ($1 == "relu") { k++ } END { print k + 0 }')" = 0 ]
check "two axes: nothing pooled, no warning" [ ! -s two.err ]

# ---- the tests: paired when both groups hold the same seeds once, else Welch
check "pooled groups (seeds twice): welch" [ "$(tr -d '\r' <one.csv | awk -F, 'NR == 3 { print $10 }')" = welch ]
check "split groups (seeds once): paired t" [ "$(tr -d '\r' <two.csv | awk -F, '$1 == "elu" { print $11 }' | sort -u)" = "paired t" ]
check "Holm: 2 comparisons, p_holm >= p" [ "$(tr -d '\r' <two.csv | awk -F, '$1 == "elu" && $12 >= $10 && $12 <= 1 { k++ } END { print k + 0 }')" = 2 ]
check "Holm: the smaller p doubled (or capped)" [ "$(tr -d '\r' <two.csv | awk -F, '$1 == "elu" { p[++k] = $10; h[k] = $12 } END { m = p[1] < p[2] ? 1 : 2; w = 2 * p[m]; if (w > 1) w = 1; print (h[m] - w < 1e-9 && w - h[m] < 1e-9) ? "y" : "n" }')" = y ]
check "diff interval brackets diff" [ "$(tr -d '\r' <two.csv | awk -F, '$1 == "elu" && $13 <= $9 && $9 <= $14 { k++ } END { print k + 0 }')" = 2 ]
check "no decision column without decide:" [ "$(head -1 two.csv | tr -d '\r' | grep -c decision)" = 0 ]
"$SWEEP" compare --db c.db --by activation,init >words.out 2>/dev/null
check "text: one sentence per comparison" [ "$(grep -c '^elu (init=[a-z]*) vs relu (init=[a-z]*): ' words.out)" = 2 ]
check "text: the sentence names the test and Holm" grep -Eq 'paired t p=[0-9.<]+ \(Holm [0-9.<]+\)' words.out
check "text: the table has test and p_holm" grep -Eq '^activation +init +n +mean +sd +ci95_low +ci95_high +diff +p_value +test +p_holm' words.out

# ---- any setting is an axis; several sweeps side by side
"$SWEEP" compare --db c.db --by train_limit,validation_split --csv >set.csv 2>/dev/null
check "--by train_limit,validation_split" [ "$(tr -d '\r' <set.csv | awk -F, 'NR == 2 { print $1 "/" $2 "/" $4 }')" = "200/0.2/12" ]
sed 's/^name: tiny/name: tiny2/; s/seed: \[1, 2, 3\]/seed: [1, 2]/' tiny.yaml >tiny2.yaml
cp c.db s.db
"$SWEEP" run tiny2.yaml --db s.db >/dev/null 2>&1
"$SWEEP" compare --db s.db --sweep tiny,tiny2 --by activation,init --csv >side.csv 2>side.err
check "--sweep A,B exits 0" [ $? -eq 0 ]
check "--sweep A,B: blocks per sweep" [ "$(tr -d '\r' <side.csv | awk -F, 'NR > 1 { printf "%s/%s/%s ", $3, $1, $5 }')" = "tiny/relu/3 tiny/elu/3 tiny/relu/3 tiny/elu/3 tiny2/relu/2 tiny2/elu/2 tiny2/relu/2 tiny2/elu/2 " ]
"$SWEEP" compare --db s.db --sweep tiny,tiny2 --by sweep,activation,init --csv >across.csv 2>/dev/null
check "--by sweep: tiny2 against tiny, Welch (seeds differ)" [ "$(tr -d '\r' <across.csv | awk -F, '$1 == "tiny2" { print $12 }' | sort -u)" = welch ]
exits2 "--sweep with an unknown name" compare --db s.db --sweep tiny,nope --by activation
exits2 "--sweep naming one twice" compare --db s.db --sweep tiny,tiny --by activation

"$SWEEP" compare --db c.db --by activation --baseline elu --csv >base.csv 2>/dev/null
check "--baseline elu: its p empty" [ "$(tr -d '\r' <base.csv | awk -F, '$1 == "elu" { print "[" $9 "]" }')" = "[]" ]
check "--baseline elu: relu p set" [ -n "$(tr -d '\r' <base.csv | awk -F, '$1 == "relu" { print $9 }')" ]

"$SWEEP" compare --db c.db --by seed,activation,init --csv >seed.csv 2>/dev/null
check "n = 1: sd, CI and p empty" [ "$(tr -d '\r' <seed.csv | awk -F, 'NR > 1 && ($7 != "" || $8 != "" || $9 != "" || $11 != "") { k++ } END { print k + 0 }')" = 0 ]
check "n = 1: 12 rows" [ "$(wc -l <seed.csv)" = 13 ]
"$SWEEP" compare --db c.db --by seed,activation,init >seed.out 2>/dev/null
check "n = 1 on a terminal: '-' not NaN" bash -c "! grep -qi nan seed.out && grep -Eq '^1 +relu +he +1 +[0-9.]+ +- +- +- ' seed.out"

for m in test_accuracy test_loss best_val_accuracy best_val_loss seconds_per_epoch; do
    "$SWEEP" compare --db c.db --by init --metric $m --csv >m.csv 2>/dev/null
    check "--metric $m" [ "$(col m.csv 2)" = "$m $m" ]
done

# ---- errors: exit 2, one line
exits2 "unknown axis" compare --db c.db --by colour
check "unknown axis lists the axes" grep -q "unknown axis 'colour' (axes: activation" err.txt
exits2 "unknown metric" compare --db c.db --by activation --metric accuracy
exits2 "unknown baseline" compare --db c.db --by activation --baseline swish
check "unknown baseline lists the levels" grep -q "(relu, elu)" err.txt
exits2 "unknown sweep" compare --db c.db --by activation --sweep nope
check "unknown sweep lists the sweeps" grep -q "(sweeps: tiny)" err.txt
exits2 "missing --by" compare --db c.db
exits2 "missing database" compare --db none.db --by activation
check "missing database is not created" [ ! -e none.db ]
if command -v sqlite3 >/dev/null; then
    cp c.db two.db
    sqlite3 two.db "INSERT INTO sweeps(name, created_at) VALUES ('other', 'now')"
    exits2 "two sweeps without --sweep" compare --db two.db --by activation
    check "two sweeps: the names listed" grep -q "other, tiny" err.txt
    "$SWEEP" compare --db two.db --by activation --sweep tiny --csv >/dev/null 2>&1
    check "two sweeps with --sweep exits 0" [ $? -eq 0 ]
fi

# ---- plot: errors that need no gnuplot
exits2 "plot without -o" plot --db c.db
exits2 "plot to .jpg" plot --db c.db -o f.jpg
exits2 "plot of a test metric" plot --db c.db --metric test_accuracy -o f.png
env PATH=/nonexistent "$SWEEP" plot --db c.db -o nognuplot.png >/dev/null 2>err.txt
check "no gnuplot exits 2" [ $? -eq 2 ]
check "no gnuplot says how to install it" grep -q "sweep: error: gnuplot not found; apt-get install gnuplot-nox" err.txt
check "no gnuplot writes nothing" [ ! -e nognuplot.png ]

# ---- plot: the figures
if command -v gnuplot >/dev/null; then
    "$SWEEP" plot --db c.db -o f.png >/dev/null 2>plot.err
    check "plot png exits 0" [ $? -eq 0 ]
    check "png magic bytes" [ "$(head -c 4 f.png | od -An -tx1 | tr -d ' \n')" = 89504e47 ]
    check "png larger than 5 kB" [ "$(wc -c <f.png)" -gt 5000 ]
    "$SWEEP" plot --db c.db --metric val_loss --by init -o f.svg >/dev/null 2>plot.err
    check "plot svg exits 0" [ $? -eq 0 ]
    check "svg has <svg" grep -q '<svg' f.svg
    check "svg larger than 5 kB" [ "$(wc -c <f.svg)" -gt 5000 ]
    check "svg: legend per init" bash -c "grep -q 'init=he (n=6)' f.svg && grep -q 'init=glorot (n=6)' f.svg"
    check "svg: axes labelled" bash -c "grep -q '>epoch<' f.svg && grep -q '>val_loss<' f.svg"
    check "svg: title names the sweep and the band" bash -c "grep -q 'sweep tiny: val_loss per epoch' f.svg && grep -q 'band: min to max' f.svg"
    check "plot --by pooling warned" grep -q 'pooled over activation' plot.err
    "$SWEEP" plot --db s.db --sweep tiny,tiny2 --by activation -o side.svg >/dev/null 2>&1
    check "plot --sweep A,B: a line per sweep" bash -c "grep -q 'relu sweep=tiny2 (n=4)' side.svg && grep -q 'elu sweep=tiny (n=6)' side.svg"
    "$SWEEP" plot --db c.db -o f.png >/dev/null 2>&1
    check "plot replaces a figure" [ $? -eq 0 ]
    check "no temp files left beside the figure" [ -z "$(ls -a | grep '\.tmp')" ]
    # a gnuplot that fails: its message, the old figure kept, nothing left
    mkdir -p fakebin tmpd
    printf '#!/bin/sh\necho "\\"plot.gp\\" line 3: bad thing" >&2\nexit 1\n' >fakebin/gnuplot
    chmod +x fakebin/gnuplot
    cp f.png before.png
    PATH="$T/fakebin:$PATH" TMPDIR="$T/tmpd" "$SWEEP" plot --db c.db -o f.png >/dev/null 2>err.txt
    check "failing gnuplot exits 2" [ $? -eq 2 ]
    check "failing gnuplot: its message" grep -q 'gnuplot failed (exit 1): "plot.gp" line 3: bad thing' err.txt
    check "failing gnuplot: the old figure stays" cmp -s f.png before.png
    check "failing gnuplot: no temp beside the figure" [ -z "$(ls -a | grep '\.tmp')" ]
    check "failing gnuplot: no temp folder left" [ -z "$(ls -A tmpd)" ]
    TMPDIR="$T/tmpd" "$SWEEP" plot --db c.db -o f.png >/dev/null 2>&1
    check "plot after a failure exits 0" [ $? -eq 0 ]
    check "plot leaves no temp folder" [ -z "$(ls -A tmpd)" ]
    "$SWEEP" plot --db c.db -o no-such-dir/f.png >/dev/null 2>err.txt
    check "plot into a missing folder exits 2" [ $? -eq 2 ]
else
    echo "skipped: gnuplot not installed"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
