#!/usr/bin/env bash
# Private MariaDB 10.11 (primary + 0..2 GTID replicas) and Redis 7 servers for tests, demos
# and benchmarks. Runs the server binaries directly (never the system services), keeps all
# data, sockets, pid files and logs under one directory, and only ever signals the pids in its
# own pid files.
#
#   scripts/stack.sh up      [options]   start everything not yet running; idempotent; waits until ready
#   scripts/stack.sh down    [options]   stop our own servers (pid files), wait for exit; idempotent
#   scripts/stack.sh status  [options]   one line per server; exit 0 if all running, else 3
#   scripts/stack.sh env     [options]   print `export` lines with the connection settings
#   scripts/stack.sh stop-redis I | start-redis I | kill-redis I      redis master I (0-based)
#   scripts/stack.sh stop-mariadb | start-mariadb | kill-mariadb      the primary
#   scripts/stack.sh stop-replica [I] | start-replica [I] | kill-replica [I]
#                                         replica I (0-based, default 0; if enabled)
#   scripts/stack.sh delay-replica I SECONDS   make replica I apply events SECONDS after they
#                                         were committed on the primary (CHANGE MASTER TO
#                                         MASTER_DELAY; 0 = no delay, the default after `up`)
#   scripts/stack.sh stop-replica-sql I | start-replica-sql I   stop/start replica I's SQL
#                                         (apply) thread only: it keeps receiving, applies nothing
#
# Options (flag > environment variable > default; see "Settings" below for stack.conf):
#   --dir DIR            LOCKSTEP_STACK_DIR     default <repo root>/.stack
#   --mariadb-port P     LOCKSTEP_MARIADB_PORT  default 13306
#   --replicas N         LOCKSTEP_REPLICAS      default 0; GTID replicas (0..2) of the primary
#   --replica            = --replicas 1 (also LOCKSTEP_WITH_REPLICA=1); --no-replica = --replicas 0
#   --replica-port P     LOCKSTEP_REPLICA_PORT  default mariadb port + 1; replica I listens on P + I
#   --redis-port P       LOCKSTEP_REDIS_PORT    default 16379
#   --redis-count N      LOCKSTEP_REDIS_COUNT   default 1 (ports P .. P+N-1)
#
# Settings: `up` saves the chosen settings in DIR/stack.conf. `up` resolves each setting as
# flag > env > stack.conf > default; all other commands as flag > stack.conf > env > default,
# so they act on what `up` actually started even if the environment differs.
#
# Replication: binlog_format=ROW, log_slave_updates, gtid_strict_mode, MASTER_USE_GTID=slave_pos;
# server_id 1 is the primary, 2 + I replica I. `up` resets MASTER_DELAY to 0 and starts
# stopped replication threads, so a test that made a replica lag is undone by the next `up`.
#
# Progress and errors go to stderr; `up` and `env` print the export lines on stdout, so
# `eval "$(scripts/stack.sh up)"` works.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(dirname "$SCRIPT_DIR")"
readonly SCRIPT_DIR REPO_ROOT

readonly MARIADB_READY_TIMEOUT=60
readonly REDIS_READY_TIMEOUT=30
readonly REPLICATION_TIMEOUT=30
readonly STOP_TIMEOUT=60
readonly LOCK_TIMEOUT=600

log() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,/^set -euo pipefail$/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"
}

# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------
CMD=""
POS=()
OPT_DIR="" OPT_MARIADB_PORT="" OPT_REPLICAS="" OPT_REPLICA_PORT="" OPT_REDIS_PORT="" OPT_REDIS_COUNT=""

need_value() { [[ $# -ge 2 && -n $2 ]] || { log "option $1 needs a value"; exit 2; }; }

while (($#)); do
  case "$1" in
    --dir) need_value "$@"; OPT_DIR=$2; shift 2 ;;
    --dir=*) OPT_DIR=${1#*=}; shift ;;
    --mariadb-port) need_value "$@"; OPT_MARIADB_PORT=$2; shift 2 ;;
    --mariadb-port=*) OPT_MARIADB_PORT=${1#*=}; shift ;;
    --replica) OPT_REPLICAS=1; shift ;;
    --no-replica) OPT_REPLICAS=0; shift ;;
    --replicas) need_value "$@"; OPT_REPLICAS=$2; shift 2 ;;
    --replicas=*) OPT_REPLICAS=${1#*=}; shift ;;
    --replica-port) need_value "$@"; OPT_REPLICA_PORT=$2; shift 2 ;;
    --replica-port=*) OPT_REPLICA_PORT=${1#*=}; shift ;;
    --redis-port) need_value "$@"; OPT_REDIS_PORT=$2; shift 2 ;;
    --redis-port=*) OPT_REDIS_PORT=${1#*=}; shift ;;
    --redis-count) need_value "$@"; OPT_REDIS_COUNT=$2; shift 2 ;;
    --redis-count=*) OPT_REDIS_COUNT=${1#*=}; shift ;;
    -h|--help|help) usage; exit 0 ;;
    --) shift; POS+=("$@"); break ;;
    -*) log "unknown option: $1 (see --help)"; exit 2 ;;
    *) POS+=("$1"); shift ;;
  esac
