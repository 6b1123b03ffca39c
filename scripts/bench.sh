#!/usr/bin/env bash
# Benchmarks, measured against the raw limit in the same run (BENCHMARKS.md has the figures).
#   scripts/bench.sh [micro|limits|shopd|reads|all] [--requests N] [--connections C] [--duration S]
#   scripts/bench.sh overload [--duration S] [--shopd-args "FLAGS"] [--overload-connections N]
#   scripts/bench.sh ratelimit [--requests N] [--connections C]
#   scripts/bench.sh cdc [--rows N] [--duration S]
#   scripts/bench.sh checkouts [--requests N] [--connections C]
#   scripts/bench.sh events [--requests N] [--duration S]
#   scripts/bench.sh replicas [--connections C] [--duration S]
# micro: Google Benchmark programs of the sql and redis modules (pool overhead vs bare
#        libmariadb / hiredis on the same server), the cache, lock hand-offs, the
#        batch Coalescer's scheduling (no server) and the rate limiters (`limits`).
# limits: only the rate limiters: lockstep_rate_limiter_bench (local TokenBucket; the
#        distributed RateLimiter at 1/8/32 threads and DecideMany) beside redis-benchmark
#        running the same decision script (EVALSHA, same arguments) at the same
#        concurrencies: the raw limit.
# shopd: lockstep-bench against a Release shopd: sql-baseline (bare BEGIN; 2x UPDATE;
#        COMMIT loop: the limit), transfers over 1,000 and 10 accounts, http-noop (GET
#        /healthz: the HTTP overhead), sql-hotrow (bare autocommit decrements of one row: the
#        MariaDB hot-row limit), flashsale on one hot product in row_lock, batched and
#        reserved mode (each also at 256 connections), and the Lua limit:
#        redis-benchmark running shopd's reservation script (EVALSHA, __rand_int__
#        request ids) at the same concurrencies, and pipelined (-P 16, as shopd pipelines
#        concurrent reservations); prints the ratios, and the transfer ratio again from
#        three back-to-back (sql-baseline, transfers) pairs of half as many requests.
# reads: the product cache: two shopd instances per setting (L1+L2, L2 only, no cache),
#        lockstep-bench reads (zipf over 10,000 products, 20 PUT/s, staleness checker, after
#        a warm-up pass) for --duration seconds, beside http-noop and redis-benchmark GET.
# overload (not part of `all`: ~2 minutes): one Release shopd (plus --shopd-args, e.g. a
#        flag to compare), its closed-loop transfer capacity C (completed/s over 1,000
#        accounts, 64 connections, 10 s), then open-loop transfers (lockstep-bench --rate)
#        at 0.5, 1, 2, 3 and 4x C for --duration seconds each (default 10) with a 1,000 ms
#        request deadline; N connections per step (default: enough for every request of
#        one second to be in flight, 512..2048). Prints offered vs completed vs shed per
#        step, writes the chart build/bench/overload.svg and the summaries
#        build/bench/overload.json, and re-checks every step with `verify` (nothing
#        acknowledged lost).
# ratelimit (not part of `all`): what a rate limit adds to a request. One Release shopd at a
#        time on one cached product: without limits, then with `--rate-limit
#        products_read=1000000:1000000 --client-rate-limit products_read=...` (two Redis
#        decisions per request, never refused), 3 alternating rounds; GET /healthz (the HTTP
#        floor) and redis-benchmark of the decision script at the same connections (the
#        raw limit of one decision) beside them.
# cdc (not part of `all`): binlog CDC (lockstep_cdc_bench) beside the same run's replica:
#        one UPDATE of --rows rows (default 1,000,000): rows/s from COMMIT to every row in
#        the stream vs the replica's apply rate; then 1,000 and 10,000 changed rows/s for
#        --duration seconds (default 10): COMMIT -> cache invalidation p50/p99 per row, and
#        COMMIT -> visible on the replica. Starts the stack with its replica.
# checkouts (not part of `all`): one Release shopd with checkouts on (payments in a second
#        database of the same server, merchant account 1, stock and money for every
#        checkout): lockstep-bench checkouts over 1,000 products and over one hot product,
#        beside flashsale in batched mode (one hot product: the same run's orders/s) and
#        sql-baseline; prints checkouts/s, p99 and the ratios.
# events (not part of `all`): the transactional outbox. lockstep_outbox_bench: 8 writers
#        append --requests events (1 and 10 per transaction) beside the outbox relay:
#        committed events/s vs events/s in the Redis Stream; then 1,000 events/s for
#        --duration seconds (default 10): COMMIT returned -> entry in the stream p50/p99.
#        Then what the events cost shopd: `batched` flashsale orders/s and transfers/s
#        (--requests each) on this build's shopd (one event per effect) beside the same run's
#        sql-baseline, and on $LOCKSTEP_BASELINE_SHOPD (a shopd without events, e.g. main's
#        build) when set, alternating.
# replicas (not part of `all`): one Release shopd reading through the stack's two GTID
#        replicas (started with --replicas 2): lockstep-bench account-reads (GET
#        /v1/accounts/{id} over 1,000 accounts, --connections, --duration s each, default 10)
#        with every read on the primary (X-Max-Staleness-Ms: 0), on a replica within 50 ms
#        (X-Max-Staleness-Ms: 50) and with the token of the newest write, in 2 alternating
#        rounds without writes and 2 under 200 transfers/s (one writer); shopd's replica lag
#        gauges sampled every 10 ms during each run (p50/p99). Beside them GET /healthz
#        (http-noop): the HTTP ceiling.
# Starts its own private servers (build/bench-stack, MariaDB 14306, Redis 17379; override
# with LOCKSTEP_BENCH_MARIADB_PORT / LOCKSTEP_BENCH_REDIS_PORT) and stops them at the end.
# Durability as scripts/stack.sh: innodb_flush_log_at_trx_commit=1, sync_binlog=1, Redis
# appendonly yes, appendfsync always, maxmemory-policy noeviction.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
what=all requests=20000 connections=64 duration="" rows=1000000
shopd_args="" overload_connections=0
while [ $# -gt 0 ]; do
  case "$1" in
    micro|limits|shopd|reads|all|overload|ratelimit|cdc|checkouts|events|replicas) what=$1 ;;
    --rows) rows=$2; shift ;;
    --duration) duration=$2; shift ;;
    --shopd-args) shopd_args=$2; shift ;;
    --overload-connections) overload_connections=$2; shift ;;
    --requests) requests=$2; shift ;;
    --connections) connections=$2; shift ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$duration" ]; then
  if [ "$what" = overload ] || [ "$what" = cdc ] || [ "$what" = replicas ]; then duration=10; else duration=30; fi
