#!/usr/bin/env bash
# A real Slurm on this machine for the tests: a private munged, one slurmctld and one slurmd
# per fake node, all on 127.0.0.1, with fake GPUs as gres. Debian 12 (slurm-wlm 22.05), root,
# no systemd. Everything lives in STATE_DIR (nothing in /etc); clients need only
# `export SLURM_CONF=STATE_DIR/etc/slurm.conf` (the `env` command prints it).
#
#   slurm-test-cluster.sh STATE_DIR up           install missing packages, configure, start, wait
#                                                until every node is idle (idempotent; a cold
#                                                start forgets the jobs of an earlier cluster)
#   slurm-test-cluster.sh STATE_DIR down         cancel the jobs, stop the daemons (PID files),
#                                                end leftover slurmstepd and job processes
#   slurm-test-cluster.sh STATE_DIR status       daemons and nodes
#   slurm-test-cluster.sh STATE_DIR env          prints `export SLURM_CONF=...`
#   slurm-test-cluster.sh STATE_DIR kill-node N  a node crash: SIGKILL N's slurmd, slurmstepds
#                                                and job processes
#   slurm-test-cluster.sh STATE_DIR start-node N start N's slurmd again, wait until it is idle
#   slurm-test-cluster.sh STATE_DIR restart-ctld stop slurmctld and start it again (its state
#                                                is kept: jobs survive); also stop-ctld and
#                                                start-ctld, its two halves
#
# Environment: STRAITS_SLURM_NODES, nodes as TYPE:GPUS_PER_NODE:COUNT,... (default
# "h800:8:2,h100:8:2": nodes h800-1, h800-2, h100-1, h100-2; a partition per GPU type and a
# default partition `gpu` of every node). STRAITS_SLURM_PORT overrides the base port, which is
# otherwise derived from STATE_DIR so that clusters of two build trees do not clash: slurmctld
# listens on it, the slurmds on the ports after it.
#
# Fake GPUs are character devices (clones of /dev/null); SlurmdTimeout is 10 s, so a killed
# node is DOWN within about 20 s; finished jobs stay visible to squeue/scontrol for an hour
# (MinJobAge); no accounting database (sacct says so), jobcomp/filetxt keeps a record of ended
# jobs in STATE_DIR/log/jobcomp.txt.
set -euo pipefail

usage() {
  echo "usage: $0 STATE_DIR up|down|status|env|kill-node NAME|start-node NAME|restart-ctld|stop-ctld|start-ctld" >&2
  exit 2
}
[ $# -ge 2 ] || usage
D=$1
CMD=$2
NODE_ARG=${3:-}
case "$D" in /*) ;; *) echo "slurm-test-cluster: STATE_DIR must be absolute: $D" >&2; exit 2 ;; esac
D=${D%/}
CONF=$D/etc/slurm.conf
SPEC=${STRAITS_SLURM_NODES:-h800:8:2,h100:8:2}
PKGS="slurmctld slurmd slurm-client munge"
# 10000-31980 in steps of 20: below the kernel's ephemeral range (32768-60999), 19 slurmd ports
# after slurmctld's.
BASE_PORT=${STRAITS_SLURM_PORT:-$((10000 + ($(printf '%s' "$D" | cksum | cut -d' ' -f1) % 1100) * 20))}

NL=$'\n'
log() { printf '[slurm-test-cluster] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (slurmd runs jobs as their users)"

slurm() { SLURM_CONF=$CONF "$@"; }

alive() { # alive PIDFILE: the process named in it runs (and is not a zombie)
  local p
  p=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$p" ] && [ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null
}

wait_for() { # wait_for SECONDS CMD...: every 0.1 s until CMD succeeds; false after SECONDS
  local end=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt "$end" ] || return 1
    sleep 0.1
  done
}

log_tail() { # log_tail FILE: its last lines, indented, for error messages
  if [ -s "$1" ]; then tail -n 15 "$1" | sed 's/^/    /'; else echo "    ($1 is empty or missing)"; fi
}

nodes() { # "name type gpus port" per node, from the spec
  local i=0 g type n c k groups
  IFS=, read -ra groups <<<"$SPEC"
  for g in "${groups[@]}"; do
    IFS=: read -r type n c <<<"$g"
    [[ "$type" =~ ^[a-z0-9]+$ && "$n" =~ ^[1-9][0-9]*$ && "$c" =~ ^[1-9][0-9]*$ ]] ||
      die "STRAITS_SLURM_NODES: '$g' is not TYPE:GPUS_PER_NODE:COUNT (e.g. h100:8:2)"
    for k in $(seq 1 "$c"); do
      i=$((i + 1))
      [ $i -le 19 ] || die "STRAITS_SLURM_NODES: at most 19 nodes"
      echo "$type-$k $type $n $((BASE_PORT + i))"
    done
  done
}

configured_nodes() { # node names of the installed slurm.conf
  sed -n 's/^NodeName=\([^ ]*\) .*/\1/p' "$CONF" 2>/dev/null
}

