#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, to try `scalefit sweep --executor slurm` (and to test it in CI).
#
#   sudo scripts/local-slurm.sh          # then: sinfo; scalefit sweep ... --executor slurm --partition debug
#   sudo scripts/local-slurm.sh stop     # stops the daemons it started
#
# Installs slurm-wlm and munge with apt-get when they are missing (Debian, Ubuntu), writes /etc/slurm/slurm.conf
# for one node sized from this machine (nproc CPUs, 90% of MemTotal, no GPU) with one partition `debug` (the
# default, no time limit), no accounting storage and no cgroups (proctrack/linuxproc, task/none: it runs in a
# container), creates the munge key when missing, starts munged, slurmctld and slurmd as root, and waits until
# the node is idle. Idempotent: when the daemons already run and the node answers, it says so and exits 0.
# A slurm.conf this script did not write is never overwritten.
# Environment: SLURM_PARTITION (default debug), SLURM_WAIT_S (default 60).
set -euo pipefail

PARTITION=${SLURM_PARTITION:-debug}
WAIT_S=${SLURM_WAIT_S:-60}
CONF=/etc/slurm/slurm.conf
MARK="# written by scalefit scripts/local-slurm.sh"
STATE=/var/lib/slurm-local
LOGS=/var/log/slurm-local

step() { echo "local-slurm: $*"; }
die() { echo "local-slurm: error: $*" >&2; exit 1; }
alive() {  # the daemon whose pid file is $1 runs (and is not a zombie)
    local pid
    pid=$(cat "$1" 2>/dev/null) && [ -n "$pid" ] && [ -r "/proc/$pid/status" ] \
        && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status"
}
running() { ps -eo stat=,comm= | awk -v name="$1" '$2 == name && $1 !~ /^Z/ {found = 1} END {exit !found}'; }
node_state() { sinfo -h -p "$PARTITION" -o %t 2>/dev/null | head -n1; }  # idle, mix, down*, drain, ...
node_ready() {  # up and responding (a trailing * : not responding)
    case "$(node_state)" in *'*'*) return 1 ;; idle*|mix*|alloc*|comp*) return 0 ;; esac
    return 1
}

stop_pidfile() {  # stop the daemon $2 whose pid the file $1 holds (if that pid is still $2), and wait for it
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 0
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do alive "$1" || return 0; sleep 0.1; done
}

if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "run as root (munged, slurmctld and slurmd are started as root)"
    exec sudo -E "$0" "$@"
fi

if [ "${1:-}" = stop ]; then
    stop_pidfile /run/slurmd-local.pid slurmd
    stop_pidfile /run/slurmctld-local.pid slurmctld
    stop_pidfile /run/munge/munged.pid munged
    step "stopped slurmd, slurmctld and munged"
    exit 0
fi

# 1. Already up? A second run is quick and changes nothing.
if alive /run/munge/munged.pid && alive /run/slurmctld-local.pid && alive /run/slurmd-local.pid && node_ready; then
    step "already running: partition $PARTITION, node $(sinfo -h -p "$PARTITION" -o '%n %c CPUs %m MB %t' | head -n1)"
    exit 0
fi

# 2. Packages.
if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sinfo >/dev/null \
    && command -v munged >/dev/null; then
    step "slurm-wlm and munge are installed ($(slurmctld -V 2>/dev/null || echo slurm))"
else
    command -v apt-get >/dev/null || die "slurm-wlm and munge are missing and there is no apt-get; install them"
    step "installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    APT_LOG=$(mktemp /tmp/local-slurm-apt.XXXXXX)
    install() { apt-get install -y -q --no-install-recommends slurm-wlm munge >>"$APT_LOG" 2>&1; }
    if ! install && ! { apt-get update -q >>"$APT_LOG" 2>&1 && install; }; then
        tail -n 5 "$APT_LOG" >&2
        die "apt-get install slurm-wlm munge failed (log: $APT_LOG)"
    fi
    rm -f "$APT_LOG"
fi

# 3. Configuration, sized from this machine.
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    die "$CONF exists and was not written by this script; refusing to overwrite it (move it away to use this script)"
fi
mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d" "$LOGS"
cat >"$CONF.new" <<EOF
$MARK: a single-node cluster for trying scalefit
ClusterName=scalefit-local
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=/run/slurmctld-local.pid
SlurmdPidFile=/run/slurmd-local.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$((MEM_MB / CPUS))
ReturnToService=2
MpiDefault=none
KillWait=5
MinJobAge=300
InactiveLimit=0
SlurmdTimeout=60
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
mv "$CONF.new" "$CONF"
step "wrote $CONF: node $HOST with $CPUS CPUs and $MEM_MB MB, partition $PARTITION (default)"

# 4. munge.
if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    if command -v mungekey >/dev/null; then mungekey --create --keyfile=/etc/munge/munge.key --force
    else dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; fi
    chown munge:munge /etc/munge/munge.key 2>/dev/null || true
    chmod 0400 /etc/munge/munge.key
    step "created the munge key /etc/munge/munge.key"
else
    step "munge key /etc/munge/munge.key exists"
fi
if alive /run/munge/munged.pid; then
    step "munged is running"
else
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
    if id munge >/dev/null 2>&1; then runuser -u munge -- munged; else munged --force; fi
    step "started munged"
fi
munge -n | unmunge >/dev/null || die "munge does not work (see /var/log/munge/munged.log)"

# 5. Slurm daemons (ones this script started are restarted, to read the configuration just written).
stop_pidfile /run/slurmd-local.pid slurmd
stop_pidfile /run/slurmctld-local.pid slurmctld
for daemon in slurmctld slurmd; do
    if running "$daemon"; then die "a $daemon this script did not start is running; stop it first"; fi
done
slurmctld
step "started slurmctld"
for _ in $(seq 50); do scontrol ping >/dev/null 2>&1 && break; sleep 0.2; done
slurmd
step "started slurmd"

# 6. Wait for the node.
for _ in $(seq $((WAIT_S * 2))); do
    if node_ready; then
        step "ready: $(sinfo -h -p "$PARTITION" -o 'partition %P, node %n, %c CPUs, %m MB, %t' | head -n1)"
        exit 0
    fi
    case "$(node_state)" in drain*|down*) scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true ;; esac
    sleep 0.5
done
tail -n 5 "$LOGS/slurmctld.log" "$LOGS/slurmd.log" >&2 || true
die "the node is not idle after ${WAIT_S}s (state: $(node_state)); see $LOGS/"
