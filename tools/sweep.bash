# bash completion for sweep(1); `make install` puts it in
# $(PREFIX)/share/bash-completion/completions/sweep. To try it: . tools/sweep.bash
#
# Plain bash, no bash-completion helpers, and it never runs sweep: the lists
# below are static. tests/e2e/docs.sh checks them against `sweep --help`,
# `sweep CMD --help` and the choices sweep's own error messages list, so a
# new command, flag, axis, metric or value fails that test until it is here.

_sweep_commands="run plan status export compare plot report delete merge slurm train"
_sweep_retry="failed diverged none"
_sweep_monitors="val_loss val_accuracy"
_sweep_axes="activation alpha model init dropout epochs batch_size learning_rate optimizer seed
             batchnorm momentum nesterov weight_decay lr_schedule
             validation_split train_limit early_stopping data_format label augment val_limit
             test_limit dataset sweep"
_sweep_compare_metrics="test_accuracy test_loss best_val_accuracy best_val_loss seconds_per_epoch"
_sweep_plot_metrics="val_accuracy val_loss train_accuracy train_loss"
_sweep_export_what="summary runs epochs layer_stats"
_sweep_activations="relu elu leaky_relu prelu selu gelu silu mish tanh softplus"
_sweep_inits="he glorot lecun"
_sweep_optimizers="adam sgd adamw rmsprop"
_sweep_schedules="constant cosine step:"
_sweep_paddings="valid same"

# The flags of each command, as its --help lists them.
_sweep_flags()
{
    case $1 in
    run) echo "--db --jobs --threads --shard --dry-run --retry --keep-checkpoints" ;;
    delete) echo "--db --yes -y" ;;
    plan | status) echo "--db" ;;
    export) echo "--db --what --sweep --all -o" ;;
    compare) echo "--db --sweep --by --metric --baseline --all --csv" ;;
    plot) echo "--db --sweep --metric --by --all -o" ;;
    report) echo "--db --sweep --by --metric --all -o" ;;
    merge) echo "" ;;
    slurm) echo "--array --max-parallel --cpus-per-task --sbatch-arg --db --submit" ;;
    train)
        echo "--data --activation --alpha --init --dropout --conv --dense --epochs --seed" \
             "--batch-size --learning-rate --optimizer --momentum --nesterov --weight-decay" \
             "--lr-schedule --batchnorm --padding --validation-split --train-limit" \
             "--val-limit --test-limit --format --label --augment" \
             "--early-stopping --patience --restore-best --threads"
        ;;
    esac
    echo "--help"
}

# _sweep_files EXT...: files with one of these endings, and folders
_sweep_files()
{
    local ext f
    compopt -o filenames 2>/dev/null
    for ext in "$@"; do
        while IFS= read -r f; do
            [[ -n $f ]] && COMPREPLY+=("$f")
        done < <(compgen -f -X "!*.$ext" -- "$cur")
    done
    while IFS= read -r f; do
        [[ -n $f ]] && COMPREPLY+=("$f")
    done < <(compgen -d -- "$cur")
}

# The sweeps of the database named by --db (default results/sweep.db),
# read-only through sqlite3 when both exist.
_sweep_names()
{
    local db=results/sweep.db i name
    for ((i = 2; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        --db) # "--db=PATH" comes as --db, =, PATH
            db=${COMP_WORDS[i + 1]}
            [[ $db == "=" ]] && db=${COMP_WORDS[i + 2]}
            ;;
        --db=*) db=${COMP_WORDS[i]#--db=} ;;
        esac
    done
    [[ -f $db ]] && command -v sqlite3 >/dev/null 2>&1 || return
    while IFS= read -r name; do
        [[ $name == "$cur"* ]] && COMPREPLY+=("$name")
    done < <(sqlite3 -readonly "$db" 'SELECT name FROM sweeps ORDER BY name' 2>/dev/null)
}

_sweep()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local cmd=${COMP_WORDS[1]} list
    COMPREPLY=()
    # --flag=value: bash splits it at '=' (COMP_WORDBREAKS); join it back
    if [[ $cur == "=" && $prev == -* ]]; then
        cur=""
    elif [[ $prev == "=" && $COMP_CWORD -ge 3 ]]; then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    fi

    if ((COMP_CWORD == 1)); then
        mapfile -t COMPREPLY < <(compgen -W "$_sweep_commands --help --version" -- "$cur")
        return
    fi

    # values of the flag before the cursor
    case $prev in
    --db)
        _sweep_files db
        return
        ;;
    -o | --output)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return
        ;;
    --data)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
        return
        ;;
    --what) list=$_sweep_export_what ;;
    --sweep)
        _sweep_names
        return
        ;;
    --retry)
        # failed,diverged: complete the part after the last comma
        local given=""
        [[ $cur == *,* ]] && given=${cur%,*},
        mapfile -t COMPREPLY < <(compgen -P "$given" -W "$_sweep_retry" -- "${cur##*,}")
        return
        ;;
    --early-stopping) list=$_sweep_monitors ;;
    --metric)
        if [[ $cmd == plot ]]; then list=$_sweep_plot_metrics; else list=$_sweep_compare_metrics; fi
        ;;
    --by)
        # compare takes AXIS,AXIS...: complete the part after the last comma
        if [[ $cmd == compare && $cur == *,* ]]; then
            local given=${cur%,*},
            mapfile -t COMPREPLY < <(compgen -P "$given" -W "$_sweep_axes" -- "${cur##*,}")
            compopt -o nospace 2>/dev/null
            return
        fi
        list=$_sweep_axes
        ;;
    --activation) list=$_sweep_activations ;;
    --init) list=$_sweep_inits ;;
    --optimizer) list=$_sweep_optimizers ;;
    --format) list="auto idx cifar10 cifar100" ;;
    --label) list="fine coarse" ;;
    --augment) list="crop=4,flip crop=4 flip none" ;;
    --padding) list=$_sweep_paddings ;;
    --lr-schedule)   # step: takes EVERY:GAMMA after it
        mapfile -t COMPREPLY < <(compgen -W "$_sweep_schedules" -- "$cur")
        [[ ${COMPREPLY[0]:-} == step: ]] && compopt -o nospace 2>/dev/null
        return
        ;;
    --jobs | -j | --threads | --shard | --baseline | --array | --max-parallel | \
        --cpus-per-task | --sbatch-arg | --alpha | --dropout | --epochs | --seed | \
        --batch-size | --learning-rate | --lr | --validation-split | --train-limit | \
        --conv | --dense | --patience | --val-limit | --test-limit | --momentum | --weight-decay)
        return # a value of the user's own
        ;;
    esac
    if [[ -n $list ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$list" -- "$cur")
        return
    fi

    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_sweep_flags "$cmd")" -- "$cur")
        return
    fi
    case $cmd in
    run | plan | slurm) _sweep_files yaml yml ;;
    delete) _sweep_names ;;
    merge) _sweep_files db ;;
    esac
}

complete -F _sweep sweep
