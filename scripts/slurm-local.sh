#!/usr/bin/env bash
# Start/stop a throwaway one-node Slurm (plus its own munged) on localhost,
# for tests; no systemd and nothing under /etc is used or modified.
#
#   scripts/slurm-local.sh start DIR   # prints: export SLURM_CONF=DIR/slurm.conf
#   scripts/slurm-local.sh stop  DIR   # idempotent
#
# Exit 3 from `start` means "Slurm/munge not installed": callers skip.
# Env: SLURM_LOCAL_CPUS (default 8), SLURM_LOCAL_PORT (slurmctld port,
# slurmd uses +1; default 6817) so several instances can coexist,
# SLURM_LOCAL_TIMEOUT (readiness wait, default 30 s).
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
[ "$cmd" = start ] && mkdir -p "$2"
[ -d "$2" ] || exit 0   # stop on a never-started DIR: nothing to do
dir=$(cd "$2" && pwd)   # daemons chdir, so every path must be absolute

# Only signal a recorded pid if it still runs one of *our* daemons (its
# command line names DIR), so a recycled pid is never hit.
ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$dir/"; }

stop() {
    export SLURM_CONF=$dir/slurm.conf
    # Cancel jobs first and let them drain: slurmstepd is detached from
    # slurmd and would otherwise outlive it (with its tasks).
    if [ -f "$dir/slurmctld.pid" ] && ours "$(cat "$dir/slurmctld.pid")"; then
        timeout 5 scancel --quiet --user="$(id -un)" 2>/dev/null || true
        for _ in $(seq 50); do
            [ -z "$(timeout 2 squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.1
        done
    fi
    local pids=() p name
    for name in slurmd slurmctld munged; do
        [ -f "$dir/$name.pid" ] || continue
        p=$(cat "$dir/$name.pid")
        if ours "$p"; then kill -TERM "$p" 2>/dev/null || true; pids+=("$p"); fi
        rm -f "$dir/$name.pid"
    done
    # `ours`, not kill -0: our daemons get reparented to pid 1, which may
    # reap them late, and a zombie must not count as running.
    for _ in $(seq 50); do
        local alive=0
        for p in "${pids[@]}"; do ours "$p" && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for p in "${pids[@]}"; do ours "$p" && kill -KILL "$p" 2>/dev/null; done
    # Give pid 1 a moment to reap, so `pgrep slurm` right after us is clean.
    for _ in $(seq 30); do
        local left=0
        for p in "${pids[@]}"; do [ -e "/proc/$p" ] && left=1; done
        [ $left = 0 ] && break
        sleep 0.1
    done
    if [ -f "$dir/sockdir" ]; then
        local rd; rd=$(cat "$dir/sockdir")
        case $rd in /tmp/slurm-local.*) rm -rf "$rd" ;; esac
        rm -f "$dir/sockdir"
    fi
    # Straggler slurmstepds (they ignore TERM once slurmd is gone) are
    # recognisable by the slurmd log they inherited from our slurmd.
    for p in $(pgrep -x slurmstepd || true); do
        ls -l "/proc/$p/fd" 2>/dev/null | grep -qF -- "$dir/log/slurmd.log" && kill -KILL "$p" 2>/dev/null
    done
    return 0
}

