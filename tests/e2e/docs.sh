#!/usr/bin/env bash
# The man page, the bash completion and `make install`, held to what the
# binary says it accepts: every command of `sweep --help`, every flag of
# `sweep CMD --help`, and every axis, metric, value and YAML key that sweep's
# own error messages list must be in tools/sweep.1 (the flags under their
# command's ".SS sweep CMD") and in tools/sweep.bash. A new flag or name
# without docs fails here, naming what is missing. Ends "N passed, M failed".
set -u
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MAN=$ROOT/tools/sweep.1
COMP=$ROOT/tools/sweep.bash
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep-e2e-docs.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

# The page's source as plain text: fonts and escapes gone, "\-" as "-".
sed -e 's/\\f[BIRP]//g; s/\\-/-/g; s/\\~/ /g; s/\\&//g' "$MAN" >man.txt
section() {  # section HEADING: the page's text from the HEADING line (".SH X" or ".SS X")
    # to the next heading of its level or above
    awk -v h="$1" '$0 == h { on = 1; next }
        on && (/^\.SH / || (h ~ /^\.SS / && /^\.SS /)) { exit } on' man.txt
}
has_word() {  # has_word WORD < TEXT: WORD occurs whole (not inside a longer name)
    grep -qE -- "(^|[^A-Za-z0-9_-])$1([^A-Za-z0-9_-]|$)"
}
missing_in() {  # missing_in FILE WORD...: the WORDs not in FILE, space-separated
    local w out=""
    for w in "${@:2}"; do
        has_word "$w" <"$1" || out+=" $w"
    done
    echo "$out"
}
help_flags() {  # help_flags CMD: the flags CMD --help lists: in its usage paragraph and
    # at the start of its option lines (two spaces, then the flag); not the
    # flags its prose quotes, such as sbatch's
    "$SWEEP" "$1" --help | awk '
        !usage_done { if ($0 == "") usage_done = 1; else print; next }
        /^  -/ { s = substr($0, 3); sub(/  .*/, "", s); print s }' |
        grep -oE -- '(^|[[ |,])--?[a-z][a-z0-9-]*' | sed 's/^[[ |,]//' | sort -u
}
choices() {  # choices < ERRORS: the names a sweep error message lists, one a line
    sed -nE 's/.*\((axes|metrics|expected one of): ([^)]*)\).*/\2/p
             s/.* must be (one of )?(.*), got .*/\2/p' |
        sed 's/ or /, /g; s/, */ /g' | tr ' ' '\n' | sed '/^$/d' | sort -u
}
complete_line() {  # complete_line WORD...: what _sweep offers for the last WORD, sorted
    bash --norc --noprofile -c '. "$0" || exit 1
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        _sweep sweep "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf "%s\n" "${COMPREPLY[@]}"' "$COMP" "$@" | sed '/^$/d' | sort
}
same_set() {  # same_set NAME A B: files A and B hold the same lines; else says the difference
    local name=$1 extra lack
    lack=$(comm -23 "$2" "$3" | paste -sd ' ')
    extra=$(comm -13 "$2" "$3" | paste -sd ' ')
    [ -s "$2" ] || lack="(sweep listed no names: has its message changed?)"
    check "$name${lack:+ (missing: $lack)}${extra:+ (not accepted by sweep: $extra)}" \
        [ -z "$lack$extra" ]
}

# --- the man page renders without a warning ----------------------------------
if command -v man >/dev/null; then
    LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$MAN" 2>warn.txt >rendered.txt
    check "man --warnings -l tools/sweep.1 prints no warning" [ ! -s warn.txt ]
    [ -s warn.txt ] && head -5 warn.txt
    check "the man page renders its sections" grep -q '^EXIT STATUS' rendered.txt
else
    echo "skipped: man is not installed; man --warnings not checked"
fi
check "the completion is valid bash" bash -n "$COMP"
check "sourcing the completion registers it for sweep" \
    bash --norc -c '. "$0" && complete -p sweep | grep -q -- "-F _sweep"' "$COMP"

