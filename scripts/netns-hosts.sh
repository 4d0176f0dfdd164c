#!/bin/bash
# Simulated multi-host test bed on one machine (root only).
#   netns-hosts.sh up N DIR   hosts lt-h1..lt-hN, state (pids, hosts file, boot ids) in DIR
#   netns-hosts.sh down [DIR] tear everything down; safe to repeat
# Each host has its own net, UTS, IPC, mount and PID namespace, a private /dev/shm and its
# own boot_id, so shared-memory transports (libfabric shm, UCX posix/sysv, MPICH) cannot see
# each other across hosts and must take the network path (veth "lt0" -> bridge "lt-br0").
# And its own CPUs (host K gets the machine's CPUs C with C mod N = K-1, or one shared CPU
# when there are more hosts than CPUs; netns-exec binds what it starts to them): a host that
# saw every CPU of the machine would count only its own PEs against them and not give the
# CPU away while it waits, though the other hosts' PEs run there too.
# Enter a host with scripts/netns-exec HOST CMD (LT_NETNS_DIR=DIR), which hydra uses as its
# ssh launcher. up exits 3 (callers skip) when this machine cannot host the test bed.
set -Eeuo pipefail

NET=10.231.0          # private /24 used only for these hosts; .1 is the bridge (root ns)
BR=lt-br0
addr() { echo "$NET.$((10 + $1))"; }   # lt-hK -> 10.231.0.(10+K)

skip() { echo "netns-hosts: skipping: $*" >&2; exit 3; }

live_pids() {
    local ns
    for ns in $(ip netns list 2>/dev/null | awk '/^lt-h[0-9]+( |$)/{print $1}'); do
        ip netns pids "$ns" 2>/dev/null || true
    done
}

down() {
    local ns pids
    # Kill everything in each host's netns: the unshare parent and the pid-ns init (whose death
    # takes the rest of that pid namespace with it), plus anything a test left behind.
    for ns in $(ip netns list 2>/dev/null | awk '/^lt-h[0-9]+( |$)/{print $1}'); do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
    done
    # The holders' mount namespaces hold copies of /run/netns; wait until they are gone so the
    # netns (and with it the veth ends inside) is freed right away, not later.
    for _ in $(seq 50); do
        [ -z "$(live_pids)" ] && break; sleep 0.1
    done
    for ns in $(ip netns list 2>/dev/null | awk '/^lt-h[0-9]+( |$)/{print $1}'); do
        ip netns del "$ns" 2>/dev/null || true
    done
    # Root-side veth ends normally vanish with their netns; delete leftovers explicitly.
    for l in $(ip -o link show 2>/dev/null | awk -F'[ :@]+' '$2 ~ /^lt-v[0-9]+$/ {print $2}'); do
        ip link del "$l" 2>/dev/null || true
    done
    ip link del "$BR" 2>/dev/null || true
    # ip netns add bind-mounts /run/netns on itself; undo that when no netns is left in it.
    if [ -d /run/netns ] && [ -z "$(ls -A /run/netns)" ]; then
        umount /run/netns 2>/dev/null || true; rmdir /run/netns 2>/dev/null || true
    fi
    if [ -n "${1:-}" ] && [ -d "$1" ]; then
        rm -f "$1"/lt-h*.pid "$1"/lt-h*.boot_id "$1"/lt-h*.cpus "$1"/hosts
        rmdir "$1" 2>/dev/null || true    # only if we left it empty
    fi
}

# The CPUs of host K of N, as taskset -c takes them: those of this process's mask whose
# position in it is K-1 mod N; with fewer CPUs than hosts, position (K-1) mod (CPU count).
host_cpus() {
    local k=$1 n=$2 cpus=() mine=() i
    read -ra cpus <<< "$(taskset -pc $$ | sed 's/.*: //; s/,/ /g' | awk '{for (i = 1; i <= NF; i++) { split($i, r, "-"); for (c = r[1]; c <= (r[2] == "" ? r[1] : r[2]); c++) printf "%d ", c }}')"
    if [ "${#cpus[@]}" -lt "$n" ]; then
        echo "${cpus[$(( (k - 1) % ${#cpus[@]} ))]}"; return
    fi
    for i in "${!cpus[@]}"; do
        [ $(( i % n )) = $(( k - 1 )) ] && mine+=("${cpus[$i]}")
    done
    (IFS=,; echo "${mine[*]}")
}