dump_logs() {
    for f in "$dir"/log/*; do echo "==== $f" >&2; tail -n 20 "$f" >&2 || true; done
}

start() {
    local b
    for b in munged slurmctld slurmd srun sinfo scancel; do
        command -v "$b" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$b" >/dev/null 2>&1 \
            || { echo "slurm-local: '$b' not found; install slurm-wlm and munge (skipping)" >&2; exit 3; }
    done
    export PATH=$PATH:/usr/sbin:/sbin
    stop                                   # a restart must not leave strays
    local host cpus port
    host=$(hostname -s)
    cpus=${SLURM_LOCAL_CPUS:-8}
    port=${SLURM_LOCAL_PORT:-6817}
    # munged wants its socket dir world-searchable but not group/world-writable,
    # and a key nobody else can read.
    chmod 0755 "$dir"
    mkdir -p -m 0700 "$dir/state" "$dir/spool" "$dir/log" "$dir/run"
    # Unix sockets live in the munge socket dir and in SlurmdSpoolDir
    # (<host>_<job>.<step>): sun_path is ~108 bytes, and munged also wants
    # every ancestor of its socket world-searchable. If DIR can't satisfy
    # that, use a short private dir under /tmp for both.
    local sockdir=$dir d=$dir
    while [ "$d" != / ]; do d=$(dirname "$d"); (( 0$(stat -c %a "$d") & 1 )) || break; done
    if [ "$d" != / ] || [ ${#dir} -gt 60 ]; then
        sockdir=$(mktemp -d /tmp/slurm-local.XXXXXX); chmod 0755 "$sockdir"
        echo "$sockdir" >"$dir/sockdir"; mkdir -m 0700 "$sockdir/spool"
    fi
    [ -s "$dir/munge.key" ] || (umask 077; dd if=/dev/urandom of="$dir/munge.key" bs=1024 count=1 status=none)
    chmod 0400 "$dir/munge.key"

    cat >"$dir/slurm.conf" <<EOF
ClusterName=local
# NodeAddr/ctld address pinned to loopback: works even if the hostname doesn't resolve.
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$sockdir/munge.sock
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$sockdir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
# Empty plugstack: don't pick up site SPANK plugins from /etc/slurm.
PlugStackConfig=$dir/plugstack.conf
# No cgroups in a test VM/container.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
# Reject jobs that can never fit (e.g. -n 16 > CPUs without -O) instead of pending forever.
EnforcePartLimits=ALL
SchedulerType=sched/backfill
SelectType=select/cons_tres
# CPUs only: no memory accounting, so jobs never wait on RealMemory.
SelectTypeParameters=CR_CPU
# Trust the CPU count below instead of draining the node for having fewer real cores.
SlurmdParameters=config_overrides
SlurmdTimeout=30
InactiveLimit=0
KillWait=2
MinJobAge=10
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
# FORCE:N lets concurrent test jobs share CPUs instead of queueing.
PartitionName=local Nodes=$host Default=YES State=UP MaxTime=INFINITE OverSubscribe=FORCE:$cpus
EOF
    : >"$dir/plugstack.conf"
    export SLURM_CONF=$dir/slurm.conf

    # Foreground daemons, backgrounded here so $! is the daemon pid (setsid
    # execs in place: a non-interactive job is no group leader). Own session
    # so a caller's Ctrl-C/timeout doesn't hit them; stdio detached so callers
    # capturing our output don't hang waiting for EOF.
    setsid munged -F --key-file="$dir/munge.key" --socket="$sockdir/munge.sock" \
        --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" \
        --seed-file="$dir/run/munged.seed" </dev/null >>"$dir/log/munged.out" 2>&1 &
    echo $! >"$dir/munged.pid"
    for _ in $(seq 50); do [ -S "$sockdir/munge.sock" ] && break; sleep 0.1; done
    [ -S "$sockdir/munge.sock" ] || { echo "slurm-local: munged did not start" >&2; dump_logs; stop; exit 1; }
    setsid slurmctld -D -c -f "$dir/slurm.conf" </dev/null >>"$dir/log/slurmctld.out" 2>&1 &
    echo $! >"$dir/slurmctld.pid"
    setsid slurmd -D -f "$dir/slurm.conf" -N "$host" </dev/null >>"$dir/log/slurmd.out" 2>&1 &
    echo $! >"$dir/slurmd.pid"

    local deadline=$((SECONDS + ${SLURM_LOCAL_TIMEOUT:-30}))
    until [ "$(sinfo -h -n "$host" -o %t 2>/dev/null)" = idle ] \
          && timeout 10 srun -n 1 true </dev/null >/dev/null 2>&1; do
        local dead="" n
        for n in munged slurmctld slurmd; do ours "$(cat "$dir/$n.pid")" || dead+=" $n"; done
        if [ -n "$dead" ] || [ $SECONDS -ge $deadline ]; then
            echo "slurm-local: cluster in $dir not ready after $((SECONDS - deadline + ${SLURM_LOCAL_TIMEOUT:-30}))s${dead:+ (exited:$dead)}" >&2
            sinfo -N -l >&2 2>&1 || true
            dump_logs; stop; exit 1
        fi
        sleep 0.5
    done
    echo "export SLURM_CONF=$dir/slurm.conf"
}

case $cmd in
    start) start ;;
    stop)  stop ;;
    *)     usage ;;
esac
