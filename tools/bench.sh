#!/usr/bin/env bash
# tools/bench.sh: `make bench`. Measures, for relu and elu, our training and
# evaluation speed with 1 thread and all cores, the GFLOP/s against the
# machine's measured FP32 peak, the sweep's runs/min with jobs against
# threads, peak RSS, every activation's and batch norm's cost against relu,
# a CIFAR-shaped (3x32x32) epoch on a synthetic CIFAR-10 folder, and
# PyTorch on the same settings and shapes in the same run when it is
# installed, and each layer's forward and backward time (bench layers) for
# relu, elu, gelu, relu with batch norm and the CIFAR shape; prints the
# tables and appends a row per activation, a row of costs, a CIFAR row and
# a row per layer case to BENCHMARKS.md, whose last section is rewritten
# with this run's per-layer tables.
#
# Environment: BUILD (default build), FULL=1 for whole epochs (48k training,
# 12k evaluation images, full-data sweeps, 40k CIFAR-shaped training images)
# instead of 20 batches and 4800 evaluation images, SWEEP_DATA (default
# /usr/share/datasets/fashion-mnist).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
FULL=${FULL:-}
DATA=${SWEEP_DATA:-/usr/share/datasets/fashion-mnist}
BENCH=$BUILD/bench
PY=/usr/bin/python3
t_start=$SECONDS

cores=$(nproc)
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//; s/  */ /g')
cpu=${cpu:-unknown CPU}
when=$(date '+%Y-%m-%d %H:%M %Z')
load=$(cut -d' ' -f1 /proc/loadavg)   # before we add any load ourselves
# read-only: no index refresh, so a concurrent commit is never disturbed
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git --no-optional-locks status --porcelain -uno 2>/dev/null)" ]; then
    commit="$commit+dirty"
fi

# CIFAR-shaped: c_n training records (the last 20% validate), c_batches
# timed batches of ours, c_limit images of PyTorch's epoch (0: all)
if [ "$FULL" = 1 ]; then
    mode=full batches=192 eval_n=12000 limit=0 train_imgs=48000
    c_n=50000 c_batches=160 c_limit=0 c_imgs=40000
else
    mode=short batches=20 eval_n=4800 limit=5000 train_imgs=5000
    c_n=10000 c_batches=20 c_limit=5000 c_imgs=5000
fi
# the wait policy changes multithreaded numbers on a busy machine: record it
[ -n "${OMP_WAIT_POLICY:-}" ] && mode="$mode, OMP_WAIT_POLICY=$OMP_WAIT_POLICY"
bs=250 warmup=3
acts="relu elu"
threads_list="1"
[ "$cores" -gt 1 ] && threads_list="1 $cores"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sweep-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0

say() { echo "bench: $*" >&2; }
# kv KEY < line: the value of KEY=VALUE among space-separated fields
kv() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }'; }
# calc FORMAT EXPR: awk arithmetic, "-" when an operand is missing
calc() {
    if [[ " $2 " =~ \ -\  ]]; then echo -; return; fi
    awk "BEGIN { printf \"$1\", $2 }" 2>/dev/null || echo -
}
whole() { if [ "$1" = - ]; then echo -; else printf '%.0f' "$1"; fi; }
ratio() { if [ "$1" = - ] || [ "$2" = - ] || [ "$2" = 0 ]; then echo -; else calc %.2f "$1 / $2"; fi; }
pct() { if [ "$1" = - ] || [ "$2" = - ]; then echo -; else calc %.1f%% "100 * $1 / $2"; fi; }
# layer_table MD PEAK < bench layers' output: its rows as an aligned table
# (MD=1: markdown), GFLOP/s against PEAK, GB/s = MB / ms; then the totals
layer_table() {
    awk -v md="$1" -v peak="$2" '
        function v(k,   i) { for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "-" }
        function pair(a, b) { return a == "-" && b == "-" ? "-" : a " / " b }
        function pk(g) { return g == "-" || peak == "-" || peak + 0 == 0 ? "-" : sprintf("%.0f%%", 100 * g / peak) }
        function bw(mb, ms) { return mb == "-" || ms == "-" || ms + 0 == 0 ? "-" : sprintf("%.1f", mb / ms) }
        function out(a, b, c, d, e, f, g) {
            if (md) printf "| %s | %s | %s | %s | %s | %s | %s |\n", a, b, c, d, e, f, g
            else printf "%-18s %8s %8s %17s %13s %15s %13s\n", a, b, c, d, e, f, g
        }
        BEGIN {
            out("layer", "fwd ms", "bwd ms", "GFLOP/s fwd / bwd", "% peak", "MB moved", "GB/s")
            if (md) print "|---|---:|---:|---:|---:|---:|---:|"
        }
        /^layer=/ {
            out(v("layer"), v("fwd_ms"), v("bwd_ms"), pair(v("fwd_gflops"), v("bwd_gflops")),
                pair(pk(v("fwd_gflops")), pk(v("bwd_gflops"))), pair(v("fwd_mb"), v("bwd_mb")),
                pair(bw(v("fwd_mb"), v("fwd_ms")), bw(v("bwd_mb"), v("bwd_ms"))))
        }
        /^act=/ {
            s = v("sum_ms"); m = v("model_step_ms")
            if (md) print ""
            printf "rows: %.2f ms per batch of %d; the model'"'"'s own step (model_forward, model_loss, optim_step): %.2f ms,\n", s, v("batch"), m
            printf "      so %+.2f ms (%+.1f%%) is outside the table; bench train'"'"'s step adds the gather, %.2f ms;\n", m - s, 100 * (m - s) / s, v("gather_ms")
            printf "GEMM layers %.2f ms at %.1f GFLOP/s (%s of the 1-thread peak); the rest %.2f ms (%.0f%% of the rows)\n", v("gemm_ms"), v("gemm_gflops"), pk(v("gemm_gflops")), v("other_ms"), 100 * v("other_ms") / s
        }'
}