install_packages() {
  local missing="" p
  for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  log "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

write_config() { # into $D/etc.new; true when it differs from the installed one
  local maxg=0 name type n port types="" t
  mkdir -p "$D"/etc.new "$D"/state "$D"/log "$D"/run "$D"/dev "$D"/munge "$D"/munge-run "$D"/spool
  chmod 755 "$D" "$D/etc.new"
  while read -r name type n port; do
    [ "$n" -gt "$maxg" ] && maxg=$n
    mkdir -p "$D/spool/$name"
  done < <(nodes)
  # gres/gpu needs File= naming character devices: clones of /dev/null (c 1 3) will do.
  for ((i = 0; i < maxg; i++)); do
    [ -c "$D/dev/gpu$i" ] || mknod -m 666 "$D/dev/gpu$i" c 1 3
  done
  chown slurm:slurm "$D/state" "$D/log" "$D/run"
  chown munge:munge "$D/munge" "$D/munge-run"
  chmod 700 "$D/munge"
  chmod 755 "$D/munge-run"
  {
    cat <<EOF
# Written by scripts/slurm-test-cluster.sh: a test cluster on 127.0.0.1.
ClusterName=straits
SlurmctldHost=localhost
SlurmctldPort=$BASE_PORT
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$D/munge-run/munge.sock
CredType=cred/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool/%n
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd-%n.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd-%n.log
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,bf_interval=5,sched_interval=10
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$D/log/jobcomp.txt
MpiDefault=none
ReturnToService=2
SlurmdTimeout=10
SlurmctldTimeout=10
MessageTimeout=5
KillWait=5
MinJobAge=3600
GresTypes=gpu
EOF
    while read -r name type n port; do
      echo "NodeName=$name NodeHostname=localhost NodeAddr=127.0.0.1 Port=$port CPUs=64 RealMemory=512000 Gres=gpu:$type:$n Feature=$type State=UNKNOWN"
      case " $types " in *" $type "*) ;; *) types="$types $type" ;; esac
    done < <(nodes)
    echo "PartitionName=gpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
    for t in $types; do
      echo "PartitionName=$t Nodes=$(nodes | awk -v t="$t" '$2 == t { printf "%s%s", s, $1; s = "," }') MaxTime=INFINITE State=UP"
    done
  } >"$D/etc.new/slurm.conf"
  {
    echo "AutoDetect=off"
    while read -r name type n port; do
      echo "NodeName=$name Name=gpu Type=$type File=$D/dev/gpu[0-$((n - 1))]"
    done < <(nodes)
  } >"$D/etc.new/gres.conf"
  ! cmp -s "$D/etc.new/slurm.conf" "$D/etc/slurm.conf" || ! cmp -s "$D/etc.new/gres.conf" "$D/etc/gres.conf"
}

install_config() {
  mkdir -p "$D/etc"
  chmod 755 "$D/etc"
  cp "$D/etc.new/slurm.conf" "$D/etc.new/gres.conf" "$D/etc/"
  rm -rf "$D/etc.new"
  if [ ! -s "$D/munge/munge.key" ]; then
    dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
  fi
  chown munge:munge "$D/munge/munge.key"
  chmod 400 "$D/munge/munge.key"
}

start_munged() {
  alive "$D/munge-run/munged.pid" && return 0
  rm -f "$D/munge-run/munge.sock"*
  runuser -u munge -- /usr/sbin/munged --socket="$D/munge-run/munge.sock" \
    --key-file="$D/munge/munge.key" --log-file="$D/munge/munged.log" \
    --pid-file="$D/munge-run/munged.pid" --seed-file="$D/munge/munged.seed" ||
    die "munged did not start:$NL$(log_tail "$D/munge/munged.log")"
  wait_for 10 sh -c "munge -S '$D/munge-run/munge.sock' -n | unmunge -S '$D/munge-run/munge.sock'" ||
    die "munged does not answer on $D/munge-run/munge.sock:$NL$(log_tail "$D/munge/munged.log")"
}

ctld_answers() { slurm scontrol ping 2>/dev/null | grep -q 'is UP'; }