done
if ((${#POS[@]} == 0)); then usage >&2; exit 2; fi
CMD=${POS[0]}
ARG1=${POS[1]:-}
ARG2=${POS[2]:-}
if ((${#POS[@]} > 3)); then log "too many arguments: ${POS[*]}"; exit 2; fi

# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------
STACK_DIR=$(realpath -m -- "${OPT_DIR:-${LOCKSTEP_STACK_DIR:-$REPO_ROOT/.stack}}")
CONF_FILE="$STACK_DIR/stack.conf"

CONF_MARIADB_PORT="" CONF_REPLICAS="" CONF_REPLICA_PORT="" CONF_REDIS_PORT="" CONF_REDIS_COUNT=""
if [[ -f $CONF_FILE ]]; then
  while IFS='=' read -r key value; do
    [[ $key =~ ^[A-Z_]+$ && $value =~ ^[0-9]*$ ]] || continue
    case "$key" in
      MARIADB_PORT) CONF_MARIADB_PORT=$value ;;
      REPLICAS) CONF_REPLICAS=$value ;;
      WITH_REPLICA) [[ -n $CONF_REPLICAS ]] || CONF_REPLICAS=$value ;;  # Written before --replicas.
      REPLICA_PORT) CONF_REPLICA_PORT=$value ;;
      REDIS_PORT) CONF_REDIS_PORT=$value ;;
      REDIS_COUNT) CONF_REDIS_COUNT=$value ;;
    esac
  done <"$CONF_FILE"
fi

bool01() {  # normalises a truthy/falsy word to 1/0; empty stays empty
  case "${1,,}" in
    "") echo "" ;;
    1|y|yes|true|on) echo 1 ;;
    0|n|no|false|off) echo 0 ;;
    *) die "not a boolean: '$1' (LOCKSTEP_WITH_REPLICA)" ;;
  esac
}

# pick FLAG ENV CONF DEFAULT -> first non-empty in the order of the current command.
pick() {
  if [[ $CMD == up ]]; then
    echo "${1:-${2:-${3:-$4}}}"
  else
    echo "${1:-${3:-${2:-$4}}}"
  fi
}

MARIADB_PORT=$(pick "$OPT_MARIADB_PORT" "${LOCKSTEP_MARIADB_PORT:-}" "$CONF_MARIADB_PORT" 13306)
ENV_REPLICAS=${LOCKSTEP_REPLICAS:-$(bool01 "${LOCKSTEP_WITH_REPLICA:-}")}
REPLICAS=$(pick "$OPT_REPLICAS" "$ENV_REPLICAS" "$CONF_REPLICAS" 0)
# An explicit replica port is remembered; otherwise it follows the primary's port.
REPLICA_PORT_EXPLICIT=$(pick "$OPT_REPLICA_PORT" "${LOCKSTEP_REPLICA_PORT:-}" "$CONF_REPLICA_PORT" "")
REDIS_PORT=$(pick "$OPT_REDIS_PORT" "${LOCKSTEP_REDIS_PORT:-}" "$CONF_REDIS_PORT" 16379)
REDIS_COUNT=$(pick "$OPT_REDIS_COUNT" "${LOCKSTEP_REDIS_COUNT:-}" "$CONF_REDIS_COUNT" 1)