say "$cpu, $cores cores, load average $load; $mode mode; commit $commit"
if awk "BEGIN { exit !($load > 0.5 * $cores) }"; then
    say "warning: the machine is busy (load $load on $cores cores): numbers will be low and noisy"
fi

# --- the ceiling -------------------------------------------------------------
say "FP32 peak (FMA loop)..."
peak_line=$("$BUILD/peak_flops" "$cores") || { say "peak_flops failed"; failed=1; }
peak_1=$(kv gflops_1t <<<"$peak_line"); peak_n=$(kv gflops_all <<<"$peak_line")
peak_w=$(kv width <<<"$peak_line"); peak_a=$(kv accumulators <<<"$peak_line")
peak_1=${peak_1:--} peak_n=${peak_n:--}
flops_out=$("$BENCH" flops) || { say "bench flops failed"; failed=1; }
fwd=$(tail -n 1 <<<"$flops_out" | kv fwd_mflop)
step=$(tail -n 1 <<<"$flops_out" | kv step_mflop)
exact=$(tail -n 1 <<<"$flops_out" | kv exact_step_mflop)
layers=$(grep '^layer=' <<<"$flops_out" | awk '{ split($1, a, "="); split($2, b, "="); printf "%s%s %.3f", (NR > 1 ? ", " : ""), a[2], b[2] }')

# --- ours: the library, no CLI -------------------------------------------------
declare -A o_train o_eval o_rss t_train t_eval t_rss
for act in $acts; do
    for t in $threads_list; do
        say "ours: $act, $t thread(s), $batches training batches, $eval_n evaluation images..."
        if line=$("$BENCH" train --act "$act" --threads "$t" --batches "$batches" --warmup "$warmup" --eval "$eval_n" --data "$DATA"); then
            o_train[$act,$t]=$(kv train_img_s <<<"$line")
            o_eval[$act,$t]=$(kv eval_img_s <<<"$line")
            o_rss[$act,$t]=$(kv maxrss_mb <<<"$line")
        else
            say "bench train failed: $line"; failed=1
        fi
    done
done

# --- every activation against relu, 1 thread ----------------------------------
# relu, act, relu each time: the ratio is to the mean of the two relu runs
# around it, so a change in the machine's load hits both sides alike.
declare -A a_img a_relu
all_acts=$("$BENCH" acts)
for act in $all_acts; do
    [ "$act" = relu ] && continue
    say "activations: $act against relu, 1 thread, $batches batches..."
    r1=$("$BENCH" train --act relu --threads 1 --batches "$batches" --warmup "$warmup" --eval 250 --data "$DATA" | kv train_img_s)
    x=$("$BENCH" train --act "$act" --threads 1 --batches "$batches" --warmup "$warmup" --eval 250 --data "$DATA" | kv train_img_s)
    r2=$("$BENCH" train --act relu --threads 1 --batches "$batches" --warmup "$warmup" --eval 250 --data "$DATA" | kv train_img_s)
    a_img[$act]=${x:--}
    a_relu[$act]=$(calc %.1f "(${r1:--} + ${r2:--}) / 2")