start_ctld() {
  if ! alive "$D/run/slurmctld.pid"; then
    slurm slurmctld -f "$CONF" >>"$D/log/slurmctld.out" 2>&1 ||
      die "slurmctld did not start (port $BASE_PORT):$NL$(log_tail "$D/log/slurmctld.log")$NL$(log_tail "$D/log/slurmctld.out")"
  fi
  local end=$((SECONDS + 20)) since=$SECONDS
  until ctld_answers; do
    # slurmctld forks and the child writes the PID file: a while without a live one is a death.
    if alive "$D/run/slurmctld.pid"; then since=$SECONDS; fi
    if [ $SECONDS -ge "$end" ] || [ $((SECONDS - since)) -ge 3 ]; then
      die "slurmctld does not answer on port $BASE_PORT:$NL$(log_tail "$D/log/slurmctld.log")"
    fi
    sleep 0.1
  done
}

start_slurmd() { # start_slurmd NAME
  alive "$D/run/slurmd-$1.pid" && return 0
  # STRAITS_SLURM_NODE marks the node's processes (slurmstepd keeps slurmd's environment) so
  # that kill-node finds them.
  env SLURM_CONF="$CONF" STRAITS_SLURM_NODE="$1" slurmd -f "$CONF" -N "$1" >>"$D/log/slurmd-$1.out" 2>&1 ||
    die "slurmd $1 did not start:$NL$(log_tail "$D/log/slurmd-$1.log")$NL$(log_tail "$D/log/slurmd-$1.out")"
}

node_state() { slurm sinfo -h -N -n "$1" -o '%T' 2>/dev/null | head -n 1; }

nodes_idle() { # every node (or those named) idle, mixed or allocated: ready for jobs
  local bad
  bad=$(slurm sinfo -h -N ${1:+-n "$1"} -o '%N %T' | awk '$2 !~ /^(idle|mixed|allocated)$/')
  [ -z "$bad" ]
}

slurmds_alive() { # every slurmd (or NAME's) runs
  local name
  for name in ${1:-$(configured_nodes)}; do alive "$D/run/slurmd-$name.pid" || return 1; done
}

wait_nodes() { # wait_nodes [NAME]
  local end=$((SECONDS + 30)) since=$SECONDS ready=0
  until nodes_idle "${1:-}" 2>/dev/null; do
    if slurmds_alive "${1:-}"; then since=$SECONDS; fi
    if [ $SECONDS -ge "$end" ] || [ $((SECONDS - since)) -ge 3 ]; then break; fi
    sleep 0.1
  done
  nodes_idle "${1:-}" 2>/dev/null && ready=1
  if [ $ready = 0 ]; then
    slurm sinfo -N -o '%N %T %E' >&2 || true
    local f
    for f in "$D"/log/slurmd-${1:-*}.log; do
      [ -e "$f" ] && { echo "  $f:" >&2; log_tail "$f" >&2; }
    done
    die "nodes not ready (a slurmd that died, or 30 s without every node idle)"
  fi
}

up() {
  local t0 name type n port
  t0=$(date +%s%N)
  install_packages
  id slurm >/dev/null 2>&1 || die "user slurm missing (the slurmctld package creates it)"
  if write_config; then
    if alive "$D/run/slurmctld.pid"; then
      log "configuration changed: restarting the cluster"
      down
    fi
  fi
  install_config
  if ! alive "$D/run/slurmctld.pid"; then
    # A cold start: forget the jobs of an earlier cluster in this folder, so that job ids and
    # names seen by the tests are this run's only.
    rm -rf "${D:?}/state"/* "${D:?}/spool"/*/* 2>/dev/null || true
  fi
  start_munged
  start_ctld
  while read -r name type n port; do start_slurmd "$name"; done < <(nodes)
  wait_nodes
  log "up in $((($(date +%s%N) - t0) / 1000000)) ms, slurmctld port $BASE_PORT: $(slurm sinfo -h -o '%P %D %T %G' | tr '\n' ';')"
  echo "export SLURM_CONF=$CONF"
}

kill_pidfile() { # kill_pidfile FILE [SIGNAL]: stop the process, wait until it is gone
  alive "$1" || {
    rm -f "$1"
    return 0
  }
  local p
  p=$(cat "$1" 2>/dev/null) || return 0
  kill "-${2:-TERM}" "$p" 2>/dev/null || true
  wait_for 10 sh -c "[ ! -d /proc/$p ] || grep -q '^State:.*Z' /proc/$p/status" ||
    kill -9 "$p" 2>/dev/null || true
  rm -f "$1"
}