fi

scripts/bootstrap.sh
mkdir -p build
cmake -S "$ROOT" -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOCKSTEP_BUILD_TESTS=OFF \
  >build/bench.configure.log 2>&1 || { cat build/bench.configure.log; exit 1; }
if [ "$what" = limits ]; then
  ninja -C build/bench lockstep_rate_limiter_bench
elif [ "$what" = cdc ]; then
  ninja -C build/bench lockstep_cdc_bench
elif [ "$what" = events ]; then
  ninja -C build/bench lockstep_outbox_bench shopd lockstep-bench
elif [ "$what" = overload ] || [ "$what" = ratelimit ] || [ "$what" = checkouts ] || [ "$what" = replicas ]; then
  ninja -C build/bench shopd lockstep-bench
else
  ninja -C build/bench shopd lockstep-bench lockstep_sql_bench lockstep_redis_bench lockstep_cache_bench \
    lockstep_lock_handoff_bench lockstep_coalescer_bench lockstep_rate_limiter_bench
fi

STACK=(--dir "$ROOT/build/bench-stack")
shopd_pid=""
reads_pids=()
cleanup() {
  if [ -n "$shopd_pid" ]; then kill -TERM "$shopd_pid" 2>/dev/null || true; wait "$shopd_pid" 2>/dev/null || true; fi
  for p in "${reads_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  scripts/stack.sh down "${STACK[@]}"
}
trap cleanup EXIT
STACK_UP=()
[ "$what" = cdc ] && STACK_UP=(--replica)
[ "$what" = replicas ] && STACK_UP=(--replicas 2)
eval "$(scripts/stack.sh up "${STACK[@]}" "${STACK_UP[@]}" --mariadb-port "${LOCKSTEP_BENCH_MARIADB_PORT:-14306}" --redis-port "${LOCKSTEP_BENCH_REDIS_PORT:-17379}")"
Q() { mariadb --no-defaults -h127.0.0.1 -P"$LOCKSTEP_MARIADB_PORT" -ulockstep -plockstep -N -e "$1"; }
echo "== machine: $(nproc) cores, $(uname -r); MariaDB $(Q 'SELECT VERSION()'), $(redis-server --version | cut -d' ' -f3)"
RP=${LOCKSTEP_REDIS_PORTS%%,*}
# --cpu-pid flags: lockstep-bench reports each server's CPU time per request (user + system,
# from /proc; Redis's AOF-rewrite children included) beside its own ("client").
SERVER_CPU=(--cpu-pid "redis=$(cat "$ROOT/build/bench-stack/redis-0/redis.pid")"
            --cpu-pid "mariadb=$(cat "$ROOT/build/bench-stack/mariadb-primary/mariadbd.pid")")
# Starts a Release shopd on database $1 (which must exist), logging to $2, with the flags
# after them; sets started_pid and started_url. Exits (after stopping it) when it does not
# listen within 30 s.
start_shopd() {
  local db=$1 log=$2 port=""
  shift 2
  SHOPD_MYSQL_PASSWORD=lockstep "${SHOPD_BINARY:-build/bench/apps/shopd/shopd}" --listen 127.0.0.1:0 \
    --mysql "mysql://lockstep@127.0.0.1:${LOCKSTEP_MARIADB_PORT}/$db" --redis "redis://127.0.0.1:$RP" "$@" >"$log" 2>&1 &
  started_pid=$!
  for _ in $(seq 1 300); do
    port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "shopd did not start:"; cat "$log"; kill -TERM "$started_pid" 2>/dev/null || true; exit 1; }
  started_url="http://127.0.0.1:$port"
}
echo "== durability: innodb_flush_log_at_trx_commit=$(Q 'SELECT @@innodb_flush_log_at_trx_commit') sync_binlog=$(Q 'SELECT @@sync_binlog') redis appendonly=$(redis-cli -p "$RP" config get appendonly | tail -1) appendfsync=$(redis-cli -p "$RP" config get appendfsync | tail -1) maxmemory-policy=$(redis-cli -p "$RP" config get maxmemory-policy | tail -1)"

# redis-benchmark running the rate limiter's decision script: rl_rb SHA CONNECTIONS PIPELINE
# REQUESTS prints "<requests/s> /s, p50 <ms> ms". The arguments are the bench's: interval
# 1 us (rate 1e6/s), burst 1e9, n 1 (every call admitted and written), keys over 1,000.
rl_rb() {
  redis-benchmark -p "$RP" -c "$2" -P "$3" -n "$4" -r 1000 --csv evalsha "$1" 1 'rlb:k:__rand_int__' 1 1000000000 1 |
    tail -1 | awk -F'","' '{printf "%s /s, p50 %s ms", $(NF-6), $(NF-3)}'
}
# One round of limiter runs, each right beside its raw limit (this machine changes speed
# within minutes, so the ratios are of the pairs): Decide at 1/8/32 threads against
# redis-benchmark at as many connections, DecideMany (16 keys, 8 threads) against -P 16.
# Arguments: redis-benchmark requests for 1, 8, 32 connections and the pipelined run.
rl_round() {
  local rl=build/bench/bench/lockstep_rate_limiter_bench c n
  for c in 1 8 32; do
    case $c in 1) n=$1 ;; 8) n=$2 ;; *) n=$3 ;; esac
    LOCKSTEP_REDIS_PORT=$RP "$rl" --mode decide --threads "$c"
    echo "  raw limit, redis-benchmark $c connections: $(rl_rb "$sha" "$c" 1 "$n")"
  done
  LOCKSTEP_REDIS_PORT=$RP "$rl" --mode many --threads 8
  echo "  raw limit, redis-benchmark 8 connections, -P 16: $(rl_rb "$sha" 8 16 "$4")"
}
rate_limiter_micro() {
  echo "== micro: rate limiters (local TokenBucket; distributed RateLimiter, then its script under redis-benchmark)"
  local src sha
  # The decision script as RateLimiter loads it (the text between its raw-string markers).
  src=$(sed -n '/kDecideSource\[\] = R"lua(/,/)lua";/p' src/resilience/rate_limiter_scripts.cc | sed '1d;$d')
  sha=$(redis-cli -p "$RP" script load "$src")
  build/bench/bench/lockstep_rate_limiter_bench --mode local --threads 1
  build/bench/bench/lockstep_rate_limiter_bench --mode local --threads 2
  echo "== distributed limiter vs redis-benchmark of its decision script ($sha), two rounds"
  rl_round 6000 16000 64000 120000
  rl_round 6000 16000 64000 120000
  # With appendfsync always both sides wait for the same fsync per event-loop round; one more
  # round without it shows the CPU-bound limit (limiter, Redis and the client on 2 cores).
  echo "== the same pairs with appendfsync everysec (restored to always after)"
  redis-cli -p "$RP" config set appendfsync everysec >/dev/null
  rl_round 30000 100000 100000 400000
  redis-cli -p "$RP" config set appendfsync always >/dev/null
}