up() {
    local n=$1 dir=$2 k h upid hpid
    [[ $n =~ ^[1-9][0-9]*$ ]] && [ "$n" -le 200 ] || { echo "N must be 1..200" >&2; exit 2; }
    [ "$(id -u)" = 0 ] || skip "not root"
    for t in ip unshare nsenter setsid taskset; do command -v $t >/dev/null || skip "$t not found"; done
    if ip link show "$BR" >/dev/null 2>&1 || ip netns list | grep "^lt-h" >/dev/null; then
        # A test bed whose hosts still run something belongs to another run: leave it alone.
        # One with no process left is what a killed run left behind: clear it and go on.
        if [ -n "$(live_pids)" ]; then
            echo "netns-hosts: in use by another run; \"$0 down DIR\" ends it" >&2; exit 1
        fi
        echo "netns-hosts: clearing a test bed left by an earlier run" >&2
        down
    fi
    ip link add "$BR" type bridge 2>/dev/null || skip "cannot create a bridge (kernel/no CAP_NET_ADMIN)"
    trap 'echo "netns-hosts: up failed, tearing down" >&2; down "$dir"' ERR
    ip addr add "$NET.1/24" dev "$BR"
    ip link set "$BR" up

    mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
    # One hosts file for every host. hydra's proxies dial back to "$(hostname):port", so the root
    # ns's name must resolve to the bridge address (the root's own /etc/hosts says 127.0.0.1).
    { echo "127.0.0.1 localhost"; echo "$NET.1 $(hostname)"
      for k in $(seq "$n"); do echo "$(addr "$k") lt-h$k"; done; } > "$dir/hosts"

    for k in $(seq "$n"); do
        h=lt-h$k
        ip netns add "$h"        # named netns: lets `ip -n lt-hK ...` configure and inspect it
        ip link add "lt-v$k" type veth peer name lt0 netns "$h"
        ip link set "lt-v$k" master "$BR" up
        ip -n "$h" link set lo up
        ip -n "$h" addr add "$(addr "$k")/24" dev lt0
        ip -n "$h" link set lt0 up   # no default route: nothing can leave this /24
        cat /proc/sys/kernel/random/uuid > "$dir/$h.boot_id"
        host_cpus "$k" "$n" > "$dir/$h.cpus"
        rm -f "$dir/$h.ready"
        # Holder: init of a fresh pid ns whose mount ns gets its own /proc, /dev/shm, /etc/hosts
        # and boot_id. unshare's default propagation is private, so none of it leaks to the root.
        # A fresh sysfs, because sysfs shows the mounter's netns: UCX lists tcp devices from
        # /sys/class/net and would not see lt0 otherwise (the cgroup tree is carried over via /mnt).
        # --kill-child: if the unshare parent dies, the whole host dies with it. As pid 1 the
        # shell must reap orphans (ranks left by a killed mpiexec); its wait loop does that.
        setsid nsenter --net="/run/netns/$h" -- \
            unshare --uts --ipc --mount --pid --fork --mount-proc --kill-child \
            /bin/sh -c 'hostname "$1" &&
                        mount -t tmpfs -o mode=1777 shm /dev/shm &&
                        mount --rbind /sys/fs/cgroup /mnt && mount -t sysfs sysfs /sys &&
                        mount --move /mnt /sys/fs/cgroup &&
                        mount --bind "$2/$1.boot_id" /proc/sys/kernel/random/boot_id &&
                        mount --bind "$2/hosts" /etc/hosts &&
                        touch "$2/$1.ready" &&
                        while :; do sleep 86400 & wait $!; done' sh "$h" "$dir" \
            </dev/null >/dev/null 2>"$dir/$h.log" &
        upid=$!
        # Record the pid-ns init (the unshare child), the only pid nsenter --pid can target.
        for _ in $(seq 100); do
            [ -e "$dir/$h.ready" ] && break
            kill -0 "$upid" 2>/dev/null || { cat "$dir/$h.log" >&2; false; }
            sleep 0.05
        done
        [ -e "$dir/$h.ready" ] || { echo "netns-hosts: $h holder not ready" >&2; false; }
        hpid=$(cat "/proc/$upid/task/$upid/children")
        echo "${hpid// /}" > "$dir/$h.pid"
        rm -f "$dir/$h.ready" "$dir/$h.log"
    done
    trap - ERR
    echo "netns-hosts: up lt-h1..lt-h$n ($NET.11..) bridge $BR $NET.1; export LT_NETNS_DIR=$dir"
}

case "${1:-}" in
    up)   [ $# = 3 ] || { echo "usage: $0 up N DIR" >&2; exit 2; }; up "$2" "$3" ;;
    down) [ "$(id -u)" = 0 ] || { echo "netns-hosts: down needs root" >&2; exit 1; }; down "${2:-}" ;;
    *)    echo "usage: $0 up N DIR | down [DIR]" >&2; exit 2 ;;
esac