done
# yaml_head NAME: a bench grid's name and its data and train sections
yaml_head() {
    printf 'name: %s\ndata:\n  dir: "%s"\n  train_limit: %s\n' "$1" "$DATA" "$limit"
    printf 'train:\n  batch_size: %s\n  optimizer: adam\n  learning_rate: 0.001\n' "$bs"
}
# and a whole epoch as a user runs it: training, then validation with its
# layer statistics (epochs.seconds of a 1-epoch sweep run, 1 thread)
{
    yaml_head epoch
    printf 'grid:\n  activation: [ACT]\n  batchnorm: [BN]\n  dropout: [0.25]\n'
    printf '  epochs: [1]\n  seed: [1]\n'
} >"$tmp/epoch.yaml"
# epoch_s ACT BATCHNORM: the epoch's seconds, or -
epoch_s() {
    sed "s/\[ACT\]/[$1]/; s/\[BN\]/[$2]/" "$tmp/epoch.yaml" >"$tmp/epoch-run.yaml"
    rm -f "$tmp/epoch.db"
    if "$BUILD/sweep" run "$tmp/epoch-run.yaml" --db "$tmp/epoch.db" --jobs 1 --threads 1 \
        >"$tmp/epoch.log" 2>&1; then
        sqlite3 "$tmp/epoch.db" "SELECT printf('%.3f', seconds) FROM epochs" 2>/dev/null || echo -
    else
        say "sweep run for a $1 epoch failed:"; tail -n 3 "$tmp/epoch.log" >&2; echo -
    fi
}
declare -A e_s e_relu
relu_epochs=""
for act in $all_acts; do
    [ "$act" = relu ] && continue
    say "activations: a $act epoch against relu's, 1 thread..."
    r1=$(epoch_s relu false) x=$(epoch_s "$act" false) r2=$(epoch_s relu false)
    e_s[$act]=$x
    e_relu[$act]=$(calc %.3f "($r1 + $r2) / 2")
    relu_epochs="$relu_epochs $r1 $r2"
done
# the whole epoch's share of the peak: the median relu epoch, and elu's
relu_epoch=$(tr ' ' '\n' <<<"$relu_epochs" | grep -v '^-\?$' | sort -g |
             awk '{ v[NR] = $1 } END { print NR ? (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) : "-" }')
# (train_limit limits training only: validation is the last 12000 images)
epoch_gflop=$(calc %.1f "($train_imgs * $step + 12000 * $fwd) / 1000")
say "batch norm: a relu epoch with it against without, 1 thread..."
r1=$(epoch_s relu false) x=$(epoch_s relu true) r2=$(epoch_s relu false)
bn_epoch_cost=$(ratio "$x" "$(calc %.3f "($r1 + $r2) / 2")")
# batch norm's cost the same way: relu without, with, without it
say "batch norm: relu with it against relu without, 1 thread, $batches batches..."
r1=$("$BENCH" train --act relu --threads 1 --batches "$batches" --warmup "$warmup" --eval 250 --data "$DATA" --batchnorm 0 | kv train_img_s)
x=$("$BENCH" train --act relu --threads 1 --batches "$batches" --warmup "$warmup" --eval 250 --data "$DATA" --batchnorm 1 | kv train_img_s)
r2=$("$BENCH" train --act relu --threads 1 --batches "$batches" --warmup "$warmup" --eval 250 --data "$DATA" --batchnorm 0 | kv train_img_s)
bn_img=${x:--}
bn_relu=$(calc %.1f "(${r1:--} + ${r2:--}) / 2")
bn_cost=$(ratio "$bn_relu" "$bn_img")

# --- CIFAR-shaped: the same model on 3x32x32 (synthetic CIFAR-10 records) -----
declare -A c_train ct_train
cdir=$tmp/cifar c_ok=1 c_step=-
mkdir -p "$cdir"
if [ ! -x "$BUILD/synth_cifar" ]; then
    say "no $BUILD/synth_cifar (make $BUILD/synth_cifar): CIFAR-shaped rows skipped"; c_ok=0 failed=1
elif ! "$BUILD/synth_cifar" "$cdir" "$c_n" 1000 >/dev/null; then
    say "synth_cifar failed: CIFAR-shaped rows skipped"; c_ok=0 failed=1
fi
if [ "$c_ok" = 1 ]; then
    for t in $threads_list; do
        say "ours: CIFAR-shaped relu, $t thread(s), $c_batches training batches..."
        if line=$("$BENCH" train --act relu --threads "$t" --batches "$c_batches" --warmup "$warmup" --eval 250 --data "$cdir"); then
            c_train[$t]=$(kv train_img_s <<<"$line")
            c_step=$(kv step_mflop <<<"$line")
        else
            say "bench train on CIFAR shapes failed: $line"; failed=1
        fi
    done
fi

# --- per layer: each kernel of a training step, 1 thread -------------------------
# cases: name, then bench layers' flags; the CIFAR-shaped one only with its folder
declare -A l_out
l_cases="relu elu gelu relu+bn"
[ "$c_ok" = 1 ] && l_cases="$l_cases cifar-relu"
l_flags() {
    case $1 in
        relu+bn) echo "--act relu --batchnorm 1 --data $DATA" ;;
        cifar-relu) echo "--act relu --data $cdir" ;;
        *) echo "--act $1 --data $DATA" ;;
    esac
}
for lc in $l_cases; do
    say "per layer: $lc, 1 thread, $batches batches..."
    # shellcheck disable=SC2046
    if ! l_out[$lc]=$("$BENCH" layers $(l_flags "$lc") --threads 1 --batches "$batches" --warmup "$warmup"); then
        say "bench layers ($lc) failed"; failed=1; l_out[$lc]=""
    fi