if [ "$what" = limits ]; then
  rate_limiter_micro
fi

if [ "$what" = micro ] || [ "$what" = all ]; then
  echo "== micro: sql"
  Q "CREATE DATABASE IF NOT EXISTS lockstep_bench"
  build/bench/bench/lockstep_sql_bench --benchmark_min_time=2
  echo "== micro: redis"
  LOCKSTEP_REDIS_PORT=${LOCKSTEP_REDIS_PORTS%%,*} build/bench/bench/lockstep_redis_bench --benchmark_min_time=2
  echo "== micro: cache"
  LOCKSTEP_REDIS_PORT=${LOCKSTEP_REDIS_PORTS%%,*} build/bench/bench/lockstep_cache_bench --benchmark_min_time=2
  echo "== raw limit: redis-benchmark GET, 1 connection"
  redis-benchmark -p "${LOCKSTEP_REDIS_PORTS%%,*}" -t get -n 100000 -c 1 -q
  echo "== micro: lock hand-offs, 32 waiters over 2 services (default mode, then fair)"
  LOCKSTEP_REDIS_PORT=${LOCKSTEP_REDIS_PORTS%%,*} build/bench/bench/lockstep_lock_handoff_bench
  LOCKSTEP_REDIS_PORT=${LOCKSTEP_REDIS_PORTS%%,*} build/bench/bench/lockstep_lock_handoff_bench --fair
  echo "== micro: batch Coalescer (no server)"
  build/bench/bench/lockstep_coalescer_bench
  rate_limiter_micro
fi

if [ "$what" = shopd ] || [ "$what" = all ]; then
  Q "DROP DATABASE IF EXISTS shop_bench; CREATE DATABASE shop_bench"
  # The bench Redis keeps its AOF between runs: reserved-mode keys of an earlier shop_bench
  # (same product ids) must not survive the recreated database.
  redis-cli -p "$RP" flushall >/dev/null
  M="mysql://lockstep:lockstep@127.0.0.1:${LOCKSTEP_MARIADB_PORT}/shop_bench"
  start_shopd shop_bench build/bench/shopd.log
  shopd_pid=$started_pid U=$started_url
  B=build/bench/apps/lockstep-bench/lockstep-bench
  CPU=(--cpu-pid "shopd=$shopd_pid" "${SERVER_CPU[@]}")
  run() { "$B" "$@" --connections "$connections" "${CPU[@]}" 2>/dev/null | tail -1; }
  run_c() { local c=$1; shift; "$B" "$@" --connections "$c" "${CPU[@]}" 2>/dev/null | tail -1; }
  base=$(run sql-baseline --mysql "$M" --accounts 1000 --requests "$requests")
  t1000=$(run transfers --url "$U" --mysql "$M" --accounts 1000 --requests "$requests" --replay-every 0 --duplicate-every 0 --max-5xx 0)
  t10=$(run transfers --url "$U" --mysql "$M" --accounts 10 --hot 10 --requests "$requests" --replay-every 0 --duplicate-every 0 --max-5xx 0)
  noop=$(run http-noop --url "$U" --requests $((requests * 5)))
  # One hot product, stock for every order (so every order commits): orders/s per mode.
  frow=$(run flashsale --url "$U" --mysql "$M" --mode row_lock --stock "$requests" --requests "$requests" --replay-every 0 --duplicate-every 0 --max-5xx 0)
  hot=$(run sql-hotrow --mysql "$M" --requests "$requests")
  fbat=$(run flashsale --url "$U" --mysql "$M" --mode batched --stock "$requests" --requests "$requests" --replay-every 0 --duplicate-every 0 --max-5xx 0)
  fres=$(run flashsale --url "$U" --mysql "$M" --mode reserved --stock "$requests" --requests "$requests" --replay-every 0 --duplicate-every 0 --max-5xx 0)
  frow256=$(run_c 256 flashsale --url "$U" --mysql "$M" --mode row_lock --stock "$requests" --requests "$requests" --replay-every 0 --duplicate-every 0 --max-5xx 0)
  fbat256=$(run_c 256 flashsale --url "$U" --mysql "$M" --mode batched --stock "$requests" --requests "$requests" --replay-every 0 --duplicate-every 0 --max-5xx 0)
  fres256=$(run_c 256 flashsale --url "$U" --mysql "$M" --mode reserved --stock "$requests" --requests "$requests" --replay-every 0 --duplicate-every 0 --max-5xx 0)
  # The Lua limit: shopd's reservation script (extracted from its source, the same text
  # shopd loads) straight into Redis, stock never running out, request ids random.
  SRC=$(sed -n '/kReserve(R"lua(/,/)lua");/p' apps/shopd/domain/orders/reservations.cc | sed '1d;$d')
  SHA=$(redis-cli -p "$RP" script load "$SRC")
  redis-cli -p "$RP" set rb:stock:1 1000000000000 >/dev/null
  redis-cli -p "$RP" set rb:incarnation bench >/dev/null
  # lua C [P]: C connections, P calls pipelined per connection (default 1).
  lua() {
    redis-benchmark -p "$RP" -c "$1" -P "${2:-1}" -n $((requests * 5)) -r 1000000000 --csv evalsha "$SHA" 6 'rb:res:__rand_int__' rb:stock:1 rb:orders rb:pending rb:order_ids rb:incarnation \
      'r__rand_int__' '7@1x1' 1 1 __rand_int__ 7 '{"id":1,"product_id":1,"quantity":1,"request_id":"r","status":"pending","user_id":7}' '{"error":{"code":"out_of_stock","message":"' '"}}' |
      tail -1 | awk -F'","' '{print $(NF-6)}'
  }
  lua64=$(lua "$connections"); lua256=$(lua 256); lua64p=$(lua "$connections" 16)
  # The transfer ratio again in three short rounds, limit and transfers back to back: one
  # pair can land in different speed phases of a shared machine; the median of the pairs
  # is the steadier figure.
  pairs=()
  for _ in 1 2 3; do
    pb=$(run sql-baseline --mysql "$M" --accounts 1000 --requests $((requests / 2)))
    pt=$(run transfers --url "$U" --mysql "$M" --accounts 1000 --requests $((requests / 2)) --replay-every 0 --duplicate-every 0 --max-5xx 0)
    pairs+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[2])["throughput"] / json.loads(sys.argv[1])["throughput"])' "$pb" "$pt")")
  done
  python3 - "$base" "$t1000" "$t10" "$noop" "$frow" "$fbat" "$fres" "$frow256" "$fres256" "$hot" "$fbat256" "$lua64" "$lua256" "$connections" "$lua64p" "$(nproc)" "${pairs[*]}" <<'PY'
