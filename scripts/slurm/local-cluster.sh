#!/usr/bin/env bash
# A single-node Slurm cluster on 127.0.0.1 for tests, as root, without systemd: munged, slurmctld
# and slurmd with all their files in one directory, stopped by PID.
# Usage: scripts/slurm/local-cluster.sh start DIR   (prints the export line for SLURM_CONF)
#        scripts/slurm/local-cluster.sh stop DIR
set -euo pipefail
cmd=${1:?start or stop}; D=$(realpath -m "${2:?directory}")
case "$cmd" in
start)
  mkdir -p "$D/munge" "$D/spool/ctld" "$D/spool/d" "$D/log"
  chmod 755 "$D" "$D/munge"
  dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$D/munge/munge.key"
  munged --key-file="$D/munge/munge.key" --socket="$D/munge/munge.socket" --pid-file="$D/munge/munged.pid" \
         --log-file="$D/log/munged.log" --seed-file="$D/munge/munged.seed"
  host=$(hostname -s)
  cat > "$D/slurm.conf" <<CONF
ClusterName=prefkit-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$D/munge/munge.socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
MpiDefault=none
SchedulerParameters=batch_sched_delay=0
MinJobAge=4
ReturnToService=2
SlurmctldPort=$((6817 + RANDOM % 1000))
SlurmdPort=$((7817 + RANDOM % 1000))
StateSaveLocation=$D/spool/ctld
SlurmdSpoolDir=$D/spool/d
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$D/slurm.conf"
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF"
  for _ in $(seq 1 100); do
    if sinfo -h -o %T 2>/dev/null | grep -qx idle; then echo "export SLURM_CONF=$SLURM_CONF"; exit 0; fi
    sleep 0.2
  done
  echo "slurm did not come up; see $D/log" >&2; exit 1 ;;
stop)
  for p in slurmd slurmctld munge/munged; do
    [ -f "$D/$p.pid" ] && kill "$(cat "$D/$p.pid")" 2>/dev/null || true
  done
  sleep 0.5 ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