cluster_pids() { # cluster_pids [NODE]: slurmstepd and job processes of this cluster (of NODE)
  local p env comm
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = $$ ] && continue
    env=$(tr '\0' '\n' 2>/dev/null <"/proc/$p/environ") || continue
    grep -qxF "SLURM_CONF=$CONF" <<<"$env" || continue
    comm=$(cat 2>/dev/null <"/proc/$p/comm") || continue
    case "$comm" in slurmd | slurmctld | munged) continue ;; esac
    # slurmstepd keeps slurmd's environment (STRAITS_SLURM_NODE), job processes get
    # SLURMD_NODENAME from Slurm.
    if [ "$comm" = slurmstepd ]; then
      [ -z "${1:-}" ] || grep -qxF "STRAITS_SLURM_NODE=$1" <<<"$env" || continue
    elif grep -q '^SLURM_JOB_ID=' <<<"$env"; then
      [ -z "${1:-}" ] || grep -qxF "SLURMD_NODENAME=$1" <<<"$env" || continue
    else
      continue
    fi
    echo "$p"
  done
}

sweep() { # sweep [NODE] [SIGNAL]: end the cluster's (the node's) leftover job processes
  local pids
  pids=$(cluster_pids "${1:-}" | tr '\n' ' ')
  [ -n "${pids// /}" ] || return 0
  log "killing job processes${1:+ of node $1}: $pids"
  # shellcheck disable=SC2086
  kill "-${2:-TERM}" $pids 2>/dev/null || true
  [ "${2:-TERM}" = KILL ] && return 0
  # shellcheck disable=SC2086
  wait_for 3 sh -c "for p in $pids; do [ -d /proc/\$p ] && ! grep -q '^State:.*Z' /proc/\$p/status && exit 1; done; exit 0" ||
    kill -9 $pids 2>/dev/null || true
}

down() {
  local f ids
  if alive "$D/run/slurmctld.pid" && ctld_answers; then # cancel first: slurmstepds end cleanly
    ids=$(slurm timeout 5 squeue -h -o %i -t pending,running,suspended,completing,configuring 2>/dev/null || true)
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086
      slurm timeout 5 scancel $ids 2>/dev/null || true
      wait_for 10 sh -c "[ -z \"\$(SLURM_CONF='$CONF' squeue -h -o %i -t running,completing)\" ]" ||
        log "jobs still listed after scancel; killing them"
    fi
  fi
  # Every slurmd at once (each takes a moment to end), then wait for each.
  for f in "$D"/run/slurmd-*.pid; do alive "$f" && { kill "$(cat "$f" 2>/dev/null)" 2>/dev/null || true; }; done
  for f in "$D"/run/slurmd-*.pid; do [ -e "$f" ] && kill_pidfile "$f"; done
  kill_pidfile "$D/run/slurmctld.pid"
  sweep
  kill_pidfile "$D/munge-run/munged.pid"
  log "down"
}

known_node() {
  [ -n "$NODE_ARG" ] || usage
  configured_nodes | grep -qxF "$NODE_ARG" ||
    die "no node '$NODE_ARG' in $CONF (nodes: $(configured_nodes | tr '\n' ' '))"
}

kill_node() {
  known_node
  local f=$D/run/slurmd-$NODE_ARG.pid
  if alive "$f"; then kill -9 "$(cat "$f" 2>/dev/null)" 2>/dev/null || true; fi
  rm -f "$f"
  sweep "$NODE_ARG" KILL
  log "killed node $NODE_ARG"
}

start_node() {
  known_node
  local t0
  t0=$(date +%s%N)
  start_slurmd "$NODE_ARG"
  # A node that slurmctld marked DOWN for not responding returns on registration
  # (ReturnToService=2); one not yet marked is idle already.
  wait_nodes "$NODE_ARG"
  log "node $NODE_ARG $(node_state "$NODE_ARG") after $((($(date +%s%N) - t0) / 1000000)) ms"
}

stop_ctld() {
  kill_pidfile "$D/run/slurmctld.pid"
  log "slurmctld stopped"
}

start_ctld_again() {
  [ -s "$CONF" ] || die "no cluster in $D (run up first)"
  local t0
  t0=$(date +%s%N)
  start_munged
  start_ctld
  log "slurmctld answers after $((($(date +%s%N) - t0) / 1000000)) ms"
}

status() {
  local f
  for f in "$D/munge-run/munged.pid" "$D/run/slurmctld.pid" "$D"/run/slurmd-*.pid; do
    [ -e "$f" ] || continue
    if alive "$f"; then echo "running $(basename "$f" .pid) pid $(cat "$f")"; else echo "dead    $(basename "$f" .pid)"; fi
  done
  if alive "$D/run/slurmctld.pid"; then
    slurm sinfo -N -o '%N %P %T %G %E'
    slurm squeue -o '%i %j %T %r %N'
  else
    echo "slurmctld not running"
  fi
}

case "$CMD" in
  up) up ;;
  down) down ;;
  status) status ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  kill-node) kill_node ;;
  start-node) start_node ;;
  stop-ctld) stop_ctld ;;
  start-ctld) start_ctld_again ;;
  restart-ctld)
    stop_ctld
    start_ctld_again
    ;;
  *) usage ;;
esac