import json, sys
base, t1000, t10, noop, frow, fbat, fres, frow256, fres256, hot, fbat256 = (json.loads(a) for a in sys.argv[1:12])
lua64, lua256, conns, lua64p = float(sys.argv[12]), float(sys.argv[13]), sys.argv[14], float(sys.argv[15])
def cpu(j):
    c = j.get("cpu_us_per_request", {})
    return " / ".join(f"{c.get(k, 0):.0f}" for k in ("client", "shopd", "redis", "mariadb"))
def row(name, j):
    fivexx = sum(v for k, v in j["statuses"].items() if int(k) >= 500 or int(k) == 0)
    print(f"| {name} | {j['throughput']:.0f}/s | {j['p50_ms']:.1f} | {j['p99_ms']:.1f} | {fivexx} | {j.get('invariants','-')} | {cpu(j)} |")
print("| scenario (64 connections) | throughput | p50 ms | p99 ms | 5xx | invariants | CPU µs per request: client / shopd / redis / mariadb |")
print("| --- | --- | --- | --- | --- | --- | --- |")
row("sql-baseline: BEGIN; 2x UPDATE; COMMIT (limit)", base)
row("transfers, 1,000 accounts", t1000)
row("transfers, 10 hot accounts", t10)
row("http-noop: GET /healthz", noop)
row("orders on one hot product, row_lock", frow)
row("sql-hotrow: autocommit UPDATE stock = stock - 1 on one row (limit)", hot)
row("orders on one hot product, batched", fbat)
row("orders on one hot product, reserved (201 pending)", fres)
print(f"| Lua limit: redis-benchmark EVALSHA reservation script, {conns} connections | {lua64:.0f}/s | - | - | - | - | - |")
print(f"| Lua limit, pipelined: the same, {conns} connections x 16 calls per round trip (-P 16) | {lua64p:.0f}/s | - | - | - | - | - |")
row("orders on one hot product, row_lock, 256 connections", frow256)
row("orders on one hot product, batched, 256 connections", fbat256)
row("orders on one hot product, reserved, 256 connections", fres256)
print(f"| Lua limit: redis-benchmark EVALSHA reservation script, 256 connections | {lua256:.0f}/s | - | - | - | - | - |")
print(f"\nreserved / row_lock = {fres['throughput']/frow['throughput']:.1f}x ({conns} connections), "
      f"{fres256['throughput']/frow256['throughput']:.1f}x (256); reserved / Lua limit = "
      f"{fres['throughput']/lua64:.2f} ({conns}), {fres256['throughput']/lua256:.2f} (256); "
      f"reserved / pipelined Lua limit = {fres['throughput']/lua64p:.2f} ({conns}); "
      f"settle after the run: {fres['settle_seconds']:.1f} s / {fres256['settle_seconds']:.1f} s")
# Where the 2 cores went per reserved order, and the rate the other processes alone allow.
c = fres.get("cpu_us_per_request", {})
others = sum(c.get(k, 0) for k in ("client", "redis", "mariadb"))
cores = int(sys.argv[16])
if others > 0:
    print(f"\nreserved: CPU per order client {c.get('client',0):.0f} + shopd {c.get('shopd',0):.0f} + redis {c.get('redis',0):.0f} + "
          f"mariadb {c.get('mariadb',0):.0f} µs; without shopd's share the other processes alone cap the rate at "
          f"{cores * 1e6 / others:.0f}/s = {cores * 1e6 / others / frow['throughput']:.1f}x row_lock on {cores} cores")
    for name, j in (("batched", fbat), ("reserved", fres)):
        t = j.get("cpu_us_per_request_by_thread", {}).get("shopd", {})
        if t:
            top = sorted(t.items(), key=lambda kv: -kv[1])
            print(f"{name}: shopd's CPU per order by thread: " + ", ".join(f"{k} {v:.0f}" for k, v in top if v >= 0.5) + " µs")
    floor = noop.get("cpu_us_per_request", {}).get("shopd", 0)
    print(f"reserved: with shopd at the CPU of answering GET /healthz ({floor:.0f} µs, http-noop), the cap is "
          f"{cores * 1e6 / (others + floor):.0f}/s = {cores * 1e6 / (others + floor) / frow['throughput']:.1f}x row_lock")
print(f"\ntransfers(1,000) / sql-baseline = {t1000['throughput']/base['throughput']:.2f}; "
      f"transfers(10 hot) / sql-baseline = {t10['throughput']/base['throughput']:.2f}; "
      f"http-noop / transfers(1,000) = {noop['throughput']/t1000['throughput']:.1f}x; "
      f"hot-product orders batched / row_lock = {fbat['throughput']/frow['throughput']:.1f}x ({conns}), "
      f"{fbat256['throughput']/frow256['throughput']:.1f}x (256), "
      f"batched / sql-hotrow = {fbat['throughput']/hot['throughput']:.1f}x")