done

# --- PyTorch, same settings, same run -------------------------------------------
torch_note=""
if [ ! -x "$PY" ] || ! "$PY" -c 'import torch' 2>/dev/null; then
    torch_note="PyTorch not run: $PY with torch is not installed (apt-get install python3-torch)"
elif ! dpkg -s libopenblas0-pthread 2>/dev/null | grep -q '^Status: install ok installed'; then
    # without OpenBLAS torch's dense layers use the reference BLAS: no fair yardstick
    torch_note="PyTorch not run: libopenblas0-pthread is not installed (apt-get install libopenblas0-pthread)"
fi
if [ -z "$torch_note" ]; then
    for act in $acts; do
        for t in $threads_list; do
            say "PyTorch: $act, $t thread(s), 1 epoch of $train_imgs images..."
            log=$tmp/torch-$act-$t.log
            "$BENCH" rss -- "$PY" tools/torch_reference.py --act "$act" --epochs 1 \
                --limit-train "$limit" --threads "$t" --seed 1 --no-test --data-dir "$DATA" >"$log" 2>&1
            # the line after the header: epoch loss acc val_loss val_acc train_s val_s img/s
            ep=$(awk '/^epoch train_loss/ { getline; print; exit }' "$log")
            nval=$(sed -n 's/^# train=[0-9]* val=\([0-9]*\).*/\1/p' "$log")
            if [ -z "$ep" ] || [ -z "$nval" ]; then
                say "torch_reference.py failed ($act, $t threads):"; tail -n 5 "$log" >&2
                continue
            fi
            t_train[$act,$t]=$(awk '{ print $8 }' <<<"$ep")
            t_eval[$act,$t]=$(calc %.1f "$nval / $(awk '{ print $7 }' <<<"$ep")")
            t_rss[$act,$t]=$(grep '^bench-rss:' "$log" | tail -n 1 | kv rss_mb)
        done
    done
    [ "$c_ok" = 1 ] && for t in $threads_list; do
        say "PyTorch: CIFAR-shaped relu, $t thread(s), 1 epoch of $c_imgs images..."
        log=$tmp/torch-cifar-$t.log
        "$PY" tools/torch_reference.py --act relu --epochs 1 --limit-train "$c_limit" --threads "$t" \
            --seed 1 --no-test --data-format cifar10 --data-dir "$cdir" >"$log" 2>&1
        ep=$(awk '/^epoch train_loss/ { getline; print; exit }' "$log")
        if [ -z "$ep" ]; then
            say "torch_reference.py failed (CIFAR-shaped, $t threads):"; tail -n 5 "$log" >&2
            continue
        fi
        ct_train[$t]=$(awk '{ print $8 }' <<<"$ep")
    done
fi

# --- the sweep: jobs against threads, and its peak RSS -------------------------
{ yaml_head bench; cat <<EOF; } >"$tmp/grid.yaml"
grid:
  activation: [relu, elu]
  init: [he]
  dropout: [0.25]
  epochs: [1]
  seed: [1, 2]
EOF
n_runs=4
# run_sweep NAME JOBS THREADS: sets sw_wall and sw_rss (fresh database each time)
run_sweep() {
    local log=$tmp/sweep-$1.log res
    "$BENCH" rss -- "$BUILD/sweep" run "$tmp/grid.yaml" --db "$tmp/$1.db" --jobs "$2" --threads "$3" >"$log" 2>&1
    res=$(grep '^bench-rss:' "$log" | tail -n 1)
    if [ "$(kv exit <<<"$res")" != 0 ]; then
        say "sweep run --jobs $2 --threads $3 failed:"; tail -n 5 "$log" >&2
        failed=1 sw_wall=- sw_rss=-
        return
    fi
    sw_wall=$(kv wall_s <<<"$res") sw_rss=$(kv rss_mb <<<"$res")
}
sw_data="$([ "$limit" = 0 ] && echo 48000 || echo "$limit") training images"
say "sweep: $n_runs runs ($sw_data, 1 epoch), --jobs $cores --threads 1..."
run_sweep jobs "$cores" 1
jobs_wall=$sw_wall jobs_rss=$sw_rss
say "sweep: $n_runs runs, --jobs 1 --threads $cores..."
run_sweep threads 1 "$cores"
thr_wall=$sw_wall
say "sweep: $n_runs runs, --jobs 1 --threads 1..."
run_sweep serial 1 1
serial_wall=$sw_wall
# the machine's speed drifts over a minute: a second pair in the other
# order, and the speed-up from the sums of both
say "sweep: $n_runs runs, --jobs 1 --threads 1, again..."
run_sweep serial2 1 1
serial2_wall=$sw_wall
say "sweep: $n_runs runs, --jobs $cores --threads 1, again..."
run_sweep jobs2 "$cores" 1
jobs2_wall=$sw_wall
if [ "$cores" = 2 ]; then
    rss2=$jobs_rss    # the jobs run above is a 2-job sweep
