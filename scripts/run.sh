#!/usr/bin/env bash
# The run command: from a fresh clone on a fresh Debian 12 machine, installs what is
# missing, builds shopd and lockstep-bench, starts private MariaDB + Redis (scripts/stack.sh),
# starts shopd on 127.0.0.1 (with the binlog CDC relay and cache invalidator, --cdc 1, the outbox
# relay to <prefix>events, --events-relay 1, and reading through the stack's two replicas), runs a
# short transfer workload with lockstep-bench (which also verifies that no money was created or
# destroyed) and prints what it measured. Then shopd
# keeps serving until Ctrl-C; stopping the script stops shopd and the servers it started.
#
# Options: --listen HOST:PORT (default 127.0.0.1:8080), --no-demo (skip the workload),
#          --exit-after-demo (stop everything once the demo is done), --requests N (demo size,
#          default 20000), --keep-servers (leave MariaDB/Redis running on exit).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

listen=127.0.0.1:8080 demo=1 exit_after=0 requests=20000 keep_servers=0
while [ $# -gt 0 ]; do
  case "$1" in
    --listen) listen=$2; shift ;;
    --no-demo) demo=0 ;;
    --exit-after-demo) exit_after=1 ;;
    --requests) requests=$2; shift ;;
    --keep-servers) keep_servers=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

scripts/bootstrap.sh
mkdir -p build
echo "run: building shopd and lockstep-bench (build/run) ..."
cmake -S "$ROOT" -B build/run -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOCKSTEP_BUILD_TESTS=OFF \
  -DLOCKSTEP_BUILD_BENCHMARKS=OFF >build/run.configure.log 2>&1 || { cat build/run.configure.log; exit 1; }
ninja -C build/run shopd lockstep-bench

shopd_pid=""
cleanup() {
  if [ -n "$shopd_pid" ] && kill -0 "$shopd_pid" 2>/dev/null; then
    echo "run: stopping shopd (pid $shopd_pid)"
    kill -TERM "$shopd_pid" 2>/dev/null || true
    wait "$shopd_pid" 2>/dev/null || true
  fi
  if [ "$keep_servers" = 0 ]; then scripts/stack.sh down; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The primary and two GTID replicas (LOCKSTEP_REPLICAS=0..2 to change); shopd reads
# through them (README "Replicas and consistency tokens").
eval "$(scripts/stack.sh up --replicas "${LOCKSTEP_REPLICAS:-2}")"
replica_args=()
IFS=, read -r -a replica_ports <<<"${LOCKSTEP_REPLICA_PORTS:-}"
for port in "${replica_ports[@]}"; do
  replica_args+=(--mysql-replica "mysql://${LOCKSTEP_MARIADB_USER}@127.0.0.1:${port}/shop")
done
mysql_url="mysql://${LOCKSTEP_MARIADB_USER}:${LOCKSTEP_MARIADB_PASSWORD}@127.0.0.1:${LOCKSTEP_MARIADB_PORT}/shop"
redis_url="redis://127.0.0.1:${LOCKSTEP_REDIS_PORTS%%,*}"
mariadb --no-defaults -h127.0.0.1 -P"$LOCKSTEP_MARIADB_PORT" -u"$LOCKSTEP_MARIADB_USER" \
  -p"$LOCKSTEP_MARIADB_PASSWORD" -e "CREATE DATABASE IF NOT EXISTS shop CHARACTER SET utf8mb4"

mkdir -p build/run/logs
log=build/run/logs/shopd.log
echo "run: starting shopd on $listen (log: $log)"
SHOPD_MYSQL_PASSWORD="$LOCKSTEP_MARIADB_PASSWORD" build/run/apps/shopd/shopd --listen "$listen" \
  --mysql "mysql://${LOCKSTEP_MARIADB_USER}@127.0.0.1:${LOCKSTEP_MARIADB_PORT}/shop" --redis "$redis_url" \
  "${replica_args[@]}" --cdc 1 --events-relay 1 >"$log" 2>&1 &
shopd_pid=$!
for _ in $(seq 1 300); do
  if curl -fsS "http://$listen/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$shopd_pid" 2>/dev/null; then echo "run: shopd exited; its log:"; cat "$log"; exit 1; fi
  sleep 0.1
done
curl -fsS "http://$listen/readyz" >/dev/null || { echo "run: shopd not ready after 30s; log:"; tail -20 "$log"; exit 1; }
grep -m1 "listening on" "$log" || true

if [ "$demo" = 1 ]; then
  echo "run: demo: $requests transfers among 1000 accounts over 64 connections (lockstep-bench) ..."
  build/run/apps/lockstep-bench/lockstep-bench transfers --url "http://$listen" --mysql "$mysql_url" \
    --accounts 1000 --connections 64 --requests "$requests"
fi

if [ "$exit_after" = 1 ]; then exit 0; fi
echo "run: shopd is serving on http://$listen (try: curl http://$listen/v1/accounts/1). Ctrl-C stops it and the servers."
wait "$shopd_pid"
