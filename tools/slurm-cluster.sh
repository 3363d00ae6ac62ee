#!/usr/bin/env bash
# slurm-cluster.sh: a throwaway one-node Slurm cluster on 127.0.0.1, for the
# tests and for trying `sweep slurm` on one machine. Everything (slurm.conf,
# state, logs, pids, its own munge key and socket) lives in DIR, so nothing
# goes into /etc and two clusters on one machine do not meet.
#
#   tools/slurm-cluster.sh start DIR   installs Slurm if missing (root + apt),
#                                      starts munged, slurmctld and slurmd,
#                                      waits until the node is idle, prints
#                                      "export SLURM_CONF=DIR/slurm.conf"
#   tools/slurm-cluster.sh stop DIR    cancels the cluster's jobs, stops the
#                                      daemons that start started (TERM by pid),
#                                      and waits until they are gone
#
# start exits 0 when the cluster is up, 77 when Slurm cannot be installed
# here (not root, no apt-get), 1 on any other failure (see DIR/*.log).
set -u

die() { echo "slurm-cluster: $*" >&2; exit 1; }
skip() { echo "slurm-cluster: $*" >&2; exit 77; }

[ $# -eq 2 ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
cmd=$1
D=$(realpath -m "$2")
PIDS=$D/daemons.pids   # "name pid" per line, written as each daemon starts

install_slurm() {
    local bins="/usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/munged /usr/bin/sbatch /usr/bin/munge"
    local b missing=0
    for b in $bins; do [ -x "$b" ] || missing=1; done
    [ $missing = 0 ] && return 0
    [ "$(id -u)" = 0 ] || skip "Slurm is not installed and we are not root"
    command -v apt-get >/dev/null || skip "Slurm is not installed and there is no apt-get"
    local apt="apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600"
    local pkgs="slurmctld slurmd slurm-client munge"
    export DEBIAN_FRONTEND=noninteractive
    # An empty or stale package list is the usual reason a first try fails.
    $apt $pkgs >"$D/apt.log" 2>&1 ||
        { apt-get update -q >>"$D/apt.log" 2>&1 && $apt $pkgs >>"$D/apt.log" 2>&1; } ||
        die "apt-get could not install $pkgs (see $D/apt.log)"
}

# Local TCP ports in use, from /proc (ss is not on a minimal system).
used_ports() {
    local f sl local_address rest
    for f in /proc/net/tcp /proc/net/tcp6; do
        [ -r "$f" ] || continue
        while read -r sl local_address rest; do
            [ "$sl" = sl ] || printf '%d\n' "0x${local_address##*:}"
        done <"$f"
    done
}

# Two free TCP ports in a row, starting from one derived from our pid, so
# that clusters started at the same time by different tests do not collide.
free_ports() {
    local used p
    used=$(used_ports | sort -un)
    for ((p = 20000 + ($$ % 5000) * 2; p < 40000; p += 2)); do
        if ! grep -qx -e "$p" -e "$((p + 1))" <<<"$used"; then
            echo "$p $((p + 1))"
            return 0
        fi
    done
    return 1
}

record() { echo "$1 $2" >>"$PIDS"; }

wait_for() {  # wait_for SECONDS CMD...: polls CMD every 0.2 s
    local tries=$(($1 * 5))
    shift
    while ! "$@" >/dev/null 2>&1; do
        tries=$((tries - 1))
        [ $tries -gt 0 ] || return 1
        sleep 0.2
    done
}

node_idle() { [ "$(sinfo -h -N -o %t 2>/dev/null)" = idle ]; }

start() {
    [ "$(id -u)" = 0 ] || skip "the daemons need root"
    mkdir -p "$D" || die "cannot create $D"
    install_slurm
    [ -e "$PIDS" ] && die "$D already holds a cluster (stop it first)"
    mkdir -p "$D/state" "$D/spool" "$D/munge" || die "cannot create folders in $D"
    chmod 755 "$D"   # munged runs as munge and must reach its folder

    # munge: our own key and socket in $D/munge, owned by munge.
    local m=$D/munge
    head -c 1024 /dev/urandom >"$m/munge.key"
    chmod 400 "$m/munge.key"
    chown -R munge:munge "$m" && chmod 755 "$m" || die "cannot give $m to munge"
    setpriv --reuid=munge --regid=munge --init-groups -- /usr/sbin/munged --foreground \
        --socket="$m/munge.sock" --key-file="$m/munge.key" --pid-file="$m/munged.pid" \
        --seed-file="$m/munged.seed" --log-file="$m/munged.log" \
        </dev/null >"$D/munged.out" 2>&1 &
    record munged $!
    wait_for 10 bash -c "munge --socket='$m/munge.sock' -n | unmunge --socket='$m/munge.sock'" ||
        die "munged did not start (see $D/munged.out, $m/munged.log)"

    local ports
    ports=$(free_ports) || die "no free TCP ports"
    set -- $ports
    cat >"$D/slurm.conf" <<EOF
# A one-node cluster written by tools/slurm-cluster.sh; no cgroups needed.
ClusterName=sweeptest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$1
SlurmdPort=$2
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$m/munge.sock
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
    # slurmd (22.05) loads a cgroup plugin even when nothing uses cgroups;
    # autodetect needs /sys/fs/cgroup mounted, which a chroot or a container
    # may lack. cgroup/v1 loads without it, and nothing here calls it.
    echo "CgroupPlugin=cgroup/v1" >"$D/cgroup.conf"
    export SLURM_CONF=$D/slurm.conf
    /usr/sbin/slurmctld -D -i </dev/null >"$D/slurmctld.out" 2>&1 &
    record slurmctld $!
    /usr/sbin/slurmd -D -N localhost </dev/null >"$D/slurmd.out" 2>&1 &
    record slurmd $!
    wait_for 30 node_idle ||
        die "the node did not become idle (see $D/slurmctld.log, $D/slurmd.log)"
    echo "export SLURM_CONF=$D/slurm.conf"
}

# A pid is gone when it no longer runs name: exited, reused, or a zombie
# (an orphaned daemon's zombie stays until its new parent reaps it).
gone() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    [ "$(cat "/proc/$1/comm" 2>/dev/null)" != "$2" ] && return 0
    [ "$(awk '{print $1}' <<<"${stat##*)}")" = Z ]
}

# TERM each daemon we recorded (only if that pid is still the program we
# started), slurmd first, then wait for each to be gone.
stop() {
    [ -e "$PIDS" ] || return 0
    export SLURM_CONF=$D/slurm.conf
    if [ -e "$SLURM_CONF" ]; then
        local jobs
        jobs=$(squeue -h -o %i 2>/dev/null)
        [ -n "$jobs" ] && scancel $jobs 2>/dev/null
        wait_for 10 bash -c '[ -z "$(squeue -h -o %i 2>/dev/null)" ]'
    fi
    local name pid left=0
    for name in slurmd slurmctld munged; do
        pid=$(awk -v n="$name" '$1 == n {print $2}' "$PIDS")
        [ -n "$pid" ] || continue
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || continue
        kill -TERM "$pid" 2>/dev/null
        if ! wait_for 20 gone "$pid" "$name"; then
            echo "slurm-cluster: $name ($pid) did not stop on TERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null
            left=1
        fi
    done
    rm -f "$PIDS"
    return $left
}

case $cmd in
start) start ;;
stop) stop ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