else
    say "sweep: $n_runs runs, --jobs 2 --threads 1, for its peak RSS..."
    run_sweep rss2 2 1
    rss2=$sw_rss
fi
jobs_rpm=$(calc %.2f "$n_runs * 60 / $jobs_wall")
thr_rpm=$(calc %.2f "$n_runs * 60 / $thr_wall")
jt_ratio=$(ratio "$jobs_rpm" "$thr_rpm")
serial_rpm=$(calc %.2f "$n_runs * 60 / $serial_wall")
js_ratio=$(ratio "$(calc %.3f "$serial_wall + $serial2_wall")" "$(calc %.3f "$jobs_wall + $jobs2_wall")")
js_pairs="$(ratio "$serial_wall" "$jobs_wall"), $(ratio "$serial2_wall" "$jobs2_wall")"

# --- the table ---------------------------------------------------------------
N=$cores
row() { printf '%-36s %14s %14s %13s  %s\n' "$@"; }
echo
echo "sweep benchmark, $when"
echo "machine: $cpu, $cores cores (nproc), load average $load at the start; commit $commit"
echo "mode: $mode; ours $((batches * bs)) training images after $warmup warm-up batches, $eval_n validation images;"
echo "      PyTorch 1 epoch of $train_imgs training images (its gather included, no warm-up), 12000 validation images"
echo "FLOPs per image: forward $fwd M ($layers);"
echo "      training step $step M = 3x forward (exact GEMM count $exact M: conv1 needs no input gradient)"
echo "FP32 peak, FMA loop of $peak_a accumulators x $peak_w floats: $peak_1 GFLOP/s on 1 thread, $peak_n on $N"
[ -n "$torch_note" ] && echo "$torch_note"
echo
row "measure" "ours" "PyTorch" "ours/PyTorch" "compared against"
for act in $acts; do
    for t in $threads_list; do
        th="$t thread$([ "$t" = 1 ] || echo s)"
        ot=${o_train[$act,$t]:--} tt=${t_train[$act,$t]:--}
        row "$act train img/s, $th" "$(whole "$ot")" "$(whole "$tt")" "$(ratio "$ot" "$tt")" "PyTorch+OpenBLAS, same images"
    done
    for t in $threads_list; do
        th="$t thread$([ "$t" = 1 ] || echo s)"
        oe=${o_eval[$act,$t]:--} te=${t_eval[$act,$t]:--}
        row "$act eval img/s, $th" "$(whole "$oe")" "$(whole "$te")" "$(ratio "$oe" "$te")" "PyTorch, no_grad, eval mode"
    done
    for t in $threads_list; do
        th="$t thread$([ "$t" = 1 ] || echo s)"
        pk=$([ "$t" = 1 ] && echo "$peak_1" || echo "$peak_n")
        og=$(calc %.1f "${o_train[$act,$t]:--} * $step / 1000") tg=$(calc %.1f "${t_train[$act,$t]:--} * $step / 1000")
        row "$act train GFLOP/s, $th" "$og ($(pct "$og" "$pk"))" "$tg ($(pct "$tg" "$pk"))" \
            "$(ratio "$og" "$tg")" "% of the FP32 peak on $th ($pk GFLOP/s)"
    done
    row "$act peak RSS MB, one training" "$(whole "${o_rss[$act,1]:--}")" "$(whole "${t_rss[$act,1]:--}")" \
        "$(ratio "${o_rss[$act,1]:--}" "${t_rss[$act,1]:--}")" "1 thread; both hold the whole dataset"
done
echo
echo "every activation at 1 thread against relu run just before and after it: training alone (img/s),"
echo "      and a whole epoch of sweep run ($sw_data, then validation with its layer statistics; seconds):"
row "activation" "img/s" "relu img/s" "train cost" "epoch s / relu's: epoch cost (target <= 1.10)"
for act in $all_acts; do
    [ "$act" = relu ] && continue
    row "$act" "$(whole "${a_img[$act]}")" "$(whole "${a_relu[$act]}")" \
        "$(ratio "${a_relu[$act]}" "${a_img[$act]}")" \
        "${e_s[$act]} / ${e_relu[$act]}: $(ratio "${e_s[$act]}" "${e_relu[$act]}")"