pairs = sorted(float(x) for x in sys.argv[17].split())
print("transfers(1,000) / sql-baseline in three back-to-back pairs of half as many requests: "
      + " / ".join(f"{x:.2f}" for x in (float(x) for x in sys.argv[17].split()))
      + f"; median {pairs[len(pairs) // 2]:.2f}")
PY
fi

if [ "$what" = checkouts ]; then
  Q "DROP DATABASE IF EXISTS shop_ck; CREATE DATABASE shop_ck; DROP DATABASE IF EXISTS pay_ck; CREATE DATABASE pay_ck"
  redis-cli -p "$RP" flushall >/dev/null
  M="mysql://lockstep:lockstep@127.0.0.1:${LOCKSTEP_MARIADB_PORT}/shop_ck"
  P="mysql://lockstep:lockstep@127.0.0.1:${LOCKSTEP_MARIADB_PORT}/pay_ck"
  start_shopd shop_ck build/bench/shopd-checkouts.log --payments-mysql "$P" --checkout-merchant-account 1
  shopd_pid=$started_pid U=$started_url
  curl -sf -X POST "$U/v1/accounts" -d '{"owner":"merchant","balance":0}' >/dev/null
  B=build/bench/apps/lockstep-bench/lockstep-bench
  CPU=(--cpu-pid "shopd=$shopd_pid" "${SERVER_CPU[@]}")
  run() { "$B" "$@" --connections "$connections" "${CPU[@]}" 2>/dev/null | tail -1; }
  # Money and stock for every checkout: every one completes (both participants' full work).
  ck=(--url "$U" --mysql "$M" --payments-mysql "$P" --merchant 1 --accounts 1000 --initial-balance 1000000000
      --stock 1000000000 --max-quantity 1 --requests "$requests" --replay-every 0 --duplicate-every 0 --max-5xx 0)
  base=$(run sql-baseline --mysql "$M" --accounts 1000 --requests "$requests")
  c1000=$(run checkouts "${ck[@]}" --products 1000)
  chot=$(run checkouts "${ck[@]}" --products 1)
  fbat=$(run flashsale --url "$U" --mysql "$M" --mode batched --stock "$requests" --requests "$requests" --replay-every 0 --duplicate-every 0 --max-5xx 0)
  python3 - "$base" "$c1000" "$chot" "$fbat" <<'PY'
import json, sys
base, c1000, chot, fbat = (json.loads(a) for a in sys.argv[1:5])
def line(name, j):
    print(f"{name:<34} {j['throughput']:>9.0f}/s  p50 {j['p50_ms']:.1f} ms  p99 {j['p99_ms']:.1f} ms"
          f"  invariants {j.get('invariants', '-')}  statuses {j.get('statuses')}")
line("sql-baseline (BEGIN; 2x UPDATE)", base)
line("checkouts, 1,000 products", c1000)
line("checkouts, one hot product", chot)
line("batched orders, one hot product", fbat)
print(f"checkouts(1,000 products) / batched orders = {c1000['throughput'] / fbat['throughput']:.2f}")
print(f"checkouts(hot product) / batched orders = {chot['throughput'] / fbat['throughput']:.2f}")
print(f"checkouts(1,000 products) / sql-baseline = {c1000['throughput'] / base['throughput']:.2f}")
PY
fi

if [ "$what" = replicas ]; then
  B=build/bench/apps/lockstep-bench/lockstep-bench
  Q "DROP DATABASE IF EXISTS shop_replicas; CREATE DATABASE shop_replicas"
  IFS=, read -r -a rports <<<"$LOCKSTEP_REPLICA_PORTS"
  rargs=()
  for p in "${rports[@]}"; do rargs+=(--mysql-replica "mysql://lockstep@127.0.0.1:$p/shop_replicas"); done
  start_shopd shop_replicas build/bench/shopd-replicas.log "${rargs[@]}"
  shopd_pid=$started_pid U=$started_url
  for _ in $(seq 1 600); do
    [ "$(curl -fsS "$U/metrics" | grep -c '^shopd_routing_replica_in_rotation{.*} 1')" = "${#rports[@]}" ] && break
    sleep 0.1
  done
  echo "== replicas: shopd with ${#rports[@]} replicas ($LOCKSTEP_REPLICA_PORTS), $connections connections, $duration s per run"
  ar() {
    "$B" account-reads --url "$U" --accounts 1000 --connections "$connections" --duration "$duration" \
      --cpu-pid "shopd=$shopd_pid" "${SERVER_CPU[@]}" "$@" 2>/dev/null | tail -1
  }
  runs=()
  for w in 0 200; do
    for round in 1 2; do
      for c in primary replica token; do
        runs+=("$(ar --consistency "$c" --writes-per-s "$w")")
        echo "writes/s $w round $round $c: done" >&2
      done
    done
  done
  noop=$("$B" http-noop --url "$U" --connections "$connections" --duration "$duration" 2>/dev/null | tail -1)
  python3 - "$noop" "${runs[@]}" <<'PY'
