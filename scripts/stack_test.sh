#!/usr/bin/env bash
# Self-test of scripts/stack.sh on a fresh temporary dir and non-default ports:
# up (2 replicas + 3 redis), status, env, writes through the primary read back from both
# replicas, a replica made to lag (delay-replica, stop-replica-sql) and restored, kill/start
# of replica 1,
# kill/start redis (AOF durability), stop/start and kill/start mariadb (crash recovery),
# idempotent re-up (no binlog writes), stale pid files, a foreign process on our port,
# down, status (exit 3), second down, nothing left running.
#
#   scripts/stack_test.sh            # ports 23306..23308 and 26379..26381 (override:
#                                    # STACK_TEST_MARIADB_PORT, STACK_TEST_REDIS_PORT)
set -euo pipefail

STACK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/stack.sh"
MPORT=${STACK_TEST_MARIADB_PORT:-23306}
RPORT=${STACK_TEST_REDIS_PORT:-26379}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/stack-test.XXXXXX")
DIR2=$(mktemp -d "${TMPDIR:-/tmp}/stack-test2.XXXXXX")
FOREIGN_PID=""
# The test's own settings must not leak in from a sourced `env`.
unset LOCKSTEP_STACK_DIR LOCKSTEP_MARIADB_PORT LOCKSTEP_REPLICA_PORT LOCKSTEP_WITH_REPLICA \
  LOCKSTEP_REPLICAS LOCKSTEP_REDIS_PORT LOCKSTEP_REDIS_COUNT