# check_number VAR LABEL MIN MAX: VAR must hold a decimal number in [MIN, MAX]; normalised.
check_number() {
  local v=${!1}
  if ! [[ $v =~ ^[0-9]{1,6}$ ]] || ((10#$v < $3 || 10#$v > $4)); then
    die "$2 must be a number in $3..$4, got '$v'"
  fi
  printf -v "$1" '%d' "$((10#$v))"
}
check_number MARIADB_PORT "mariadb port" 1 65535
[[ -z $REPLICA_PORT_EXPLICIT ]] || check_number REPLICA_PORT_EXPLICIT "replica port" 1 65535
REPLICA_PORT=${REPLICA_PORT_EXPLICIT:-$((MARIADB_PORT + 1))}
check_number REPLICA_PORT "replica port" 1 65535
check_number REPLICAS "replicas" 0 2
# shellcheck disable=SC2034  # read by check_number via ${!1}
LAST_REPLICA_PORT=$((REPLICA_PORT + (REPLICAS > 0 ? REPLICAS - 1 : 0)))
check_number LAST_REPLICA_PORT "last replica port" 1 65535
check_number REDIS_PORT "redis port" 1 65535
check_number REDIS_COUNT "redis count" 0 1000
# shellcheck disable=SC2034  # read by check_number via ${!1}
LAST_REDIS_PORT=$((REDIS_PORT + REDIS_COUNT - 1))
((REDIS_COUNT == 0)) || check_number LAST_REDIS_PORT "last redis port" 1 65535

# Ports of different servers must not collide.
check_port_overlap() {
  local -A seen=()
  local entries=("$MARIADB_PORT:mariadb primary") e p i
  for ((i = 0; i < REPLICAS; i++)); do entries+=("$((REPLICA_PORT + i)):mariadb replica $i"); done
  for ((i = 0; i < REDIS_COUNT; i++)); do entries+=("$((REDIS_PORT + i)):redis $i"); done
  for e in "${entries[@]}"; do
    p=${e%%:*}
    [[ -z ${seen[$p]:-} ]] || die "port $p is configured for both ${seen[$p]} and ${e#*:}"
    seen[$p]=${e#*:}
  done
}

# ---------------------------------------------------------------------------------------------
# Binaries
# ---------------------------------------------------------------------------------------------
find_bin() {  # find_bin NAME... -> first one found on PATH or in the usual sbin dirs
  local n d
  for n in "$@"; do
    if command -v "$n" >/dev/null 2>&1; then command -v "$n"; return 0; fi
    for d in /usr/sbin /usr/local/sbin /sbin /usr/libexec; do
      [[ -x $d/$n ]] && { echo "$d/$n"; return 0; }
    done
  done
  return 1
}
need_bin() {  # need_bin VAR NAME...
  local var=$1 path
  shift
  path=$(find_bin "$@") || die "none of [$*] found; run scripts/bootstrap.sh"
  printf -v "$var" '%s' "$path"
}
MARIADBD="" MARIADB_INSTALL_DB="" MARIADB_CLIENT="" MARIADB_ADMIN="" REDIS_SERVER="" REDIS_CLI=""
need_mariadb_bins() {
  [[ -n $MARIADBD ]] && return 0
  need_bin MARIADBD mariadbd mysqld
  need_bin MARIADB_INSTALL_DB mariadb-install-db mysql_install_db
  need_bin MARIADB_CLIENT mariadb mysql
  need_bin MARIADB_ADMIN mariadb-admin mysqladmin
}
need_redis_bins() {
  [[ -n $REDIS_SERVER ]] && return 0
  need_bin REDIS_SERVER redis-server
  need_bin REDIS_CLI redis-cli
}
SETSID=()
command -v setsid >/dev/null 2>&1 && SETSID=(setsid)
TIMEOUT5=()
command -v timeout >/dev/null 2>&1 && TIMEOUT5=(timeout 5)

# ---------------------------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------------------------
# MariaDB roles: primary, replica (replica 0; the name predates several replicas), replica1.
replica_role() { if (($1 == 0)); then echo replica; else echo "replica$1"; fi; }
replica_index() { if [[ $1 == replica ]]; then echo 0; else echo "${1#replica}"; fi; }
mdb_node() { echo "$STACK_DIR/mariadb-$1"; }
mdb_datadir() { echo "$STACK_DIR/mariadb-$1/data"; }
mdb_pidfile() { echo "$STACK_DIR/mariadb-$1/mariadbd.pid"; }
mdb_errlog() { echo "$STACK_DIR/mariadb-$1/error.log"; }
mdb_port() { if [[ $1 == primary ]]; then echo "$MARIADB_PORT"; else echo "$((REPLICA_PORT + $(replica_index "$1")))"; fi; }
mdb_socket() {
  local s="$STACK_DIR/mariadb-$1/mariadbd.sock"
  # Unix socket paths are limited to 107 bytes; fall back to a private dir under /tmp.
  if ((${#s} > 100)); then
    s="${TMPDIR:-/tmp}/lockstep-stack-$(printf '%s' "$STACK_DIR" | md5sum | cut -c1-16)/$1.sock"
  fi
  echo "$s"
}
redis_dir() { echo "$STACK_DIR/redis-$1"; }
redis_pidfile() { echo "$STACK_DIR/redis-$1/redis.pid"; }
redis_logfile() { echo "$STACK_DIR/redis-$1/redis.log"; }
redis_port() { echo "$((REDIS_PORT + $1))"; }

# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------
# proc_alive PID: exists and is not a zombie.
proc_alive() {
  local pid=$1 state
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || [[ -e /proc/$pid ]] || return 1
  if [[ -r /proc/$pid/status ]]; then
    state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$pid/status" 2>/dev/null || true)
    [[ $state != Z && $state != X ]] || return 1
  fi
  return 0
}

# is_ours PID COMMS DIR: alive, runs one of the binaries COMMS ("a|b") and (when visible) has
# DIR as its cwd; mariadbd (datadir) and redis (--dir) both chdir there, so a recycled pid is
# not mistaken for ours.
is_ours() {
  local pid=$1 comms=$2 dir=$3 c cwd
  proc_alive "$pid" || return 1
  if [[ -r /proc/$pid/comm ]]; then
    c=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ "|$comms|" == *"|$c|"* ]] || return 1
  fi
  if cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null); then
    [[ $cwd == "$(realpath -m -- "$dir")" ]] || return 1
  fi
  return 0
}

read_pid() {
  local p=""
  if [[ -f $1 ]]; then read -r p <"$1" 2>/dev/null || true; fi
  [[ $p =~ ^[0-9]+$ ]] && echo "$p"
}

# running_pid KIND ID [clean]: prints the pid of our running server; with "clean", removes a
# stale pid file. KIND: mariadb (ID a role: primary|replica|replica1) or redis (ID index).
running_pid() {
  local kind=$1 id=$2 clean=${3:-} pidfile comm dir pid
  if [[ $kind == mariadb ]]; then
    pidfile=$(mdb_pidfile "$id"); comm="mariadbd|mysqld"; dir=$(mdb_datadir "$id")
  else
    pidfile=$(redis_pidfile "$id"); comm=redis-server; dir=$(redis_dir "$id")
  fi
  pid=$(read_pid "$pidfile") || pid=""
  if [[ -n $pid ]] && is_ours "$pid" "$comm" "$dir"; then echo "$pid"; return 0; fi
  if [[ $clean == clean && -e $pidfile ]]; then
    log "removing stale pid file $pidfile${pid:+ (pid $pid is gone)}"
    rm -f "$pidfile"
  fi
  return 1
}

# wait_gone PID SECONDS -> 0 when the process has exited.
wait_gone() {
  local pid=$1 deadline=$((SECONDS + $2))
  while proc_alive "$pid"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
  return 0
}

# stop_pids SIGNAL "label|pid|pidfile"... : signal all, wait for all (STOP_TIMEOUT), SIGKILL stragglers.
stop_pids() {
  local sig=$1 e label pid pidfile deadline
  shift
  (($#)) || return 0
  for e in "$@"; do
    IFS='|' read -r label pid pidfile <<<"$e"
    log "stopping $label (pid $pid, SIG$sig) ..."
    kill "-$sig" "$pid" 2>/dev/null || true
  done
  deadline=$((SECONDS + STOP_TIMEOUT))
  for e in "$@"; do
    IFS='|' read -r label pid pidfile <<<"$e"
    if ! wait_gone "$pid" $((deadline > SECONDS ? deadline - SECONDS : 0)); then
      log "$label (pid $pid) did not exit within ${STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 15 || die "$label (pid $pid) is still alive after SIGKILL"
    fi
    rm -f "$pidfile"
    log "$label stopped"
  done
}

# ---------------------------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------------------------
port_in_use() {
  local port=$1
  if command -v ss >/dev/null 2>&1; then
    ss -Htln "sport = :$port" 2>/dev/null | grep -q . && return 0
  fi
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}
require_port_free() {  # PORT LABEL
  local port=$1 label=$2 who="" i
  # A server just killed with SIGKILL can leave its listening socket behind for a moment
  # while the kernel tears the process down (seen with mariadbd: LISTEN with no owner right
  # after kill-mariadb): wait up to 10 s for it to go before calling the port taken.
  for i in $(seq 1 100); do
    port_in_use "$port" || return 0
    sleep 0.1
  done
  if command -v ss >/dev/null 2>&1; then
    who=$(ss -Htlnp "sport = :$port" 2>/dev/null | grep -o 'users:.*' | head -n1 || true)
  fi
  die "port $port (for $label) is already in use by another process${who:+: $who}; stop it or choose another port"
}

# ---------------------------------------------------------------------------------------------
# Locking (one mutating command per stack dir at a time)
# ---------------------------------------------------------------------------------------------
LOCKED=0
acquire_lock() {
  ((LOCKED)) && return 0
  mkdir -p "$STACK_DIR"
  exec 9>>"$STACK_DIR/.lock"
  if command -v flock >/dev/null 2>&1; then
    flock -w "$LOCK_TIMEOUT" 9 || die "timed out waiting for $STACK_DIR/.lock"
  fi
  LOCKED=1
}

# ---------------------------------------------------------------------------------------------
# MariaDB
# ---------------------------------------------------------------------------------------------
mdb_sql() {  # ROLE SQL [client args...]: run SQL as root over the unix socket
  local role=$1 sql=$2
  shift 2
  "$MARIADB_CLIENT" --no-defaults --socket="$(mdb_socket "$role")" -uroot --connect-timeout=5 \
    --batch --skip-column-names "$@" -e "$sql"
}

mdb_ping() {
  "$MARIADB_ADMIN" --no-defaults --socket="$(mdb_socket "$1")" -uroot --connect-timeout=2 ping >/dev/null 2>&1
}

show_logs() {  # FILE... : tail of each existing non-empty file to stderr
  local f
  for f in "$@"; do
    [[ -s $f ]] || continue
    printf -- '----- last lines of %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2 || true
  done
}

INSTALL_DB_HELP=""
install_db_supports() {
  [[ -n $INSTALL_DB_HELP ]] || INSTALL_DB_HELP=$("$MARIADB_INSTALL_DB" --help 2>&1 || true)
  grep -q -- "$1" <<<"$INSTALL_DB_HELP"
}

mdb_init_datadir() {
  local role=$1 node datadir args=()
  node=$(mdb_node "$role"); datadir=$(mdb_datadir "$role")
  [[ -f $node/.initialized && -d $datadir/mysql ]] && return 0
  log "initialising mariadb $role datadir $datadir ..."
  rm -rf -- "$datadir"
  mkdir -p "$datadir"
  args=(--no-defaults)
  ((EUID == 0)) && args+=(--user=root)
  args+=(--datadir="$datadir")
  if install_db_supports --auth-root-authentication-method; then
    args+=(--auth-root-authentication-method=normal)
  fi
  install_db_supports --skip-test-db && args+=(--skip-test-db)
  install_db_supports --skip-name-resolve && args+=(--skip-name-resolve)
  if ! (cd "$node" && "$MARIADB_INSTALL_DB" "${args[@]}") >"$node/install-db.log" 2>&1 9>&-; then
    show_logs "$node/install-db.log"
    die "mariadb-install-db failed for the $role (log: $node/install-db.log)"
  fi
  touch "$node/.initialized"
}

mdb_args() {  # ROLE -> mariadbd arguments, one per line
  local role=$1 node
  node=$(mdb_node "$role")
  printf '%s\n' --no-defaults
  ((EUID == 0)) && printf '%s\n' --user=root
  printf '%s\n' \
    --datadir="$(mdb_datadir "$role")" \
    --socket="$(mdb_socket "$role")" \
    --pid-file="$(mdb_pidfile "$role")" \
    --log-error="$(mdb_errlog "$role")" \
    --port="$(mdb_port "$role")" \
    --bind-address=127.0.0.1 \
    --skip-name-resolve \
    --server-id="$([[ $role == primary ]] && echo 1 || echo $((2 + $(replica_index "$role"))))" \
    --log-bin=mysql-bin \
    --relay-log=relay-bin \
    --relay-log-index=relay-bin.index \
    --binlog-format=ROW \
    --binlog-row-metadata=FULL \
    --gtid-strict-mode=ON \
    --log-slave-updates=ON \
    --innodb-flush-log-at-trx-commit=1 \
    --sync-binlog=1 \
    --innodb-buffer-pool-size=256M \
    --max-connections=1000 \
    --character-set-server=utf8mb4 \
    --collation-server=utf8mb4_unicode_ci \
    --default-time-zone=+00:00
  [[ $role == primary ]] || printf '%s\n' --read-only=ON
  return 0
}

# mdb_start ROLE: starts it unless running; sets STARTED=1 if it was started now.
STARTED=0
mdb_start() {
  local role=$1 port node sock pidfile pid launcher args=()
  port=$(mdb_port "$role"); node=$(mdb_node "$role"); sock=$(mdb_socket "$role")
  pidfile=$(mdb_pidfile "$role")
  STARTED=0
  if pid=$(running_pid mariadb "$role" clean); then
    log "mariadb $role already running (pid $pid) on 127.0.0.1:$port"
    mdb_wait_ready "$role" "$pid" quiet
    return 0
  fi
  require_port_free "$port" "mariadb $role"
  mkdir -p "$node"
  mdb_init_datadir "$role"
  if [[ $(dirname "$sock") != "$node" ]]; then  # the /tmp fallback for long paths
    mkdir -p "$(dirname "$sock")"
    chmod 700 "$(dirname "$sock")"
  fi
  rm -f -- "$sock" "$sock.lock" "$pidfile"
  mapfile -t args < <(mdb_args "$role")
  log "starting mariadb $role on 127.0.0.1:$port ..."
  (cd "$(mdb_datadir "$role")" && exec "${SETSID[@]}" "$MARIADBD" "${args[@]}") \
    </dev/null >>"$node/mariadbd.stderr.log" 2>&1 9>&- &
  launcher=$!
  mdb_wait_ready "$role" "$launcher"
  STARTED=1
}

mdb_wait_ready() {  # ROLE PID_TO_WATCH [quiet]
  local role=$1 watch=$2 quiet=${3:-} deadline node pid
  node=$(mdb_node "$role")
  deadline=$((SECONDS + MARIADB_READY_TIMEOUT))
  while :; do
    if mdb_ping "$role" && pid=$(running_pid mariadb "$role"); then
      [[ -n $quiet ]] || log "mariadb $role ready (pid $pid)"
      return 0
    fi
    if ! proc_alive "$watch" && ! running_pid mariadb "$role" >/dev/null; then
      show_logs "$(mdb_errlog "$role")" "$node/mariadbd.stderr.log"
      die "mariadb $role exited during startup (error log: $(mdb_errlog "$role"))"
    fi
    if ((SECONDS >= deadline)); then
      show_logs "$(mdb_errlog "$role")" "$node/mariadbd.stderr.log"
      die "mariadb $role not ready within ${MARIADB_READY_TIMEOUT}s (error log: $(mdb_errlog "$role"))"
    fi
    sleep 0.2
  done
}

readonly PRIMARY_SETUP_SQL="
CREATE USER IF NOT EXISTS 'lockstep'@'127.0.0.1' IDENTIFIED BY 'lockstep';
CREATE USER IF NOT EXISTS 'lockstep'@'localhost' IDENTIFIED BY 'lockstep';
GRANT ALL PRIVILEGES ON *.* TO 'lockstep'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'lockstep'@'localhost' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'repl'@'127.0.0.1' IDENTIFIED BY 'repl';
CREATE USER IF NOT EXISTS 'repl'@'localhost' IDENTIFIED BY 'repl';
GRANT REPLICATION SLAVE, REPLICATION CLIENT, REPLICATION SLAVE ADMIN, BINLOG MONITOR ON *.* TO 'repl'@'127.0.0.1';
GRANT REPLICATION SLAVE, REPLICATION CLIENT, REPLICATION SLAVE ADMIN, BINLOG MONITOR ON *.* TO 'repl'@'localhost';
CREATE DATABASE IF NOT EXISTS lockstep;
"
readonly PRIMARY_SETUP_CHECK_SQL="
SELECT (SELECT COUNT(*) FROM mysql.global_priv
         WHERE User IN ('lockstep','repl') AND Host IN ('127.0.0.1','localhost')) = 4
   AND (SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'lockstep') = 1;
"

# Users and database on the primary. Skipped when already present, so a re-`up` writes
# nothing to the binlog. Replicas get them through replication.
mdb_setup_primary() {
  local ok
  ok=$(mdb_sql primary "$PRIMARY_SETUP_CHECK_SQL" 2>/dev/null || echo 0)
  if [[ $ok == 1 ]]; then
    return 0
  fi
  log "creating users lockstep/repl and database lockstep on the primary"
  mdb_sql primary "$PRIMARY_SETUP_SQL" || die "could not create users/database on the primary"
}

slave_field() {  # FIELD STATUS_TEXT
  awk -v k="$1" '{ sub(/^[ \t]+/, "") } index($0, k ": ") == 1 { print substr($0, length(k) + 3); exit }
                 $0 == k ":" { exit }' <<<"$2"
}

# Configures (if needed) and starts replication on replica ROLE, with MASTER_DELAY 0. Sets
# CHANGED=1 when something was changed (so the caller re-verifies the data flow).
CHANGED=0
mdb_configure_replica() {  # ROLE
  local role=$1 st host port io sql delay change
  CHANGED=0
  change="CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$MARIADB_PORT, MASTER_USER='repl',
          MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_DELAY=0"
  st=$(mdb_sql "$role" "SHOW SLAVE STATUS" --vertical --column-names) || die "SHOW SLAVE STATUS failed on the $role"
  if [[ -z $st ]]; then
    log "configuring replication 127.0.0.1:$(mdb_port "$role") <- 127.0.0.1:$MARIADB_PORT (GTID slave_pos)"
    mdb_sql "$role" "$change; START SLAVE;" || die "could not configure replication on the $role"
    CHANGED=1
    return 0
  fi
  host=$(slave_field Master_Host "$st"); port=$(slave_field Master_Port "$st")
  io=$(slave_field Slave_IO_Running "$st"); sql=$(slave_field Slave_SQL_Running "$st")
  delay=$(slave_field SQL_Delay "$st")
  if [[ $host != 127.0.0.1 || $port != "$MARIADB_PORT" || ${delay:-0} != 0 ]]; then
    log "re-pointing $role replication from $host:$port (delay ${delay:-0}s) to 127.0.0.1:$MARIADB_PORT (no delay)"
    mdb_sql "$role" "STOP SLAVE; $change; START SLAVE;" || die "could not re-point replication on the $role"
    CHANGED=1
    return 0
  fi
  if [[ $io != Yes || $sql != Yes ]]; then
    log "starting $role replication threads (IO: $io, SQL: $sql)"
    mdb_sql "$role" "START SLAVE;" >/dev/null 2>&1 || die "START SLAVE failed on the $role"
    CHANGED=1
  fi
  return 0
}

mdb_wait_replicating() {  # ROLE
  local role=$1 deadline=$((SECONDS + REPLICATION_TIMEOUT)) st io sql err
  while :; do
    st=$(mdb_sql "$role" "SHOW SLAVE STATUS" --vertical --column-names 2>/dev/null || true)
    io=$(slave_field Slave_IO_Running "$st"); sql=$(slave_field Slave_SQL_Running "$st")
    [[ $io == Yes && $sql == Yes ]] && return 0
    err=$(slave_field Last_SQL_Error "$st")
    [[ $sql == No && -n $err ]] && { printf '%s\n' "$st" >&2; die "$role SQL thread stopped: $err"; }
    err=$(slave_field Last_IO_Error "$st")
    [[ $io == No && -n $err ]] && { printf '%s\n' "$st" >&2; die "$role IO thread stopped: $err"; }
    if ((SECONDS >= deadline)); then
      printf '%s\n' "$st" >&2
      die "$role replication not running within ${REPLICATION_TIMEOUT}s (IO: ${io:-?}, SQL: ${sql:-?})"
    fi
    sleep 0.3
  done
}

# Writes a row on the primary and waits until every replica ROLE... has it.
mdb_verify_replication() {  # ROLE...
  local token got="" deadline role
  token="$(date +%s%N)-$$"
  mdb_sql primary "
    CREATE DATABASE IF NOT EXISTS lockstep_stackcheck;
    CREATE TABLE IF NOT EXISTS lockstep_stackcheck.replication_check (
      id INT PRIMARY KEY, token VARCHAR(64) NOT NULL,
      updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
    ) ENGINE=InnoDB;
    REPLACE INTO lockstep_stackcheck.replication_check (id, token) VALUES (1, '$token');" \
    || die "could not write the replication check row on the primary"
  deadline=$((SECONDS + REPLICATION_TIMEOUT))
  for role in "$@"; do
    while :; do
      got=$(mdb_sql "$role" "SELECT token FROM lockstep_stackcheck.replication_check WHERE id = 1" 2>/dev/null || true)
      [[ $got == "$token" ]] && { log "replication verified (primary -> $role row check)"; break; }
      if ((SECONDS >= deadline)); then
        mdb_sql "$role" "SHOW SLAVE STATUS" --vertical --column-names >&2 2>/dev/null || true
        die "row written on the primary did not reach the $role within ${REPLICATION_TIMEOUT}s"
      fi
      sleep 0.2
    done
  done
}

# Replica I's SQL (apply) thread: stop or start it; the IO thread keeps receiving.
cmd_replica_sql() {  # stop|start
  local role
  role=$(replica_role "$REPLICA_INDEX")
  need_mariadb_bins
  acquire_lock
  running_pid mariadb "$role" >/dev/null || die "mariadb $role is not running"
  if [[ $1 == stop ]]; then
    mdb_sql "$role" "STOP SLAVE SQL_THREAD" || die "STOP SLAVE SQL_THREAD failed on the $role"
    log "$role SQL thread stopped"
  else
    mdb_sql "$role" "START SLAVE SQL_THREAD" || die "START SLAVE SQL_THREAD failed on the $role"
    mdb_wait_replicating "$role"
    log "$role SQL thread running"
  fi
}

# Replica I applies each event DELAY_SECONDS after its commit on the primary (MariaDB takes
# CHANGE MASTER only with both threads stopped; with GTID positioning the IO thread resumes
# from what the replica applied, so nothing is skipped or applied twice).
cmd_delay_replica() {
  local role
  role=$(replica_role "$REPLICA_INDEX")
  need_mariadb_bins
  acquire_lock
  running_pid mariadb "$role" >/dev/null || die "mariadb $role is not running"
  mdb_sql "$role" "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=$DELAY_SECONDS; START SLAVE;" \
    || die "could not set MASTER_DELAY on the $role"
  mdb_wait_replicating "$role"
  log "$role applies events ${DELAY_SECONDS}s after their commit"
}

# ---------------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------------
redis_ping() { [[ $("${TIMEOUT5[@]}" "$REDIS_CLI" -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG ]]; }

redis_start() {
  local i=$1 port dir pidfile logfile pid deadline
  port=$(redis_port "$i"); dir=$(redis_dir "$i"); pidfile=$(redis_pidfile "$i"); logfile=$(redis_logfile "$i")
  if pid=$(running_pid redis "$i" clean); then
    log "redis $i already running (pid $pid) on 127.0.0.1:$port"
    redis_wait_ready "$i" quiet
    return 0
  fi
  require_port_free "$port" "redis $i"
  mkdir -p "$dir"
  rm -f -- "$pidfile"
  log "starting redis $i on 127.0.0.1:$port ..."
  if ! (cd "$dir" && exec "${SETSID[@]}" "$REDIS_SERVER" \
        --port "$port" --bind 127.0.0.1 --dir "$dir" --pidfile "$pidfile" --logfile "$logfile" \
        --daemonize yes --appendonly yes --appendfsync always --save '' \
        --maxmemory-policy noeviction --protected-mode yes) \
        </dev/null >>"$dir/redis.stderr.log" 2>&1 9>&-; then
    show_logs "$dir/redis.stderr.log" "$logfile"
    die "redis $i failed to start"
  fi
  redis_wait_ready "$i"
}

redis_wait_ready() {  # INDEX [quiet]
  local i=$1 quiet=${2:-} port deadline pid dir
  port=$(redis_port "$i"); dir=$(redis_dir "$i")
  deadline=$((SECONDS + REDIS_READY_TIMEOUT))
  while :; do
    if redis_ping "$port" && pid=$(running_pid redis "$i"); then
      [[ -n $quiet ]] || log "redis $i ready (pid $pid)"
      return 0
    fi
    # Daemonized redis writes its pid file right away; a stale one means it died.
    if [[ -f $(redis_pidfile "$i") ]] && ! running_pid redis "$i" >/dev/null; then
      show_logs "$dir/redis.stderr.log" "$(redis_logfile "$i")"
      die "redis $i exited during startup (log: $(redis_logfile "$i"))"
    fi
    if ((SECONDS >= deadline)); then
      show_logs "$dir/redis.stderr.log" "$(redis_logfile "$i")"
      die "redis $i not ready within ${REDIS_READY_TIMEOUT}s (log: $(redis_logfile "$i"))"
    fi
    sleep 0.1
  done
}


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------
print_env() {
  local ports=() rports=() rurls=() i
  for ((i = 0; i < REDIS_COUNT; i++)); do ports+=("$((REDIS_PORT + i))"); done
  for ((i = 0; i < REPLICAS; i++)); do
    rports+=("$((REPLICA_PORT + i))")
    rurls+=("mysql://lockstep:lockstep@127.0.0.1:$((REPLICA_PORT + i))/lockstep")
  done
  printf 'export LOCKSTEP_STACK_DIR=%q\n' "$STACK_DIR"
  printf 'export LOCKSTEP_MARIADB_HOST=127.0.0.1\n'
  printf 'export LOCKSTEP_MARIADB_PORT=%s\n' "$MARIADB_PORT"
  printf 'export LOCKSTEP_MARIADB_USER=lockstep\n'
  printf 'export LOCKSTEP_MARIADB_PASSWORD=lockstep\n'
  printf 'export LOCKSTEP_MARIADB_SOCKET=%q\n' "$(mdb_socket primary)"
  if ((REPLICAS > 0)); then
    printf 'export LOCKSTEP_REPLICA_PORT=%s\n' "$REPLICA_PORT"
    printf 'export LOCKSTEP_REPLICA_PORTS=%s\n' "$(IFS=,; echo "${rports[*]}")"
    printf 'export LOCKSTEP_MARIADB_REPLICA_URLS=%s\n' "$(IFS=,; echo "${rurls[*]}")"
  fi
  printf 'export LOCKSTEP_REDIS_HOST=127.0.0.1\n'
  printf 'export LOCKSTEP_REDIS_PORTS=%s\n' "$(IFS=,; echo "${ports[*]}")"
}

save_conf() {
  local tmp content
  content="# Written by scripts/stack.sh up; later commands on this dir use these settings.
MARIADB_PORT=$MARIADB_PORT
REPLICAS=$REPLICAS
REPLICA_PORT=$REPLICA_PORT_EXPLICIT
REDIS_PORT=$REDIS_PORT
REDIS_COUNT=$REDIS_COUNT"
  if [[ -f $CONF_FILE && $(cat "$CONF_FILE") == "$content" ]]; then return 0; fi
  tmp="$CONF_FILE.tmp.$$"
  printf '%s\n' "$content" >"$tmp"
  mv -f "$tmp" "$CONF_FILE"
}

cmd_up() {
  local i role primary_started=0 replica_started=0 changed=0 roles=()
  check_port_overlap
  need_mariadb_bins
  ((REDIS_COUNT == 0)) || need_redis_bins
  acquire_lock
  [[ -e $STACK_DIR/.gitignore ]] || printf '*\n' >"$STACK_DIR/.gitignore"
  # Pre-flight: refuse before starting anything if a port we need is taken by someone else.
  running_pid mariadb primary clean >/dev/null || require_port_free "$MARIADB_PORT" "mariadb primary"
  for ((i = 0; i < REPLICAS; i++)); do
    running_pid mariadb "$(replica_role "$i")" clean >/dev/null \
      || require_port_free "$((REPLICA_PORT + i))" "mariadb $(replica_role "$i")"
  done
  for ((i = 0; i < REDIS_COUNT; i++)); do
    running_pid redis "$i" clean >/dev/null || require_port_free "$(redis_port "$i")" "redis $i"
  done
  save_conf

  for ((i = 0; i < REDIS_COUNT; i++)); do redis_start "$i"; done
  mdb_start primary
  primary_started=$STARTED
  mdb_setup_primary
  for ((i = 0; i < REPLICAS; i++)); do
    role=$(replica_role "$i")
    roles+=("$role")
    mdb_start "$role"
    ((replica_started |= STARTED)) || true
    mdb_configure_replica "$role"
    ((changed |= CHANGED)) || true
    mdb_wait_replicating "$role"
  done
  if ((REPLICAS > 0)); then
    if ((primary_started || replica_started || changed)); then
      mdb_verify_replication "${roles[@]}"
    else
      log "replicas already replicating"
    fi
  fi
  log "all servers up (dir $STACK_DIR)"
  print_env
}

# All our servers in DIR, whatever the current settings say: "label|pid|pidfile" lines.
running_servers() {
  local d i role pid
  for d in "$STACK_DIR"/mariadb-replica* "$STACK_DIR/mariadb-primary"; do
    [[ -d $d ]] || continue
    role=${d##*/mariadb-}
    [[ $role =~ ^(primary|replica|replica[0-9]+)$ ]] || continue
    if pid=$(running_pid mariadb "$role" clean); then
      echo "mariadb $role|$pid|$(mdb_pidfile "$role")"
    fi
  done
  for d in "$STACK_DIR"/redis-*; do
    [[ -d $d ]] || continue
    i=${d##*/redis-}
    [[ $i =~ ^[0-9]+$ ]] || continue
    if pid=$(running_pid redis "$i" clean); then
      echo "redis $i|$pid|$(redis_pidfile "$i")"
    fi
  done
}

cmd_down() {
  local servers=()
  if [[ ! -d $STACK_DIR ]]; then log "nothing to stop ($STACK_DIR does not exist)"; return 0; fi
  acquire_lock
  mapfile -t servers < <(running_servers)
  if ((${#servers[@]} == 0)); then log "nothing running in $STACK_DIR"; return 0; fi
  stop_pids TERM "${servers[@]}"
  log "all servers stopped"
}

cmd_status() {
  local all=0 i pid
  status_line() {  # NAME PORT PID
    if [[ -n $3 ]]; then
      printf '%-16s %-6s %-8s %s\n' "$1" "$2" "$3" running
    else
      printf '%-16s %-6s %-8s %s\n' "$1" "$2" - stopped
      all=1
    fi
  }
  pid=$(running_pid mariadb primary) || pid=""
  status_line mariadb-primary "$MARIADB_PORT" "$pid"
  for ((i = 0; i < REPLICAS; i++)); do
    pid=$(running_pid mariadb "$(replica_role "$i")") || pid=""
    status_line "mariadb-$(replica_role "$i")" "$((REPLICA_PORT + i))" "$pid"
  done
  for ((i = 0; i < REDIS_COUNT; i++)); do
    pid=$(running_pid redis "$i") || pid=""
    status_line "redis-$i" "$(redis_port "$i")" "$pid"
  done
  ((all == 0)) || exit 3
}

cmd_stop_one() {  # KIND ID SIGNAL
  local kind=$1 id=$2 sig=$3 pid pidfile label
  if [[ $kind == mariadb ]]; then pidfile=$(mdb_pidfile "$id"); label="mariadb $id"
  else pidfile=$(redis_pidfile "$id"); label="redis $id"; fi
  [[ -d $STACK_DIR ]] || { log "$label is not running"; return 0; }
  acquire_lock
  if ! pid=$(running_pid "$kind" "$id" clean); then
    log "$label is not running"
    return 0
  fi
  stop_pids "$sig" "$label|$pid|$pidfile"
}

cmd_start_mariadb() {
  check_port_overlap
  need_mariadb_bins
  acquire_lock
  mdb_start primary
  mdb_setup_primary
}

cmd_start_replica() {
  local role
  ((REPLICA_INDEX < REPLICAS)) || die "replica $REPLICA_INDEX is not enabled for $STACK_DIR (use up --replicas N)"
  role=$(replica_role "$REPLICA_INDEX")
  check_port_overlap
  need_mariadb_bins
  acquire_lock
  mdb_start "$role"
  if running_pid mariadb primary >/dev/null; then
    mdb_configure_replica "$role"
    mdb_wait_replicating "$role"
  else
    log "primary is not running; the replica will connect once it is up"
  fi
}

cmd_start_redis() {
  local i=$REDIS_INDEX
  ((i < REDIS_COUNT)) || die "redis index $i out of range (redis count is $REDIS_COUNT)"
  check_port_overlap
  need_redis_bins
  acquire_lock
  redis_start "$i"
}

REDIS_INDEX="" REPLICA_INDEX=0 DELAY_SECONDS=0
no_more_args() { [[ -z ${1:-} ]] || { log "$CMD: unexpected argument '$1'"; exit 2; }; }
replica_index_arg() {  # ARG [required]
  if [[ -z $1 && -z ${2:-} ]]; then REPLICA_INDEX=0; return 0; fi
  [[ $1 =~ ^[0-9]+$ ]] || { log "$CMD needs a replica index (0-based), got '$1'"; exit 2; }
  REPLICA_INDEX=$((10#$1))
  ((REPLICA_INDEX < REPLICAS)) || \
    die "replica index $REPLICA_INDEX out of range ($REPLICAS replicas enabled for $STACK_DIR; use up --replicas N)"
}
case "$CMD" in
  start-redis|stop-redis|kill-redis)
    [[ $ARG1 =~ ^[0-9]+$ ]] || { log "$CMD needs a redis index (0-based), got '${ARG1}'"; exit 2; }
    no_more_args "$ARG2"
    REDIS_INDEX=$((10#$ARG1)) ;;
  start-replica|stop-replica|kill-replica)
    replica_index_arg "$ARG1"; no_more_args "$ARG2" ;;
  stop-replica-sql|start-replica-sql)
    replica_index_arg "$ARG1" required; no_more_args "$ARG2" ;;
  delay-replica)
    [[ $ARG1 =~ ^[0-9]+$ ]] || { log "$CMD needs a replica index (0-based), got '$ARG1'"; exit 2; }
    [[ $ARG2 =~ ^[0-9]{1,7}$ ]] || { log "$CMD needs SECONDS (0..9999999), got '$ARG2'"; exit 2; }
    replica_index_arg "$ARG1" required
    DELAY_SECONDS=$((10#$ARG2)) ;;
  up|down|status|env|start-mariadb|stop-mariadb|kill-mariadb)
    [[ -z $ARG1 ]] || { log "$CMD takes no argument (got '$ARG1')"; exit 2; } ;;
esac

case "$CMD" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) print_env ;;
  start-redis) cmd_start_redis ;;
  stop-redis) cmd_stop_one redis "$REDIS_INDEX" TERM ;;
  kill-redis) cmd_stop_one redis "$REDIS_INDEX" KILL ;;
  start-mariadb) cmd_start_mariadb ;;
  stop-mariadb) cmd_stop_one mariadb primary TERM ;;
  kill-mariadb) cmd_stop_one mariadb primary KILL ;;
  start-replica) cmd_start_replica ;;
  stop-replica) cmd_stop_one mariadb "$(replica_role "$REPLICA_INDEX")" TERM ;;
  kill-replica) cmd_stop_one mariadb "$(replica_role "$REPLICA_INDEX")" KILL ;;
  stop-replica-sql) cmd_replica_sql stop ;;
  start-replica-sql) cmd_replica_sql start ;;
  delay-replica) cmd_delay_replica ;;
  *) log "unknown command: $CMD (see --help)"; exit 2 ;;
esac