import json, sys
noop, *runs = (json.loads(a) for a in sys.argv[1:])
print("| writes/s | reads | round | reads/s | p50 ms | p99 ms | replica share | non-200 | lag p50 / p99 / max ms (samples) | staleness p50 / p99 ms | CPU µs per read: shopd / mariadb |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
by = {}
for i, j in enumerate(runs):
    w = 0 if i < 6 else 200
    rnd = (i % 6) // 3 + 1
    by.setdefault((w, j["consistency"]), []).append(j)
    c = j.get("cpu_us_per_request", {})
    print(f"| {w} | {j['consistency']} | {rnd} | {j['throughput']:.0f} | {j['p50_ms']:.2f} | {j['p99_ms']:.1f} | {100*j['replica_share']:.0f}% | {j['not_200']} | "
          f"{j['lag_p50_ms']} / {j['lag_p99_ms']} / {j['lag_max_ms']} ({j['lag_samples']}) | {j['staleness_p50_ms']} / {j['staleness_p99_ms']} | "
          f"{c.get('shopd', 0):.0f} / {c.get('mariadb', 0):.0f} |")
print(f"| - | http-noop (GET /healthz) | - | {noop['throughput']:.0f} | {noop['p50_ms']:.2f} | {noop['p99_ms']:.1f} | - | - | - | - | - |")
for w in (0, 200):
    mean = lambda c, k: sum(j[k] for j in by[(w, c)]) / len(by[(w, c)])
    rep, tok, pri = mean("replica", "throughput"), mean("token", "throughput"), mean("primary", "throughput")
    print(f"writes/s {w}: token / untokened replica reads = {tok/rep:.2f} (throughput), p99 {mean('token', 'p99_ms'):.1f} vs {mean('replica', 'p99_ms'):.1f} ms; "
          f"replica / primary-only = {rep/pri:.2f}; primary-only / http-noop = {pri/noop['throughput']:.2f}")
PY
fi

if [ "$what" = cdc ]; then
  echo "== cdc: lockstep_cdc_bench --rows $rows --seconds $duration (primary $LOCKSTEP_MARIADB_PORT, replica $((LOCKSTEP_MARIADB_PORT + 1)))"
  LOCKSTEP_REDIS_PORT=$RP LOCKSTEP_MARIADB_PASSWORD=lockstep \
    build/bench/bench/lockstep_cdc_bench --rows "$rows" --seconds "$duration" --rates 1000,10000
fi

if [ "$what" = events ]; then
  echo "== events: lockstep_outbox_bench --events $requests --rate 1000 --seconds $duration"
  LOCKSTEP_REDIS_PORT=$RP LOCKSTEP_MARIADB_PASSWORD=lockstep \
    build/bench/bench/lockstep_outbox_bench --events "$requests" --rate 1000 --seconds "$duration"
  B=build/bench/apps/lockstep-bench/lockstep-bench
  M="mysql://lockstep:lockstep@127.0.0.1:$LOCKSTEP_MARIADB_PORT/shop_ev"
  ev_round() {  # ev_round LABEL SHOPD_BINARY: batched flashsale and transfers on a fresh database.
    Q "DROP DATABASE IF EXISTS shop_ev; CREATE DATABASE shop_ev"
    redis-cli -p "$RP" --scan --pattern 'shopd:shop_ev:*' | xargs -r redis-cli -p "$RP" del >/dev/null
    SHOPD_BINARY=$2 start_shopd shop_ev "build/bench/shopd-ev-$1.log"
    shopd_pid=$started_pid
    local tp='import json,sys; print("%.0f/s" % json.loads(sys.argv[1])["throughput"])' base fbat tr
    base=$("$B" sql-baseline --mysql "$M" --accounts 1000 --requests "$requests" --connections "$connections" 2>/dev/null | tail -1)
    fbat=$("$B" flashsale --url "$started_url" --mysql "$M" --mode batched --stock "$requests" --requests "$requests" \
      --connections "$connections" --replay-every 0 --duplicate-every 0 --max-5xx 0 2>/dev/null | tail -1)
    tr=$("$B" transfers --url "$started_url" --mysql "$M" --accounts 1000 --requests "$requests" \
      --connections "$connections" --replay-every 0 --duplicate-every 0 --max-5xx 0 2>/dev/null | tail -1)
    echo "  $1: sql-baseline $(python3 -c "$tp" "$base"), batched flashsale $(python3 -c "$tp" "$fbat")," \
      "transfers (1,000 accounts) $(python3 -c "$tp" "$tr")"
    kill -TERM "$shopd_pid"; wait "$shopd_pid" 2>/dev/null || true; shopd_pid=""
  }
  for round in 1 2; do
    ev_round "with-events" build/bench/apps/shopd/shopd
    [ -n "${LOCKSTEP_BASELINE_SHOPD:-}" ] && ev_round "baseline" "$LOCKSTEP_BASELINE_SHOPD"
  done
fi

if [ "$what" = ratelimit ]; then
  B=build/bench/apps/lockstep-bench/lockstep-bench
  Q "DROP DATABASE IF EXISTS shop_rl; CREATE DATABASE shop_rl"
  src=$(sed -n '/kDecideSource\[\] = R"lua(/,/)lua";/p' src/resilience/rate_limiter_scripts.cc | sed '1d;$d')
  sha=$(redis-cli -p "$RP" script load "$src")
  LIMITS=(--rate-limit products_read=1000000:1000000 --client-rate-limit products_read=1000000:1000000)
  # rl_get FLAGS...: starts shopd with FLAGS, GETs product 1 (created on first use) and
  # /healthz; prints "<product GET/s> <healthz/s> <product p50 ms>".
  rl_get() {
    start_shopd shop_rl build/bench/shopd-rl.log "$@"
    shopd_pid=$started_pid
    curl -s -o /dev/null -X POST "$started_url/v1/products" -d '{"name":"rl","price":1,"stock":1}' || true
    local p h
    p=$("$B" http-noop --url "$started_url" --path /v1/products/1 --requests "$((requests * 5))" --connections "$connections" 2>/dev/null | tail -1)
    h=$("$B" http-noop --url "$started_url" --requests "$((requests * 5))" --connections "$connections" 2>/dev/null | tail -1)
    kill -TERM "$shopd_pid"; wait "$shopd_pid" 2>/dev/null || true; shopd_pid=""
    python3 -c "import json,sys; p=json.loads(sys.argv[1]); h=json.loads(sys.argv[2]); print('%.0f %.0f %.3f' % (p['throughput'], h['throughput'], p['p50_ms']))" "$p" "$h"
  }
  echo "== rate limit overhead: GET /v1/products/1 (L1 hit, answered on the I/O thread), $connections connections"
  for round in 1 2 3; do
    off=$(rl_get)
    on=$(rl_get "${LIMITS[@]}")
    raw=$(redis-benchmark -p "$RP" -c "$connections" -n "$((requests * 5))" -r 1000 --csv evalsha "$sha" 1 'rlb:k:__rand_int__' 1 1000000000 1 | tail -1 | awk -F'","' '{print $(NF-6)}' | tr -d '"')
    python3 - "$off" "$on" "$raw" "$round" <<'PY'
import sys
off, on, raw, rnd = sys.argv[1].split(), sys.argv[2].split(), float(sys.argv[3]), sys.argv[4]
print(f"round {rnd}: no limit {off[0]}/s (p50 {off[2]} ms, healthz {off[1]}/s); two limits {on[0]}/s "
      f"(p50 {on[2]} ms, healthz {on[1]}/s) = {float(on[0]) / float(off[0]):.2f} of no limit; "
      f"decision script under redis-benchmark {raw:.0f}/s, so 2 decisions per request cap at {raw / 2:.0f}/s: "
      f"limited GETs = {float(on[0]) / (raw / 2):.2f} of it")
PY
  done
fi

if [ "$what" = reads ] || [ "$what" = all ]; then
  B=build/bench/apps/lockstep-bench/lockstep-bench
  R=${LOCKSTEP_REDIS_PORTS%%,*}
  # Starts two shopd on a fresh shop_reads database with the given extra flags; sets URLS.
  start_pair() {
    Q "DROP DATABASE IF EXISTS shop_reads; CREATE DATABASE shop_reads"
    URLS=()
    for i in 1 2; do
      start_shopd shop_reads "build/bench/shopd-reads-$i.log" "$@"
      reads_pids+=("$started_pid")
      URLS+=(--url "$started_url")
    done
    READS_CPU=(--cpu-pid "shopd1=${reads_pids[0]}" --cpu-pid "shopd2=${reads_pids[1]}" "${SERVER_CPU[@]}")
  }
  stop_pair() {
    for p in "${reads_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    reads_pids=()
  }
  reads() {
    "$B" reads "${URLS[@]}" --mysql "mysql://lockstep:lockstep@127.0.0.1:${LOCKSTEP_MARIADB_PORT}/shop_reads" \
      --connections "$connections" --duration "$duration" --products 10000 --writes-per-s 20 --warmup \
      "${READS_CPU[@]}" 2>/dev/null | tail -1
  }
  start_pair; l1l2=$(reads); noop=$("$B" http-noop "${URLS[@]}" --connections "$connections" --duration "$duration" "${READS_CPU[@]}" 2>/dev/null | tail -1); stop_pair
  start_pair --cache-l1 0; l2=$(reads); stop_pair
  start_pair --cache-l1 0 --cache-l2 0; none=$(reads); stop_pair
  rb=$(redis-benchmark -p "$R" -t get -n 200000 -c "$connections" -q 2>/dev/null | tr '\r' '\n' | grep '^GET' | tail -1)
  python3 - "$l1l2" "$l2" "$none" "$noop" "$rb" <<'PY'
import json, sys
l1l2, l2, none, noop = (json.loads(a) for a in sys.argv[1:5])
rb = sys.argv[5]
def cpu(j):
    c = j.get("cpu_us_per_request", {})
    return " / ".join(f"{v:.0f}" for v in (c.get("client", 0), c.get("shopd1", 0) + c.get("shopd2", 0), c.get("redis", 0), c.get("mariadb", 0)))
print("| two shopd, 64 connections, zipf over 10,000 products, 20 PUT/s | reads/s | p50 ms | p99 ms | PUTs | stale beyond 50 ms | stale within | CPU µs per read: client / shopd / redis / mariadb |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for name, j in (("L1 + L2", l1l2), ("L2 only", l2), ("no cache", none)):
    print(f"| {name} | {j['throughput']:.0f} | {j['p50_ms']:.2f} | {j['p99_ms']:.1f} | {j['writes']} | {j['stale_beyond_bound']} | {j['stale_within_bound']} | {cpu(j)} |")
print(f"| http-noop (GET /healthz) | {noop['throughput']:.0f} | {noop['p50_ms']:.2f} | {noop['p99_ms']:.1f} | - | - | - | {cpu(noop)} |")
print(f"\nredis-benchmark: {rb}")
print(f"L1+L2 / L2 only = {l1l2['throughput']/l2['throughput']:.1f}x; L1+L2 / no cache = {l1l2['throughput']/none['throughput']:.1f}x; "
      f"L1+L2 / http-noop = {100*l1l2['throughput']/noop['throughput']:.0f}%; "
      f"the ceiling (http-noop) / L2 only = {noop['throughput']/l2['throughput']:.1f}x, / no cache = {noop['throughput']/none['throughput']:.1f}x")
PY
fi

if [ "$what" = overload ]; then
  Q "DROP DATABASE IF EXISTS shop_overload; CREATE DATABASE shop_overload"
  # shellcheck disable=SC2086  # --shopd-args is a list of flags: split on spaces.
  start_shopd shop_overload build/bench/shopd-overload.log $shopd_args
  shopd_pid=$started_pid U=$started_url
  B=build/bench/apps/lockstep-bench/lockstep-bench
  M="mysql://lockstep:lockstep@127.0.0.1:${LOCKSTEP_MARIADB_PORT}/shop_overload"
  timeout_ms=1000
  echo "== overload: shopd ${shopd_args:-(defaults)}; request deadline $timeout_ms ms, $duration s per step"
  # Each run creates its own 1,000 accounts and keeps its manifest for `verify` below.
  transfers() {
    local name=$1; shift
    "$B" transfers --url "$U" --mysql "$M" --accounts 1000 --duration "$duration" --timeout-ms "$timeout_ms" \
      --replay-every 0 --duplicate-every 0 --manifest "build/bench/overload-$name.manifest.json" \
      --cpu-pid "shopd=$shopd_pid" "${SERVER_CPU[@]}" "$@" 2>"build/bench/overload-$name.log" | tail -1 || true
  }
  cap=$(transfers capacity --connections 64)
  C=$(python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])["completed_rps"]))' "$cap")
  echo "closed-loop capacity C = $C transfers/s (64 connections)"
  steps=("$cap")
  for f in 0.5 1 2 3 4; do
    rate=$(python3 -c "print(round($f * $C))")
    # Enough connections for a second of arrivals to be in flight at once (the deadline is
    # 1 s), 512..2048, unless --overload-connections says otherwise.
    conns=$overload_connections
    [ "$conns" -gt 0 ] || conns=$(python3 -c "print(min(2048, max(512, $rate)))")
    steps+=("$(transfers "x$f" --rate "$rate" --connections "$conns")")
    grep -h WARNING "build/bench/overload-x$f.log" || true
  done
  # The check each run does right after its last answer can still see shopd committing
  # transfers it answered 504 for (its two SELECTs are not one snapshot): the table shows it
  # as "in-run check"; what decides is this re-check of every step once all is quiet.
  verified=ok
  for f in capacity x0.5 x1 x2 x3 x4; do
    "$B" verify --mysql "$M" --manifest "build/bench/overload-$f.manifest.json" >/dev/null 2>"build/bench/overload-verify-$f.log" ||
      { verified=violated; echo "verify $f: FAILED"; cat "build/bench/overload-verify-$f.log"; }
  done
  echo "verify (every step's acknowledged transfers against the tables): $verified"
  python3 - "$shopd_args" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(git rev-parse --short HEAD)" "${steps[@]}" <<'PY'