done
row "batch norm cost/relu" "$(whole "$bn_img")" "$(whole "$bn_relu")" "$bn_cost" \
    "epoch cost $bn_epoch_cost; relu with batch norm against without (target <= 1.15)"
for act in relu elu; do
    es=$([ "$act" = relu ] && echo "$relu_epoch" || echo "${e_s[elu]:--}")
    eg=$(calc %.1f "$epoch_gflop / $es")
    row "$act whole epoch, GFLOP/s" "$eg ($(pct "$eg" "$peak_1"))" "" "" \
        "$epoch_gflop GFLOP in $es s$([ "$act" = relu ] && echo ", the median of its epochs above"); target >= 55%"
done
echo
echo "CIFAR-shaped: the same model on 3x32x32 synthetic CIFAR-10 records, relu, $c_step MFLOP per training image;"
echo "      ours $((c_batches * bs)) training images after $warmup warm-up batches, PyTorch 1 epoch of $c_imgs:"
row "measure" "ours" "PyTorch" "ours/PyTorch" "compared against"
for t in $threads_list; do
    th="$t thread$([ "$t" = 1 ] || echo s)"
    oc=${c_train[$t]:--} tc=${ct_train[$t]:--}
    row "cifar-shaped train img/s, $th" "$(whole "$oc")" "$(whole "$tc")" "$(ratio "$oc" "$tc")" \
        "PyTorch+OpenBLAS, same shapes"
done
echo
echo "sweep of $n_runs runs (relu, elu x seeds 1, 2; 1 epoch of $sw_data; 12000 validation, 10000 test), fresh database each:"
row "--jobs $N --threads 1, runs/min" "$jobs_rpm" "" "" "$(calc %.1f "$jobs_wall") s wall"
row "--jobs 1 --threads $N, runs/min" "$thr_rpm" "" "" "$(calc %.1f "$thr_wall") s wall"
row "--jobs 1 --threads 1, runs/min" "$serial_rpm" "" "" "$(calc %.1f "$serial_wall") s wall"
row "jobs/threads ratio" "$jt_ratio" "" "" "> 1: parallel runs beat parallel kernels"
row "--jobs $N speed-up over --jobs 1" "$js_ratio" "" "" "both --threads 1, two pairs ($js_pairs); ideal $N"
row "  the second pair" "" "" "" "$(calc %.1f "$serial2_wall") s and $(calc %.1f "$jobs2_wall") s wall"
row "peak RSS MB, 2-job sweep" "$(whole "$rss2")" "" "" "target <= 200 MB on the full dataset ($mode data here)"
echo
echo "per layer, 1 thread, ms per batch of $bs over $batches batches after $warmup warm-up ones (FP32 peak $peak_1 GFLOP/s);"
echo "      MB moved: each whole-batch tensor a kernel reads or writes, counted once (see BENCHMARKS.md)"
for lc in $l_cases; do
    [ -n "${l_out[$lc]}" ] || continue
    echo
    echo "$lc ($(tail -n 1 <<<"${l_out[$lc]}" | kv shape)):"
    layer_table 0 "$peak_1" <<<"${l_out[$lc]}"
done
echo
say "done in $((SECONDS - t_start)) s"

# table_add FILE HEADER_START: stdin's lines go right after the last row of
# the table whose header line starts with HEADER_START (so two tables in one
# file each keep their rows together)
table_add() {
    cat >"$tmp/rows"
    awk -v h="$2" -v rows="$tmp/rows" '
        function put(  l) { while ((getline l < rows) > 0) print l; done = 1 }
        index($0, h) == 1 { in_t = 1 }
        in_t && !/^\|/ { put(); in_t = 0 }
        { print }
        END { if (!done) put() }' "$1" >"$1.tmp" && mv "$1.tmp" "$1"
}

# --- BENCHMARKS.md: one row per activation ---------------------------------------
md=BENCHMARKS.md
if [ ! -f "$md" ]; then
    {
        echo "# Benchmarks"
        echo
        echo "| date | commit | mode | CPU | cores | load | act | train img/s 1t | train img/s Nt | eval img/s 1t | eval img/s Nt | train GFLOP/s 1t / Nt | % of peak 1t / Nt | peak GFLOP/s 1t / Nt | torch train img/s 1t / Nt | torch eval img/s 1t / Nt | ours/torch train 1t / Nt | ours/torch eval 1t / Nt | RSS MB 1 training (torch) | 2-job sweep RSS MB | sweep runs/min jobs / threads | jobs/threads |"
        echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    } >"$md"
