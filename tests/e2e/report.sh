#!/usr/bin/env bash
# The report page in a real browser: build/report_demo writes the page of
# `sweep report` from fixed data (4 activations, 2 seeds, a failed and a
# diverged run with markup in their errors); headless Chromium renders it.
# Checks: the file refers to nothing outside itself; the rendered DOM has
# the sections and key numbers, and the hostile text as text; the
# screenshot is a plausible, non-blank PNG; the browser made no request for
# the page (its net log, with every host name unresolvable), and the same
# check does catch a page that loads an image. Then `sweep report` of real
# sweeps: rendered without a request; its comparison rows are those of
# `sweep compare --csv` number for number (p, p_holm, decisions), in the
# current grid and with --all; CIFAR's class names in the dataset line;
# bad input exits 2 with one line. Skipped without chromium.
# REPORT_SHOT=FILE.png keeps the screenshot. Ends "N passed, M failed".
set -u
. "$(dirname "$0")/lib/common.sh"
CHROMIUM=${CHROMIUM:-chromium}
if ! command -v "$CHROMIUM" >/dev/null; then
    echo "skipped: chromium is not installed (tools/setup.sh --test-tools)"
    echo "0 passed, 0 failed"
    exit 0
fi
DEMO=$(dirname "$SWEEP")/report_demo
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep-e2e-report.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

# ---- the file: written, deterministic, self-contained
"$DEMO" report.html
check "report_demo writes the page" [ $? -eq 0 -a -s report.html ]
"$DEMO" again.html
check "the same data give the same bytes" cmp -s report.html again.html
"$DEMO" many.html 8
check "8 groups: small multiples" grep -q "Loss per group" many.html
check "no http:// or https:// in the file" bash -c "! grep -qiE 'https?:' report.html"
check "no // (protocol-relative URL) in the file" bash -c "! grep -q '//' report.html"
check "no src=, url(, @import" bash -c "! grep -qiE 'src=|url\\(|@import' report.html"
check "every href is a #anchor" bash -c "! grep -oiE 'href=\"[^\"]*\"' report.html | grep -qv 'href=\"#'"
check "no script, link, img, iframe, object element" \
    bash -c "! grep -qiE '<(script|link|img|iframe|object|embed)[ >]' report.html"
check "one h1" [ "$(grep -o '<h1>' report.html | wc -l)" = 1 ]

# ---- the browser: one run for the DOM, the screenshot and the net log
# (a fresh profile; every host name maps to nothing, so even a request that
# slipped through could not leave the machine)
browse() {  # browse PAGE NETLOG [more flags]: DOM on stdout
    local page=$1 netlog=$2
    shift 2
    timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --no-first-run --disable-background-networking --user-data-dir="$T/profile-$netlog" \
        --host-resolver-rules="MAP * ~NOTFOUND" --log-net-log="$T/$netlog" \
        "$@" --dump-dom "file://$T/$page" 2>>chromium.err
}
# URLs the page itself asked for: requests whose initiator is a page (the
# browser's own background requests have "not an origin"), except file:,
# data: and about: ones
page_requests() {  # page_requests NETLOG
    grep '"initiator":' "$1" | grep -v '"initiator":"not an origin"' |
        grep -o '"url":"[^"]*"' | grep -vE '"url":"(file|data|about|blob):' | sort -u
}
start=$(date +%s)
browse report.html net.json --window-size=1200,2600 --screenshot="$T/shot.png" >dom.html
check "chromium renders the page" [ $? -eq 0 -a -s dom.html ]
for h in "The question" "The comparison" "Learning curves" "Layer statistics" "Every run"; do
    check "the DOM shows '$h'" grep -q "<h2>$h</h2>" dom.html
done
for n in "0.8987" "[0.8776, 0.9199]" "-0.0256" "[-0.0467, -0.0044]" "elu vs relu:" \
         "10 runs" "8 done, 1 failed, 1 diverged" "loss is NaN at epoch 3"; do
    check "the DOM shows '$n'" grep -qF -- "$n" dom.html