import json, math, sys
shopd_args, when, commit = sys.argv[1] or "defaults", sys.argv[2], sys.argv[3]
cap, *steps = (json.loads(a) for a in sys.argv[4:])
C = cap["completed_rps"]
json.dump({"shopd_args": shopd_args, "date": when, "commit": commit, "capacity": cap, "steps": steps},
          open("build/bench/overload.json", "w"), indent=1)
def other5xx(j):
    return sum(v for k, v in j["statuses"].items() if int(k) >= 500 and int(k) != 503) / j["seconds"]
def transport(j):
    return j["statuses"].get("0", 0)
peak = max(j["completed_rps"] for j in [cap] + steps)
print(f"\nshopd {shopd_args}; capacity C = {C:.0f}/s (closed loop, 64 connections); {when}, commit {commit}")
print("| offered (x C) | target /s | offered /s | connections | completed /s | shed (503) /s | other 5xx /s | "
      "transport errors | completed p50 / p99 ms | shed p99 ms | completed / peak | in-run check |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
def row(name, j):
    target = f"{j['target_rps']:.0f}" if j["target_rps"] > 0 else "closed loop"
    shed_p99 = f"{j['shed_p99_ms']:.1f}" if j["shed_rps"] > 0 else "-"
    print(f"| {name} | {target} | {j['offered_rps']:.0f} | {j['connections']} | {j['completed_rps']:.0f} | "
          f"{j['shed_rps']:.0f} | {other5xx(j):.0f} | {transport(j)} | {j['completed_p50_ms']:.0f} / "
          f"{j['completed_p99_ms']:.0f} | {shed_p99} | {j['completed_rps'] / peak:.2f} | {j.get('invariants', '?')} |")
row("capacity run", cap)
for f, j in zip(("0.5x", "1x", "2x", "3x", "4x"), steps):
    row(f, j)
print("statuses per step: " + "; ".join(f"{f} {json.dumps(j['statuses'])}" for f, j in zip(("0.5x", "1x", "2x", "3x", "4x"), steps)))

# The chart: offered on x, answers per second on y (hand-written SVG, no packages).
W, H, L, R, T, Bm = 720, 440, 70, 190, 40, 50
xs = [j["offered_rps"] for j in steps]
series = [("completed (2xx/4xx)", "#1f77b4", [j["completed_rps"] for j in steps]),
          ("shed (503)", "#d62728", [j["shed_rps"] for j in steps]),
          ("other 5xx (504, ...)", "#ff7f0e", [other5xx(j) for j in steps])]
xmax = max(xs) * 1.05
ymax = max([max(v) for _, _, v in series] + [max(xs)]) * 1.05
def nice(vmax):  # A round grid step giving at most ~5 lines up to vmax.
    raw = vmax / 5
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if raw <= m * mag)
X = lambda v: L + (W - L - R) * v / xmax
Y = lambda v: H - Bm - (H - T - Bm) * v / ymax
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{L}" y="20" font-size="14">shopd transfers, open loop: offered vs completed vs shed (shopd {shopd_args})</text>']
for axis, vmax in (("x", xmax), ("y", ymax)):
    step = nice(vmax)
    v = 0.0
    while v <= vmax:
        if axis == "x":
            out.append(f'<line x1="{X(v):.1f}" y1="{T}" x2="{X(v):.1f}" y2="{H - Bm}" stroke="#eee"/>')
            out.append(f'<text x="{X(v):.1f}" y="{H - Bm + 16}" text-anchor="middle">{v:.0f}</text>')
        else:
            out.append(f'<line x1="{L}" y1="{Y(v):.1f}" x2="{W - R}" y2="{Y(v):.1f}" stroke="#eee"/>')
            out.append(f'<text x="{L - 6}" y="{Y(v) + 4:.1f}" text-anchor="end">{v:.0f}</text>')
        v += step