step() { printf '\n=== %s\n' "$*" >&2; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
cleanup() {
  local rc=$?
  [[ -z $FOREIGN_PID ]] || kill "$FOREIGN_PID" 2>/dev/null || true
  "$STACK" down --dir "$DIR" >/dev/null 2>&1 || true
  "$STACK" down --dir "$DIR2" >/dev/null 2>&1 || true
  rm -rf -- "$DIR" "$DIR2"
  if ((rc == 0)); then echo "stack_test: PASS" >&2; else echo "stack_test: FAIL (rc $rc)" >&2; fi
}
trap cleanup EXIT

cd /  # must work from any cwd
st() { "$STACK" "$@" --dir "$DIR"; }
sqlp() { mariadb --no-defaults -h127.0.0.1 -P"$MPORT" -ulockstep -plockstep -N -B -e "$1"; }
sqlr() { mariadb --no-defaults -h127.0.0.1 -P"$((MPORT + 1))" -ulockstep -plockstep -N -B -e "$1"; }
sqlr1() { mariadb --no-defaults -h127.0.0.1 -P"$((MPORT + 2))" -ulockstep -plockstep -N -B -e "$1"; }
rcli() { redis-cli -h 127.0.0.1 -p "$((RPORT + $1))" "${@:2}"; }
wait_replica_value() {  # SQL EXPECTED [REPLICA_CLIENT]
  local i got="" client=${3:-sqlr}
  for ((i = 0; i < 150; i++)); do
    got=$("$client" "$1" 2>/dev/null || true)
    [[ $got == "$2" ]] && return 0
    sleep 0.2
  done
  fail "replica ($client) returned '$got' for [$1], expected '$2'"
}
slave_status_field() {  # REPLICA_INDEX FIELD
  mariadb --no-defaults -h127.0.0.1 -P"$((MPORT + 1 + $1))" -ulockstep -plockstep -e 'SHOW SLAVE STATUS\G' 2>/dev/null \
    | sed -n "s/^ *$2: //p"
}
pids_under_dir() {  # pids of processes whose cwd is inside DIR
  local p cwd
  for p in /proc/[0-9]*; do
    cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
    [[ $cwd == "$1"/* ]] && ! grep -q '^State:.*Z' "$p/status" 2>/dev/null && echo "${p#/proc/}"
  done
  return 0
}

step "bad arguments"
set +e
st up --replicas 3 --mariadb-port "$MPORT" 2>/dev/null; [[ $? == 1 ]] || fail "--replicas 3 should be refused"
st delay-replica 2>/dev/null; [[ $? == 2 ]] || fail "delay-replica without an index should exit 2"
st delay-replica 0 x 2>/dev/null; [[ $? == 2 ]] || fail "delay-replica with bad seconds should exit 2"
set -e
[[ ! -e $DIR/stack.conf ]] || fail "a refused up wrote stack.conf"

step "up (fresh dir, 2 replicas, 3 redis, ports $MPORT/$RPORT)"
start=$SECONDS
out=$(st up --replicas 2 --redis-count 3 --mariadb-port "$MPORT" --redis-port "$RPORT")
echo "$out"
echo "up took $((SECONDS - start))s" >&2
grep -q "^export LOCKSTEP_REDIS_PORTS=$RPORT,$((RPORT + 1)),$((RPORT + 2))$" <<<"$out" || fail "up output"

step "status"
st status || fail "status should exit 0"
[[ $(st status | grep -c ' running$') == 6 ]] || fail "status should list 6 running servers"

step "env (settings come from stack.conf with only --dir)"
envout=$(st env)
echo "$envout"
eval "$envout"
[[ $LOCKSTEP_STACK_DIR == "$(realpath "$DIR")" && $LOCKSTEP_MARIADB_PORT == "$MPORT" \
  && $LOCKSTEP_REPLICA_PORT == $((MPORT + 1)) && $LOCKSTEP_MARIADB_USER == lockstep \
  && $LOCKSTEP_REDIS_PORTS == "$RPORT,$((RPORT + 1)),$((RPORT + 2))" && -S $LOCKSTEP_MARIADB_SOCKET \
  && $LOCKSTEP_REPLICA_PORTS == "$((MPORT + 1)),$((MPORT + 2))" \
  && $LOCKSTEP_MARIADB_REPLICA_URLS == "mysql://lockstep:lockstep@127.0.0.1:$((MPORT + 1))/lockstep,mysql://lockstep:lockstep@127.0.0.1:$((MPORT + 2))/lockstep" ]] \
  || fail "env values"
[[ $(wc -l <<<"$envout") == 11 ]] || fail "env should print 11 lines"
unset LOCKSTEP_STACK_DIR LOCKSTEP_MARIADB_PORT LOCKSTEP_REPLICA_PORT LOCKSTEP_REPLICA_PORTS LOCKSTEP_MARIADB_REPLICA_URLS

step "write on the primary (TCP, lockstep user), read back from the replica"
sqlp "CREATE TABLE IF NOT EXISTS lockstep.stack_test (id INT PRIMARY KEY, v VARCHAR(20));
      REPLACE INTO lockstep.stack_test VALUES (1, 'hello');"
wait_replica_value "SELECT v FROM lockstep.stack_test WHERE id = 1" hello
wait_replica_value "SELECT v FROM lockstep.stack_test WHERE id = 1" hello sqlr1
[[ $(sqlp "SELECT @@global.time_zone, @@character_set_server, @@binlog_row_metadata, @@gtid_strict_mode") \
  == $'+00:00\tutf8mb4\tFULL\t1' ]] || fail "primary settings"
[[ $(sqlr "SELECT @@read_only, @@server_id, @@gtid_strict_mode, @@log_slave_updates, @@binlog_format") \
  == $'1\t2\t1\t1\tROW' ]] || fail "replica settings"
[[ $(sqlr1 "SELECT @@read_only, @@server_id, @@gtid_strict_mode, @@log_slave_updates, @@binlog_format") \
  == $'1\t3\t1\t1\tROW' ]] || fail "replica 1 settings"
[[ $(slave_status_field 1 Using_Gtid) == Slave_Pos ]] || fail "replica 1 should use GTID slave_pos"

step "replica 1 lags on purpose: stop-replica-sql / start-replica-sql"
st stop-replica-sql 1
[[ $(slave_status_field 1 Slave_SQL_Running) == No ]] || fail "SQL thread should be stopped"
[[ $(slave_status_field 1 Slave_IO_Running) == Yes ]] || fail "IO thread should keep running"
sqlp "REPLACE INTO lockstep.stack_test VALUES (10, 'while-stopped')"
wait_replica_value "SELECT v FROM lockstep.stack_test WHERE id = 10" while-stopped
[[ -z $(sqlr1 "SELECT v FROM lockstep.stack_test WHERE id = 10") ]] || fail "replica 1 applied with its SQL thread stopped"
st start-replica-sql 1
wait_replica_value "SELECT v FROM lockstep.stack_test WHERE id = 10" while-stopped sqlr1

step "delay-replica 1 N; up resets the delay"
st delay-replica 1 3600
[[ $(slave_status_field 1 SQL_Delay) == 3600 ]] || fail "SQL_Delay should be 3600"
sqlp "REPLACE INTO lockstep.stack_test VALUES (11, 'delayed')"
wait_replica_value "SELECT v FROM lockstep.stack_test WHERE id = 11" delayed
[[ -z $(sqlr1 "SELECT v FROM lockstep.stack_test WHERE id = 11") ]] || fail "replica 1 applied despite MASTER_DELAY"
st delay-replica 1 0
wait_replica_value "SELECT v FROM lockstep.stack_test WHERE id = 11" delayed sqlr1
st delay-replica 1 3600
st up >/dev/null 2>&1
[[ $(slave_status_field 1 SQL_Delay) == 0 ]] || fail "up should reset SQL_Delay"

step "kill-replica 1 / start-replica 1; stop-replica (index 0 by default)"
st kill-replica 1
st status >/dev/null && fail "status should exit 3 with replica 1 down" || [[ $? == 3 ]] || fail "status rc"
sqlp "REPLACE INTO lockstep.stack_test VALUES (12, 'while-down')"
st start-replica 1
wait_replica_value "SELECT v FROM lockstep.stack_test WHERE id = 12" while-down sqlr1
st stop-replica
[[ ! -e $DIR/mariadb-replica/mariadbd.pid ]] || fail "replica 0 pid file left after stop-replica"
st start-replica 0
wait_replica_value "SELECT v FROM lockstep.stack_test WHERE id = 12" while-down
mariadb --no-defaults --socket="$DIR/mariadb-primary/mariadbd.sock" -ulockstep -plockstep -e "SELECT 1" >/dev/null \
  || fail "lockstep@localhost over the socket"

step "redis: write, kill-redis 1, start-redis 1, key survives (appendfsync always)"
[[ $(rcli 1 SET stack_test_key durable) == OK ]] || fail "redis SET"
[[ $(rcli 1 CONFIG GET maxmemory-policy | tail -n1) == noeviction ]] || fail "maxmemory-policy"
old=$(cat "$DIR/redis-1/redis.pid")
st kill-redis 1
if [[ -e /proc/$old ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$old/status" 2>/dev/null; then
  fail "redis 1 (pid $old) still alive after kill-redis"
fi
st status >/dev/null && fail "status should exit 3 with redis 1 down" || [[ $? == 3 ]] || fail "status rc"
st kill-redis 1  # idempotent
st start-redis 1
[[ $(rcli 1 GET stack_test_key) == durable ]] || fail "key lost after kill -9"
st stop-redis 1
st start-redis 1
[[ $(rcli 1 GET stack_test_key) == durable ]] || fail "key lost after stop/start"

step "stop-mariadb / start-mariadb; replica reconnects"
st stop-mariadb
[[ ! -e $DIR/mariadb-primary/mariadbd.pid ]] || fail "pid file left after stop"
st start-mariadb
sqlp "REPLACE INTO lockstep.stack_test VALUES (2, 'after-restart')"
wait_replica_value "SELECT v FROM lockstep.stack_test WHERE id = 2" after-restart

step "kill-mariadb / start-mariadb (crash recovery)"
st kill-mariadb
st start-mariadb
[[ $(sqlp "SELECT v FROM lockstep.stack_test WHERE id = 2") == after-restart ]] || fail "data after crash"
sqlp "REPLACE INTO lockstep.stack_test VALUES (3, 'after-crash')"
wait_replica_value "SELECT v FROM lockstep.stack_test WHERE id = 3" after-crash

step "second up is a no-op (no binlog writes, nothing started)"
pos_before=$(sqlp "SELECT @@gtid_binlog_pos")
out=$(st up 2>&1)
echo "$out"
grep -q 'starting' <<<"$out" && fail "second up started something"
[[ $(sqlp "SELECT @@gtid_binlog_pos") == "$pos_before" ]] || fail "second up wrote to the binlog"

step "stale pid file is cleaned up"
st stop-redis 2
echo 99999 >"$DIR/redis-2/redis.pid"   # > pid_max on most systems; never one of ours
if st status >/dev/null; then fail "status should exit 3 with a stale pid file"; fi
out=$(st up 2>&1)
grep -q 'removing stale pid file' <<<"$out" || fail "stale pid file not reported: $out"
st status >/dev/null || fail "status after re-up"

step "foreign process on our port -> clear error, exit 1"
python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(120)' "$((MPORT + 10))" &
FOREIGN_PID=$!
sleep 0.5
set +e
err=$("$STACK" up --dir "$DIR2" --mariadb-port "$((MPORT + 10))" --redis-port "$((RPORT + 10))" 2>&1)
rc=$?
set -e
echo "$err"
[[ $rc == 1 ]] || fail "expected exit 1 for a used port, got $rc"
grep -q "port $((MPORT + 10))" <<<"$err" || fail "error should name the port"
[[ -z $(pids_under_dir "$(realpath "$DIR2")") ]] || fail "something started despite the conflict"
kill "$FOREIGN_PID"; FOREIGN_PID=""

step "down, status (exit 3), second down"
st down
set +e; st status; rc=$?; set -e
[[ $rc == 3 ]] || fail "status after down should exit 3, got $rc"
st down
left=$(pids_under_dir "$(realpath "$DIR")")
[[ -z $left ]] || fail "processes left running: $left"
echo "nothing left running under $DIR" >&2