done
check "11 charts rendered as SVG" [ "$(grep -o '<svg' dom.html | wc -l)" = 11 ]
check "the hostile error shows as text" grep -qF '&lt;script&gt;alert(1)&lt;/script&gt; &amp;' dom.html
check "no script element in the DOM" bash -c "! grep -qi '<script' dom.html"
check "the config's markup shows as text" grep -qF '&lt;b&gt;not bold&lt;/b&gt;' dom.html
check "the net log was written" grep -q '"events"' net.json
check "the page made no network request" [ -z "$(page_requests net.json)" ]
[ -z "$(page_requests net.json)" ] || page_requests net.json | head -5

# a screenshot of a blank 1200x2600 page is ~10 KB; this one draws charts
check "screenshot written" [ -s shot.png ]
check "screenshot is a PNG" bash -c "head -c 8 shot.png | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a'"
dims=$(od -An -tu1 -j16 -N8 shot.png 2>/dev/null | awk '{print $3*256+$4, $7*256+$8}')
check "screenshot is 1200x2600 (got $dims)" [ "$dims" = "1200 2600" ]
size=$(wc -c <shot.png)
check "screenshot is not blank ($size bytes)" [ "$size" -gt 60000 ]
[ -n "${REPORT_SHOT:-}" ] && cp shot.png "$REPORT_SHOT"

# ---- a real sweep: sweep report on a small sweep over synthetic data
mkdir data && "$SYNTH" data 800 200 >/dev/null
cat > acts.yaml <<YAML
name: acts
data:
  dir: $T/data
  validation_split: 0.2
  train_limit: 600
train:
  batch_size: 50
model: {conv: [4, 8], dense: [16]}
grid:
  activation: [relu, elu, leaky_relu, prelu]
  epochs: 2
  seed: [1, 2]
YAML
"$SWEEP" run acts.yaml --db r.db >/dev/null 2>run.err
check "the small sweep runs" [ $? -eq 0 ]
"$SWEEP" report --db r.db -o x.html >report.out 2>report.err
check "sweep report exits 0" [ $? -eq 0 -a -s x.html ]
check "sweep report says what it wrote" grep -q "wrote x.html" report.out
check "report: no http(s) or // in the file" bash -c "! grep -qiE 'https?:|//' x.html"
check "report: no src=, url(, @import" bash -c "! grep -qiE 'src=|url\\(|@import' x.html"
browse x.html net-real.json --window-size=1200,3000 --screenshot="$T/real.png" >real-dom.html
check "chromium renders the sweep's report" [ $? -eq 0 -a -s real-dom.html ]
check "the report made no network request" [ -z "$(page_requests net-real.json)" ]
check "the report's net log was written" grep -q '"events"' net-real.json
check "report: the sweep's name" grep -qF "<h1>Sweep acts</h1>" real-dom.html
for a in relu elu leaky_relu prelu; do
    check "report: the comparison has $a" grep -qE "<td>$a( <em>.baseline.</em>)?</td><td class=\"num\">2</td>" real-dom.html
done
check "report: the sentences" grep -qF "elu vs relu:" real-dom.html
acc=$(sqlite3 r.db "SELECT printf('%.4f', test_accuracy) FROM runs WHERE activation = 'elu' AND seed = 2")
check "report: elu seed 2's test accuracy ($acc)" grep -qF ">$acc<" real-dom.html
check "report: 8 runs, 8 done" grep -qF "8 done" real-dom.html
check "report: charts drawn" [ "$(grep -o '<svg' real-dom.html | wc -l)" -ge 8 ]
check "report: layer statistics per layer" grep -qF "conv1" real-dom.html
check "report: the dataset's folder" grep -qF "$T/data" real-dom.html
"$SWEEP" report --db r.db -o x.html >/dev/null 2>&1
check "a second report replaces the file" [ $? -eq 0 -a -s x.html ]

