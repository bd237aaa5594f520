#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for the Slurm executor's tests.
#   scripts/slurm-local.sh start    start munged, slurmctld and slurmd (idempotent); waits until idle
#   scripts/slurm-local.sh stop     stop them (by their pid files)
#   scripts/slurm-local.sh status   print whether it runs (exit 0) or not (exit 1)
# Needs root and Debian's packages: slurmctld slurmd slurm-client munge
#   (apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge).
# State lives in $RATCHET_SLURM_DIR (default /tmp/ratchet-slurm); /etc/slurm/slurm.conf is written.
set -euo pipefail
B="${RATCHET_SLURM_DIR:-/tmp/ratchet-slurm}"
N="$(hostname -s)"

pid_alive() { # a pid file's process runs and is not a zombie
  local f="$1" p
  [ -f "$f" ] || return 1
  p="$(cat "$f" 2>/dev/null)" || return 1
  [ -n "$p" ] && [ -r "/proc/$p/stat" ] || return 1
  local st; st="$(sed 's/^.*) //' "/proc/$p/stat" | cut -d' ' -f1)"
  [ "$st" != Z ] && [ "$st" != X ]
}

status() {
  pid_alive "$B/munged.pid" && pid_alive "$B/slurmctld.pid" && pid_alive "$B/slurmd.pid" && sinfo -h -o %T >/dev/null 2>&1
}

start() {
  for bin in slurmctld slurmd sbatch munged; do
    command -v "$bin" >/dev/null || [ -x "/usr/sbin/$bin" ] || { echo "slurm-local: $bin not found: apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge" >&2; exit 2; }
  done
  if status; then echo "slurm-local: already running"; return 0; fi
  stop >/dev/null 2>&1 || true
  mkdir -p "$B/state" "$B/spool" "$B/log" /run/munge /etc/slurm
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  mkdir -p /var/lib/munge /var/log/munge
  chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
  chmod 600 /etc/munge/munge.key
  chown munge:munge "$B"; chmod 755 "$B"
  runuser -u munge -- /usr/sbin/munged --pid-file="$B/munged.pid" --force
  chown root:root "$B"
  cat > /etc/slurm/slurm.conf <<CONF
ClusterName=local
SlurmctldHost=$N
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$B/state
SlurmdSpoolDir=$B/spool
SlurmctldPidFile=$B/slurmctld.pid
SlurmdPidFile=$B/slurmd.pid
SlurmctldLogFile=$B/log/slurmctld.log
SlurmdLogFile=$B/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$B/log/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
ReturnToService=2
KillWait=5
MinJobAge=300
EnforcePartLimits=ALL
NodeName=$N CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  slurmctld -i
  slurmd
  for _ in $(seq 1 300); do
    if [ "$(sinfo -h -o %T 2>/dev/null | head -1)" = idle ]; then echo "slurm-local: running ($N, $(nproc) CPUs, state in $B)"; return 0; fi
    sleep 0.1
  done
  echo "slurm-local: the node did not become idle; logs in $B/log" >&2
  tail -n 20 "$B/log/slurmctld.log" "$B/log/slurmd.log" >&2 || true
  exit 1
}

stop() {
  for d in slurmd slurmctld munged; do
    local f="$B/$d.pid"
    if pid_alive "$f"; then
      kill "$(cat "$f")" 2>/dev/null || true
      for _ in $(seq 1 100); do pid_alive "$f" || break; sleep 0.1; done
      pid_alive "$f" && kill -9 "$(cat "$f")" 2>/dev/null || true
    fi
    rm -f "$f"
  done
  echo "slurm-local: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if status; then echo "slurm-local: running"; else echo "slurm-local: not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