# --- every command and flag, in the man page and the completion ------------------
"$SWEEP" --help | awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }' \
    >commands.txt
check "sweep --help lists commands" [ "$(wc -l <commands.txt)" -ge 9 ]
mapfile -t commands <commands.txt
miss=""
for c in "${commands[@]}"; do grep -qx "\.SS sweep $c" man.txt || miss+=" $c"; done
check "sweep.1 has a section per command${miss:+ (missing .SS sweep:$miss)}" [ -z "$miss" ]
top=$("$SWEEP" --help | grep -oE -- '--[a-z]+' | sort -u)
miss=$(missing_in man.txt $top)
check "sweep.1 documents sweep's own flags${miss:+ (missing:$miss)}" [ -z "$miss" ]
printf '%s\n' "${commands[@]}" $top | sort -u >want.txt
complete_line sweep "" >got.txt
same_set "the completion offers every command and sweep --help --version" want.txt got.txt
check "the completion completes 'sweep ru' to run" [ "$(complete_line sweep ru)" = run ]

for c in "${commands[@]}"; do
    help_flags "$c" >flags.txt
    section ".SS sweep $c" >sect.txt
    miss=$(missing_in sect.txt $(cat flags.txt))
    check "sweep.1 documents every flag of sweep $c under its section${miss:+ (missing:$miss)}" \
        [ -z "$miss" ]
    { cat flags.txt; echo --help; } | sort -u >want.txt
    complete_line sweep "$c" - >got.txt
    same_set "the completion offers every flag of sweep $c" want.txt got.txt
done

# --- names: axes, metrics, values, YAML keys ------------------------------------
cmp_names() {  # cmp_names LABEL ERRFILE WORD...: the names ERRFILE lists = what completing WORDs
    # offers, and each of them is in the man page
    local label=$1 err=$2
    shift 2
    choices <"$err" >want.txt
    complete_line "$@" >got.txt
    same_set "the completion of '${*:2}' offers the $label sweep accepts" want.txt got.txt
    miss=$(missing_in man.txt $(cat want.txt))
    check "sweep.1 names all the $label${miss:+ (missing:$miss)}" [ -z "$miss" ]
}
"$SWEEP" compare --db "$T/none.db" --by zzz 2>e1.txt >/dev/null
cmp_names "compare axes" e1.txt sweep compare --by ""
"$SWEEP" plot --db "$T/none.db" --by zzz -o x.svg 2>e2.txt >/dev/null
cmp_names "plot axes" e2.txt sweep plot --by ""
"$SWEEP" compare --db "$T/none.db" --by activation --metric zzz 2>e3.txt >/dev/null
cmp_names "compare metrics" e3.txt sweep compare --metric ""
"$SWEEP" plot --db "$T/none.db" --metric zzz -o x.svg 2>e4.txt >/dev/null
cmp_names "plot metrics" e4.txt sweep plot --metric ""
"$SWEEP" export --db "$T/none.db" --what zzz 2>e5.txt >/dev/null
cmp_names "export tables" e5.txt sweep export --what ""
check "the completion of 'export --what' is the four tables" \
    [ "$(complete_line sweep export --what "" | tr '\n' ' ')" = "epochs layer_stats runs summary " ]
for f in activation init optimizer; do
    "$SWEEP" train --data "$T/none" --$f zzz 2>e6.txt >/dev/null
    cmp_names "train --$f values" e6.txt sweep train --$f ""
done
check "the completion of 'compare --by activation,i' adds an axis" \
    [ "$(complete_line sweep compare --by activation,i)" = activation,init ]

# every key and value the config parser lists in its errors is in THE YAML FILE
section ".SH THE YAML FILE" >yaml.txt
: >keys.txt
for y in 'zzz: 1' 'data: {zzz: 1}' 'train: {zzz: 1}' 'train: {early_stopping: {zzz: 1}}' \
    'model: {zzz: 1}' 'grid: {zzz: 1}' 'grid: {seed: {zzz: 1}}' 'exclude: [{zzz: 1}]' \
    'grid: {activation: zzz}' 'grid: {init: zzz}' 'train: {optimizer: zzz}' \
    'train: {early_stopping: {monitor: zzz, patience: 1}}'; do
    case $y in zzz*) printf '%s\n' "$y" ;; *) printf 'name: k\n%s\n' "$y" ;; esac >k.yaml
    "$SWEEP" plan k.yaml --db "$T/none.db" 2>&1 >/dev/null | choices >>keys.txt
