#!/usr/bin/env bash
# A single-node Slurm cluster in a scratch folder, for the Slurm tests (and for trying `batchwise slurm`
# by hand): munged, slurmctld and slurmd from Debian's slurm-wlm and munge packages, without cgroups.
#   local_cluster.sh start DIR   starts them (as root), waits until the node is idle, prints the env to use
#   local_cluster.sh stop DIR    stops what `start DIR` started (by the pids it wrote), nothing else
# Everything it writes is under DIR; its own munge socket and ports keep it apart from a system Slurm.
# Exit 77 from start: Slurm cannot start here (not root, packages missing); the message says which.
set -euo pipefail
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)

stop() {
  for name in slurmd slurmctld munged; do
    pidfile="$dir/$name.pid"
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

skip() { echo "slurm cannot start here: $*" >&2; exit 77; }

start() {
  [ "$(id -u)" -eq 0 ] || skip "slurmd must run as root (this is uid $(id -u))"
  for tool in munged slurmctld slurmd sbatch scontrol sinfo; do
    command -v "$tool" >/dev/null || skip "$tool not found: apt-get install slurm-wlm munge (scripts/install_deps.sh does)"
  done
  id munge >/dev/null 2>&1 || skip "no munge user: apt-get install munge"
  stop  # a start after a crashed run begins clean
  rm -rf "$dir/state" "$dir/spool" "$dir/munge" "$dir/munge-key"
  mkdir -p "$dir/state" "$dir/spool" "$dir/munge" "$dir/munge-key"
  # munge: its own key, socket and files, owned by the munge user it runs as (the socket's folder must
  # be open to all, the key's to munge alone: munged checks both).
  dd if=/dev/urandom of="$dir/munge-key/munge.key" bs=1024 count=1 status=none
  chmod 755 "$dir/munge"; chmod 700 "$dir/munge-key"; chmod 400 "$dir/munge-key/munge.key"
  chown -R munge:munge "$dir/munge" "$dir/munge-key"
  local socket="$dir/munge/munge.socket"
  su -s /bin/sh munge -c "munged --key-file=$dir/munge-key/munge.key --socket=$socket \
      --pid-file=$dir/munge/munged.pid --log-file=$dir/munge/munged.log --seed-file=$dir/munge/munged.seed" \
      || skip "munged did not start (see $dir/munge/munged.log)"
  cp "$dir/munge/munged.pid" "$dir/munged.pid"
  munge -S "$socket" -n | unmunge -S "$socket" >/dev/null || skip "munge does not answer on $socket"

  # Ports from the folder's name, so two clusters (two checkouts) on one machine do not meet.
  local base=$(( 20000 + $(printf '%s' "$dir" | cksum | cut -d' ' -f1) % 20000 ))
  local host; host=$(hostname -s)
  cat > "$dir/slurm.conf" <<CONF
ClusterName=batchwise-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$base
SlurmdPort=$(( base + 1 ))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerTimeSlice=5
JobRequeue=1
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
InactiveLimit=0
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=4000 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$SLURM_CONF" || skip "slurmctld did not start (see $dir/slurmctld.log)"
  slurmd -f "$SLURM_CONF" || skip "slurmd did not start (see $dir/slurmd.log)"
  for _ in $(seq 100); do
    if sinfo -h -o '%t' 2>/dev/null | grep -qx idle; then
      echo "SLURM_CONF=$SLURM_CONF"
      return 0
    fi
    sleep 0.2
  done
  skip "the node did not become idle in 20 s: $(sinfo -h 2>&1 | head -3) (see $dir/slurmctld.log, $dir/slurmd.log)"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