fi
for act in $acts; do
    o1=${o_train[$act,1]:--} oN=${o_train[$act,$N]:--} e1=${o_eval[$act,1]:--} eN=${o_eval[$act,$N]:--}
    p1=${t_train[$act,1]:--} pN=${t_train[$act,$N]:--} q1=${t_eval[$act,1]:--} qN=${t_eval[$act,$N]:--}
    g1=$(calc %.1f "$o1 * $step / 1000") gN=$(calc %.1f "$oN * $step / 1000")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s / %s | %s / %s | %s / %s | %s / %s | %s / %s | %s (%s) | %s | %s / %s | %s |\n' \
        "$when" "$commit" "$mode" "$cpu" "$cores" "$load" "$act" \
        "$(whole "$o1")" "$(whole "$oN")" "$(whole "$e1")" "$(whole "$eN")" "$g1" "$gN" "$(pct "$g1" "$peak_1")" "$(pct "$gN" "$peak_n")" \
        "$peak_1" "$peak_n" "$(whole "$p1")" "$(whole "$pN")" "$(whole "$q1")" "$(whole "$qN")" "$(ratio "$o1" "$p1")" "$(ratio "$oN" "$pN")" \
        "$(ratio "$e1" "$q1")" "$(ratio "$eN" "$qN")" "$(whole "${o_rss[$act,1]:--}")" \
        "$(whole "${t_rss[$act,1]:--}")" "$(whole "$rss2")" "$jobs_rpm" "$thr_rpm" "$jt_ratio"
done | table_add "$md" "| date | commit | mode | CPU |"
# the activations' costs: a second table, one row per run of the bench
if ! grep -q '^## Activations against relu' "$md"; then
    {
        echo
        echo "## Activations against relu"
        echo
        echo "Training img/s at 1 thread, each activation between two relu runs; cost = relu img/s / its img/s."
        echo "The last column is relu with batch norm between two relu runs without it."
        echo "Cells with two figures are training / whole epoch (a 1-epoch sweep run: training, validation, layer statistics)."
        echo
        echo "| date | commit | mode | load | $(echo $all_acts | sed 's/relu //; s/ / | /g') | relu + batch norm |"
        echo "|---|---|---|---|$(for a in $all_acts; do [ "$a" = relu ] || printf -- '---|'; done)---|"
    } >>"$md"
fi
{
    printf '| %s | %s | %s | %s |' "$when" "$commit" "$mode" "$load"
    for act in $all_acts; do
        [ "$act" = relu ] || printf ' %s / %s |' "$(ratio "${a_relu[$act]}" "${a_img[$act]}")" \
            "$(ratio "${e_s[$act]}" "${e_relu[$act]}")"
    done
    printf ' %s / %s |\n' "$bn_cost" "$bn_epoch_cost"
} | table_add "$md" "| date | commit | mode | load |"
# CIFAR-shaped against PyTorch: a third table
if ! grep -q '^## CIFAR-shaped' "$md"; then
    {
        echo
        echo "## CIFAR-shaped against PyTorch"
        echo
        echo "The default model (relu) on 3x32x32 images of a synthetic CIFAR-10 folder (\`build/synth_cifar\`;"
        echo "short mode 10,000 records, FULL=1 50,000; the last 20% validate), ours and \`torch_reference.py"
        echo "--data-format cifar10\` in the same run: training img/s at 1 thread and all cores."
        echo
        echo "| date | commit | mode | shape | CPU | cores | load | MFLOP/image step | train img/s 1t / Nt | torch train img/s 1t / Nt | ours/torch 1t / Nt |"
        echo "|---|---|---|---|---|---|---|---|---|---|---|"
    } >>"$md"
fi
c1=${c_train[1]:--} cN=${c_train[$N]:--} d1=${ct_train[1]:--} dN=${ct_train[$N]:--}
printf '| %s | %s | %s | 3x32x32 | %s | %s | %s | %s | %s / %s | %s / %s | %s / %s |\n' \
    "$when" "$commit" "$mode" "$cpu" "$cores" "$load" "$c_step" "$(whole "$c1")" "$(whole "$cN")" \
    "$(whole "$d1")" "$(whole "$dN")" "$(ratio "$c1" "$d1")" "$(ratio "$cN" "$dN")" |
    table_add "$md" "| date | commit | mode | shape |"