out.append(f'<line x1="{L}" y1="{H - Bm}" x2="{W - R}" y2="{H - Bm}" stroke="black"/>')
out.append(f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - Bm}" stroke="black"/>')
out.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">offered transfers/s (achieved send rate)</text>')
out.append(f'<text x="16" y="{(T + H - Bm) / 2}" text-anchor="middle" transform="rotate(-90 16 {(T + H - Bm) / 2})">answers/s</text>')
# References: y = x (everything offered completes) and the closed-loop capacity C.
out.append(f'<line x1="{X(0):.1f}" y1="{Y(0):.1f}" x2="{X(min(xmax, ymax)):.1f}" y2="{Y(min(xmax, ymax)):.1f}" stroke="#999" stroke-dasharray="4 4"/>')
out.append(f'<line x1="{L}" y1="{Y(C):.1f}" x2="{W - R}" y2="{Y(C):.1f}" stroke="#2ca02c" stroke-dasharray="6 3"/>')
legend = [(name, color, "") for name, color, _ in series] + [("offered (y = x)", "#999", "4 4"), (f"capacity C = {C:.0f}/s", "#2ca02c", "6 3")]
for name, color, values in series:
    pts = " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in zip(xs, values))
    out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
    out += [f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="3" fill="{color}"/>' for x, y in zip(xs, values)]
for k, (name, color, dash) in enumerate(legend):
    y = T + 10 + 18 * k
    out.append(f'<line x1="{W - R + 12}" y1="{y}" x2="{W - R + 36}" y2="{y}" stroke="{color}" stroke-width="2"'
               + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
    out.append(f'<text x="{W - R + 42}" y="{y + 4}">{name}</text>')
out.append(f'<text x="{W - R + 12}" y="{T + 10 + 18 * len(legend) + 10}" font-size="10" fill="#555">{when}, {commit}</text>')
out.append("</svg>")
open("build/bench/overload.svg", "w").write("\n".join(out) + "\n")
print("chart: build/bench/overload.svg, summaries: build/bench/overload.json")
PY
  [ "$verified" = ok ]
fi