# ---- the comparison is sweep compare's, number for number
# csv_rows FILE: per row of compare --csv, level|n|mean|diff|test|p|p_holm|g|decision
# printed as the page prints them ("-" where empty)
csv_rows() {
    tr -d '\r' <"$1" | awk -F, '
        function num(v, f) { return v == "" ? "-" : sprintf(f, v) }
        NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        { d = ("decision" in c) ? $c["decision"] : ""
          printf "%s|%s|%s|%s|%s|%s|%s|%s|%s\n", $1, $c["n"], num($c["mean"], "%.4f"),
              num($c["diff"], "%+.4f"), $c["test"] == "" ? "-" : $c["test"],
              num($c["p_value"], "%.3g"), num($c["p_holm"], "%.3g"),
              num($c["effect_size"], "%+.2f"), d == "" ? "-" : d }'
}
# html_rows FILE METRIC: the same fields from the page's comparison table
html_rows() {
    grep -E "^<tr( class=\"base\")?><td>$2</td>" "$1" | sed -e 's| <em>(baseline)</em>||' \
        -e 's|^<tr[^>]*><td>||' -e 's|</td></tr>$||' -e 's|</td><td[^>]*>|\||g' |
        awk -F'|' '{ print $2 "|" $3 "|" $4 "|" $7 "|" $8 "|" $9 "|" $10 "|" $12 "|" $13 }'
}
same_as_compare() {  # same_as_compare NAME PAGE METRIC CSV
    html_rows "$2" "$3" >page-rows.txt
    csv_rows "$4" >csv-rows.txt
    check "$1: the page's rows are compare's ($(wc -l <csv-rows.txt) rows)" \
        [ -s csv-rows.txt ] && cmp -s page-rows.txt csv-rows.txt
    cmp -s page-rows.txt csv-rows.txt || diff page-rows.txt csv-rows.txt | head -6
}
"$SWEEP" compare --db r.db --by activation --csv >acts.csv
same_as_compare "acts, test_accuracy" x.html test_accuracy acts.csv
check "acts: the p values compared are real numbers" [ "$(cut -d'|' -f6 csv-rows.txt | grep -c '^0\.')" -ge 3 ]
"$SWEEP" report --db r.db --metric test_loss --by activation -o loss.html >/dev/null 2>&1
"$SWEEP" compare --db r.db --by activation --metric test_loss --csv >loss.csv
same_as_compare "acts, test_loss" loss.html test_loss loss.csv

# a sweep that decides: the decisions are compare's too
cat > d.yaml <<YAML
name: d
data: {dir: $T/data, train_limit: 100}
train: {batch_size: 50}
grid: {activation: [relu, elu], epochs: 1}
decide: {metric: test_loss, baseline: relu, rope: 0.05, seeds: {min: 2, max: 3}}
YAML
"$SWEEP" run d.yaml --db d.db >/dev/null 2>&1
check "the deciding sweep runs" [ $? -eq 0 ]
"$SWEEP" report --db d.db --metric test_loss -o d.html >/dev/null 2>&1
check "the deciding sweep's page" [ $? -eq 0 -a -s d.html ]
"$SWEEP" compare --db d.db --by activation --metric test_loss --csv >d.csv
same_as_compare "decide" d.html test_loss d.csv
check "decide: the page shows the decision" \
    grep -qE '<td class="d-(better|worse|equivalent|undecided)">' d.html

# ---- grid binding: an edited grid leaves runs out unless --all
sed 's/activation: \[relu, elu, leaky_relu, prelu\]/activation: [relu, elu, leaky_relu]/' \
    acts.yaml >acts3.yaml
"$SWEEP" run acts3.yaml --db r.db >/dev/null 2>&1
check "the edited grid trains nothing new" [ $? -eq 0 ]
"$SWEEP" report --db r.db -o grid.html >/dev/null 2>&1
check "in-grid page: 6 runs" grep -qF "<dd>6 runs</dd>" grid.html
check "in-grid page: prelu is not compared" bash -c "! grep -qE '<td>prelu</td>' grid.html"
"$SWEEP" compare --db r.db --by activation --csv >grid.csv
same_as_compare "in-grid" grid.html test_accuracy grid.csv
"$SWEEP" report --db r.db --all -o all.html >/dev/null 2>&1
check "--all page: 8 runs" grep -qF "<dd>8 runs</dd>" all.html
check "--all page: prelu compared" grep -qE '<td>test_accuracy</td><td>prelu</td>' all.html
"$SWEEP" compare --db r.db --by activation --all --csv >all.csv
same_as_compare "--all" all.html test_accuracy all.csv
"$SWEEP" run acts.yaml --db r.db >/dev/null 2>&1   # the four activations again