done
check "the config errors list the YAML keys" [ "$(sort -u keys.txt | wc -l)" -ge 30 ]
miss=$(missing_in yaml.txt $(sort -u keys.txt))
check "sweep.1's THE YAML FILE names every key and value${miss:+ (missing:$miss)}" [ -z "$miss" ]
check "no command above wrote a database" [ ! -e none.db -a ! -e results ]

# --- files: .yaml for run, plan, slurm; .db for --db and merge ------------------
mkdir files && touch files/a.yaml files/b.yml files/c.txt files/d.db && mkdir files/sub
cd files || exit 1
for c in run plan slurm; do
    check "the completion of 'sweep $c ' offers the configs and folders" \
        [ "$(complete_line sweep $c "" | tr '\n' ' ')" = "a.yaml b.yml sub " ]
done
check "the completion of '--db ' offers databases and folders" \
    [ "$(complete_line sweep status --db "" | tr '\n' ' ')" = "d.db sub " ]
check "the completion of 'sweep merge OUT.db ' offers databases" \
    [ "$(complete_line sweep merge x.db "" | tr '\n' ' ')" = "d.db sub " ]
cd "$T" || exit 1
if command -v sqlite3 >/dev/null; then
    sqlite3 names.db "CREATE TABLE sweeps(name); INSERT INTO sweeps VALUES ('quick'), ('blog')"
    check "the completion of '--sweep ' offers the sweeps of --db" \
        [ "$(complete_line sweep compare --db names.db --sweep "" | tr '\n' ' ')" = "blog quick " ]
fi

# --- make install / uninstall ------------------------------------------------
build=$(dirname "$SWEEP")
case $build in "$ROOT"/*) build=${build#"$ROOT"/} ;; esac
files="usr/bin/sweep usr/share/man/man1/sweep.1 usr/share/bash-completion/completions/sweep"
# a make of its own (not the jobserver of a `make test` this may run under)
# that installs the binary under test as it is (-o: never rebuilt here)
mk() {
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$ROOT" BUILD="$build" -o "$build/sweep" "$@"
}
mk install DESTDIR="$T/stage" PREFIX=/usr >make.out 2>&1
check "make install DESTDIR PREFIX=/usr exits 0" [ $? -eq 0 ]
miss=""
for f in $files; do [ -f "stage/$f" ] || miss+=" $f"; done
check "make install puts the binary, man page and completion in place${miss:+ (missing:$miss)}" \
    [ -z "$miss" ]
check "the installed binary runs" bash -c '"$0" --version | grep -q "^sweep "' stage/usr/bin/sweep
check "the installed man page is tools/sweep.1" cmp -s stage/usr/share/man/man1/sweep.1 "$MAN"
check "the installed completion is tools/sweep.bash" \
    cmp -s stage/usr/share/bash-completion/completions/sweep "$COMP"
check "nothing else is installed" \
    [ "$(find stage -type f | sort)" = "$(printf 'stage/%s\n' $files | sort)" ]
if command -v man >/dev/null; then
    found=$(man -M "$T/stage/usr/share/man" -w sweep 2>/dev/null)
    check "man finds the installed page" [ "$found" = "$T/stage/usr/share/man/man1/sweep.1" ]
fi
mk uninstall DESTDIR="$T/stage" PREFIX=/usr >>make.out 2>&1
check "make uninstall exits 0" [ $? -eq 0 ]
left=""
for f in $files; do [ -e "stage/$f" ] && left+=" $f"; done
check "make uninstall removes the three files${left:+ (left:$left)}" [ -z "$left" ]
[ $fail -eq 0 ] || sed -n '1,20p' make.out
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