# Per layer: a fourth table, a row per case (the layers grouped), and the
# whole per-layer tables of this run in a section rewritten each time
if ! grep -q '^## Time by layer' "$md"; then
    {
        echo
        echo "## Time by layer"
        echo
        echo "\`bench layers\` (tools/bench_layers.c) calls the kernels of one training step one at a time,"
        echo "in model.c's order, on the default model's shapes, each call timed with clock_gettime, 1 thread,"
        echo "after 3 warm-up steps; then times the model's own step (model_forward, model_loss, optim_step)"
        echo "on the same batches, so the difference is what the table leaves out. A row per case here:"
        echo "ms per batch of 250, forward / backward, the layers grouped (\"rest\": that block's batch norm,"
        echo "activation, pooling and dropout); the last run's full tables, a row per kernel, are in"
        echo "\"Per-layer tables of the latest run\" below."
        echo
        echo "- GFLOP/s only for the GEMM layers (conv, dense), from the FLOP count above; conv1's backward"
        echo "  has no input gradient. % peak is against the 1-thread FMA peak measured in the same run."
        echo "- Bytes moved (MB): every whole-batch tensor a kernel reads counted once and every one it"
        echo "  writes counted once (4 bytes a float, 1 a mask or argmax byte; conv forward's saved copy of"
        echo "  its input included); re-reads inside a kernel, and the L2-sized im2col chunks, are not. It is"
        echo "  the traffic of a kernel that streams each operand once; GB/s = MB / ms."
        echo "- conv1.block: training's fused first block (nn/conv_block: conv, activation, pool and dropout"
        echo "  over groups of images in L2; backward: unpool and dW, db per group), in the conv1 column; its"
        echo "  act and dropout rows are the backward passes on the pooled size. With batch norm conv1 runs"
        echo "  unfused, as conv2 does: conv, bn, act+pool, dropout rows."
        echo "- act+pool: the forward pools x and applies f to the winners (act_pool_first_forward) for"
        echo "  activations that never decrease (relu, elu, leaky_relu, selu, tanh, softplus), else the fused"
        echo "  act_maxpool_forward (prelu, gelu, silu, mish); its backward row is the activation's derivative at"
        echo "  the pooling winners only, and the pool row maxpool_backward. With batch norm, model.c fuses the"
        echo "  pool and batch norm backward into one pass; the table times the public kernels (maxpool_backward,"
        echo "  bn_backward)."
        echo "- out+loss's forward includes softmax cross-entropy (which also writes the logits' gradient);"
        echo "  zero_grads and adam_step are in the backward column."
        echo
        echo "| date | commit | case | mode | load | shape | model step ms | rows ms | gather ms | GEMM ms (GFLOP/s, % of peak) | rest ms | conv1 | conv1 rest | conv2 | conv2 rest | input, flatten, dense1, out+loss | zero grads + adam |"
        echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    } >>"$md"
fi
for lc in $l_cases; do
    [ -n "${l_out[$lc]}" ] || continue
    awk -v pre="| $when | $commit | $lc | $mode | $load |" -v peak="$peak_1" '
        function v(k,   i) { for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "-" }
        function grp(n) {
            if (n == "conv1" || n == "conv2" || n == "conv1.block") return substr(n, 1, 5)
            if (n ~ /^conv[12]\./) return substr(n, 1, 5) " rest"
            if (n == "zero_grads" || n == "adam_step") return "opt"
            return "dense"
        }
        function fb(g) { return sprintf("%.2f / %.2f", f[g], b[g]) }
        /^layer=/ { g = grp(v("layer")); f[g] += v("fwd_ms"); b[g] += v("bwd_ms") }
        /^act=/ {
            printf "%s %s | %.2f | %.2f | %.2f | %.2f (%.1f, %.0f%%) | %.2f | %s | %s | %s | %s | %s | %.2f |\n", pre, v("shape"),
                v("model_step_ms"), v("sum_ms"), v("gather_ms"), v("gemm_ms"), v("gemm_gflops"),
                (peak + 0 > 0 ? 100 * v("gemm_gflops") / peak : 0), v("other_ms"), fb("conv1"),
                fb("conv1 rest"), fb("conv2"), fb("conv2 rest"), fb("dense"), b["opt"]
        }' <<<"${l_out[$lc]}"
done | table_add "$md" "| date | commit | case |"
# the latest run's tables: the old section out, the new one at the end
sec="## Per-layer tables of the latest run"
# (blank lines are held until a line follows them: none gather at the end)
awk -v h="$sec" '$0 == h { skip = 1; next } skip && /^## / { skip = 0 } skip { next }
    /^$/ { blanks++; next } { while (blanks > 0) { print ""; blanks-- } print }' "$md" >"$md.tmp" &&
    mv "$md.tmp" "$md"
{
    echo
    echo "$sec"
    echo
    echo "$when, commit $commit, $mode mode, load $load; 1 thread, ms per batch of $bs over $batches batches;"
    echo "FP32 peak $peak_1 GFLOP/s. Rewritten by every \`make bench\`."
    for lc in $l_cases; do
        [ -n "${l_out[$lc]}" ] || continue
        echo
        echo "### $lc ($(tail -n 1 <<<"${l_out[$lc]}" | kv shape))"
        echo
        layer_table 1 "$peak_1" <<<"${l_out[$lc]}"
    done
} >>"$md"
say "appended $(echo $acts | wc -w) rows to $md, a row of activation and batch norm costs, a CIFAR-shaped row, and a row per per-layer case"
exit $failed