# ---- CIFAR: the class names the data gave, in the dataset line
CIFAR=$(dirname "$SWEEP")/synth_cifar
mkdir c10 && "$CIFAR" c10 300 100 --names >/dev/null
printf '%s\n' airplane automobile bird cat deer dog frog horse ship truck >c10/batches.meta.txt
cat > c.yaml <<YAML
name: c
data: {dir: $T/c10, train_limit: 100}
train: {batch_size: 50}
grid: {activation: [relu, elu], epochs: 1, seed: 1}
YAML
"$SWEEP" run c.yaml --db c.db >/dev/null 2>&1
check "the CIFAR sweep runs" [ $? -eq 0 ]
"$SWEEP" report --db c.db -o c.html >/dev/null 2>&1
check "the CIFAR page" [ $? -eq 0 -a -s c.html ]
check "CIFAR page: the format" grep -qF "format cifar10" c.html
check "CIFAR page: the class names" \
    grep -qF "10 classes: airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck" c.html
check "the Fashion-like page names no classes" bash -c "! grep -qF 'classes:' x.html"

"$SWEEP" report --db r.db --by seed --metric test_loss -o by-seed.html >/dev/null 2>by-seed.err
check "--by seed --metric test_loss: a page" [ $? -eq 0 -a -s by-seed.html ]
check "--by seed: warns, as compare does, that it pools over the activations" \
    grep -q "warning: the comparison pools over activation (relu, elu, leaky_relu, prelu)" by-seed.err
check "--by activation: nothing pooled, no warning" [ ! -s report.err ]
check "--by seed --metric test_loss: compared so" grep -qF "test_loss by seed" by-seed.html
cp r.db p.db
sqlite3 p.db "UPDATE runs SET status = 'pending', test_accuracy = NULL;
              UPDATE runs SET status = 'failed', error = 'boom <b>x</b>' WHERE run_id = 1"
"$SWEEP" report --db p.db -o p.html >/dev/null 2>&1
check "no run done: still a page" [ $? -eq 0 -a -s p.html ]
check "no run done: the page says there is no comparison" grep -qF "No comparison" p.html
check "a failed run's error, escaped" grep -qF "boom &lt;b&gt;x&lt;/b&gt;" p.html

# ---- bad input: exit 2, one line
twice() {  # twice NAME ARGS...: sweep ARGS exits 2 with one line on stderr
    local name=$1
    shift
    "$SWEEP" "$@" >/dev/null 2>err.txt
    local rc=$?
    check "$name exits 2 (got $rc)" [ $rc -eq 2 ]
    check "$name: one line on stderr" [ "$(wc -l <err.txt)" = 1 ]
}
twice "an unknown sweep" report --db r.db --sweep nope -o y.html
check "an unknown sweep lists the valid names" grep -q "sweeps: acts" err.txt
twice "no -o" report --db r.db
twice "an unknown axis" report --db r.db --by colour -o y.html
twice "an unknown metric" report --db r.db --metric speed -o y.html
twice "two sweeps" report --db d.db --sweep d,d -o y.html
"$SWEEP" merge m.db r.db d.db >/dev/null 2>&1
twice "two sweeps on one page" report --db m.db --sweep acts,d -o y.html
check "two sweeps: one page per sweep" grep -q "one sweep per page" err.txt
check "no page written on bad input" [ ! -e y.html ]
sum=$(cksum <r.db)
twice "-o onto the database" report --db r.db -o r.db
check "-o onto the database names it" grep -q "is the database" err.txt
check "the database is intact" [ "$(cksum <r.db)" = "$sum" ]
check "the database still reads" [ "$(sqlite3 r.db 'SELECT count(*) FROM runs')" = 8 ]
sqlite3 r.db 'PRAGMA journal_mode' >/dev/null
if [ -e r.db-wal ]; then
    twice "-o onto the database's -wal" report --db r.db -o r.db-wal
fi
ln -s r.db link.db
twice "-o onto a link to the database" report --db r.db -o link.db
check "the database is intact after the link" [ "$(cksum <r.db)" = "$sum" ]

# ---- the control: the same check sees a page that loads an image
printf '<!DOCTYPE html><title>c</title><p>control</p><img src="http://sweep-test.invalid/x.png">\n' \
    >control.html
browse control.html net-control.json >/dev/null
control_seen() { page_requests net-control.json | grep -q sweep-test.invalid; }
check "the net check catches a page that loads an image" control_seen
echo "browser time: $(($(date +%s) - start)) s"
[ $fail -eq 0 ] || tail -n 5 chromium.err
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
