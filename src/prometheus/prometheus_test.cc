#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <prometheus/registry.h>

#include "lockstep/prometheus/observers.h"
#include "lockstep/prometheus/snapshots.h"
#include "lockstep/redis/client.h"

namespace lockstep::prometheus {
namespace {

using namespace std::chrono_literals;

bool Contains(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(BindLockObserver, CountsEveryEvent) {
  ::prometheus::Registry registry;
  lock::LockObserver observer;
  int before = 0;
  observer.on_lost = [&before](std::string_view) { ++before; };  // Kept, called first.
  ASSERT_TRUE(BindLockObserver(registry, observer, "t_lock_").ok());
  observer.on_acquired("a", 0ns);
  observer.on_acquired("a", 20ms);
  observer.on_wait("a");
  observer.on_wake("a");
  observer.on_renewal("a", Status::Ok());
  observer.on_renewal("a", Status::Unavailable("down"));
  observer.on_lost("a");
  observer.on_fenced_rejected("orders");
  EXPECT_EQ(before, 1);

  const std::string text = SerializeText({&registry});
  for (const char* line : {"t_lock_acquired_total 2", "t_lock_acquire_wait_seconds_count 2",
                           "t_lock_acquire_wait_seconds_bucket{le=\"0.001\"} 1", "t_lock_waits_total 1",
                           "t_lock_wakes_total 1", "t_lock_renewals_total{outcome=\"ok\"} 1",
                           "t_lock_renewals_total{outcome=\"failed\"} 1", "t_lock_lost_total 1",
                           "t_lock_fenced_rejected_total{table=\"orders\"} 1"}) {
    EXPECT_TRUE(Contains(text, line)) << line << " missing in\n" << text;
  }
}

TEST(BindTccObserver, CountsEveryEvent) {
  ::prometheus::Registry registry;
  tcc::TccObserver observer;
  int before = 0;
  observer.on_state = [&before](tcc::GlobalState) { ++before; };  // Kept, called first.
  ASSERT_TRUE(BindTccObserver(registry, observer, "t_tcc_").ok());
  observer.on_state(tcc::GlobalState::kTrying);
  observer.on_state(tcc::GlobalState::kTrying);
  observer.on_state(tcc::GlobalState::kConfirmed);
  observer.on_recovered(tcc::GlobalState::kConfirming, tcc::GlobalState::kConfirmed);
  observer.on_empty_rollback("payments");
  observer.on_hanging_try_refused("shop");
  observer.on_oldest_unfinished(1500ms);
  EXPECT_EQ(before, 3);

  const std::string text = SerializeText({&registry});
  for (const char* line : {"t_tcc_transitions_total{state=\"trying\"} 2", "t_tcc_transitions_total{state=\"confirmed\"} 1",
                           "t_tcc_recoveries_total{from=\"confirming\"} 1",
                           "t_tcc_empty_rollbacks_total{participant=\"payments\"} 1",
                           "t_tcc_hanging_tries_refused_total{participant=\"shop\"} 1",
                           "t_tcc_oldest_unfinished_seconds 1.5"}) {
    EXPECT_TRUE(Contains(text, line)) << line << " missing in\n" << text;
  }
}

TEST(BindOutboxConsumerObserver, CountsEveryOutcome) {
  ::prometheus::Registry registry;
  outbox::ConsumerObserver observer;
  ASSERT_TRUE(BindOutboxConsumerObserver(registry, observer, "t_ob_").ok());
  observer.on_applied(outbox::StoredEvent{});
  observer.on_applied(outbox::StoredEvent{});
  observer.on_duplicate(outbox::StoredEvent{});
  observer.on_failure(Status::Internal("x"));
  observer.on_dead_letter("1-0", Status::Internal("x"));
  const std::string text = SerializeText({&registry});
  for (const char* line : {"t_ob_events_total{outcome=\"applied\"} 2", "t_ob_events_total{outcome=\"duplicate\"} 1",
                           "t_ob_failures_total 1", "t_ob_dead_letters_total 1"}) {
    EXPECT_TRUE(Contains(text, line)) << line << " missing in\n" << text;
  }
}

TEST(BindPoolObserver, RecordsWaitsAndRetriesAndKeepsTheLogCallback) {
  ::prometheus::Registry registry;
  sql::PoolObserver observer;
  observer.on_log = [](std::string_view) {};
  ASSERT_TRUE(BindPoolObserver(registry, observer).ok());
  ASSERT_TRUE(observer.on_log);
  EXPECT_FALSE(observer.on_discard);
  observer.on_acquire_wait(3ms);
  observer.on_retry(Status::Aborted("deadlock"), 1);
  observer.on_retry(Status::Aborted("deadlock"), 2);
  const std::string text = SerializeText({&registry});
  EXPECT_TRUE(Contains(text, "lockstep_mariadb_pool_acquire_wait_seconds_count 1")) << text;
  EXPECT_TRUE(Contains(text, "lockstep_mariadb_tx_retries_total{code=\"ABORTED\"} 2")) << text;
}

TEST(BindPoolObserver, CountsBreakerTransitionsByState) {
  ::prometheus::Registry registry;
  sql::PoolObserver observer;
  ASSERT_TRUE(BindPoolObserver(registry, observer, "t_db_").ok());
  ASSERT_TRUE(observer.on_breaker_state);
  observer.on_breaker_state(BreakerState::kOpen);
  observer.on_breaker_state(BreakerState::kHalfOpen);
  observer.on_breaker_state(BreakerState::kOpen);
  const std::string text = SerializeText({&registry});
  EXPECT_TRUE(Contains(text, "t_db_breaker_transitions_total{to=\"open\"} 2")) << text;
  EXPECT_TRUE(Contains(text, "t_db_breaker_transitions_total{to=\"half_open\"} 1")) << text;
  EXPECT_TRUE(Contains(text, "t_db_breaker_transitions_total{to=\"closed\"} 0")) << text;
}

// A client whose server refuses connections (127.0.0.1:1): its breaker opens, and both the
// transition counter and the state gauge say so; without a breaker there is no gauge.
TEST(AddClientStats, ExportsTheBreakerState) {
  ::prometheus::Registry registry;
  redis::RedisOptions options;
  options.port = 1;
  options.breaker = CircuitBreakerOptions{.window = 60s, .buckets = 10, .min_requests = 2, .failure_ratio = 0.5,
                                          .open_duration = 60s, .half_open_probes = 1, .on_transition = {}};
  ASSERT_TRUE(BindClientObserver(registry, options.observer, "t_kv_").ok());
  auto client = redis::Client::Open(options);
  ASSERT_TRUE(client.ok()) << client.status();
  redis::RedisOptions plain_options;
  plain_options.port = 1;
  auto plain = redis::Client::Open(plain_options);
  ASSERT_TRUE(plain.ok()) << plain.status();
  Snapshots snapshots;
  AddClientStats(snapshots, **client, "t_kv_");
  AddClientStats(snapshots, **plain, "t_plain_");
  EXPECT_TRUE(Contains(SerializeText({&snapshots}), "t_kv_breaker_state 0"));

  for (int i = 0; i < 2; ++i) EXPECT_FALSE((*client)->Ping(Deadline::After(10s)).ok());
  const Status refused = (*client)->Ping(Deadline::After(10s));
  EXPECT_TRUE(CircuitBreaker::IsRejection(refused)) << refused;
  const std::string text = SerializeText({&registry, &snapshots});
  EXPECT_TRUE(Contains(text, "t_kv_breaker_state 1")) << text;
  EXPECT_TRUE(Contains(text, "t_kv_breaker_transitions_total{to=\"open\"} 1")) << text;
  EXPECT_EQ(text.find("t_plain_breaker_state"), std::string::npos) << text;
}

TEST(BindRoutingObserver, CountsReadsFallbacksWaitsAndReplicaLag) {
  ::prometheus::Registry registry;
  routing::RoutingObserver observer;
  ASSERT_TRUE(BindRoutingObserver(registry, observer, "t_routing_").ok());
  observer.on_read(routing::ReadSource{});
  observer.on_read(routing::ReadSource{false, "127.0.0.1:3307"});
  observer.on_read(routing::ReadSource{false, "127.0.0.1:3307"});
  observer.on_primary_fallback(routing::FallbackReason::kWaitTimedOut);
  observer.on_gtid_wait(routing::WaitOutcome::kReached, 2ms);
  routing::ReplicaStatus status;
  status.address = "127.0.0.1:3307";
  status.in_rotation = true;
  status.lag = 20ms;
  status.gtid_distance = 3;
  observer.on_replica_probe(status);
  const std::string text = SerializeText({&registry});
  EXPECT_TRUE(Contains(text, "t_routing_reads_total{source=\"primary\"} 1")) << text;
  EXPECT_TRUE(Contains(text, "t_routing_reads_total{source=\"replica:127.0.0.1:3307\"} 2")) << text;
  EXPECT_TRUE(Contains(text, "t_routing_primary_fallbacks_total{reason=\"wait_timed_out\"} 1")) << text;
  EXPECT_TRUE(Contains(text, "t_routing_primary_fallbacks_total{reason=\"no_fresh_replica\"} 0")) << text;
  EXPECT_TRUE(Contains(text, "t_routing_gtid_waits_total{outcome=\"reached\"} 1")) << text;
  EXPECT_TRUE(Contains(text, "t_routing_replica_lag_seconds{replica=\"127.0.0.1:3307\"} 0.02")) << text;
  EXPECT_TRUE(Contains(text, "t_routing_replica_staleness_seconds{replica=\"127.0.0.1:3307\"} Nan")) << text;
  EXPECT_TRUE(Contains(text, "t_routing_replica_gtid_distance{replica=\"127.0.0.1:3307\"} 3")) << text;
  EXPECT_TRUE(Contains(text, "t_routing_replica_in_rotation{replica=\"127.0.0.1:3307\"} 1")) << text;
}

TEST(BindObserver, RefusesABadPrefix) {
  ::prometheus::Registry registry;
  redis::ClientObserver observer;
  EXPECT_EQ(BindClientObserver(registry, observer, "bad prefix ").code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(observer.on_call);
}

TEST(Snapshots, CollectsAtScrapeTime) {
  Snapshots snapshots;
  int value = 1;
  snapshots.Add([&value](std::vector<::prometheus::MetricFamily>& out) {
    out.push_back(CounterFamily("t_things_total", "Things.", value));
    out.push_back(GaugeFamily("t_level", "Level.", 0.5));
  });
  EXPECT_TRUE(Contains(SerializeText({&snapshots}), "t_things_total 1"));
  value = 7;
  const std::string text = SerializeText({&snapshots});
  EXPECT_TRUE(Contains(text, "t_things_total 7")) << text;
  EXPECT_TRUE(Contains(text, "# TYPE t_level gauge")) << text;
  EXPECT_TRUE(Contains(text, "t_level 0.5")) << text;
}

// Runs promtool check metrics on `text`; its exit code (0 = no problems, warnings included)
// and what it printed.
int Promtool(const std::string& text, std::string& output) {
  const std::string promtool = LOCKSTEP_PROMTOOL;
  if (promtool.empty()) {
    output = "promtool not found at configure time (Debian: prometheus)";
    return -1;
  }
  char dir_template[] = "/tmp/lockstep_prometheus_test.XXXXXX";
  const char* dir = ::mkdtemp(dir_template);
  if (dir == nullptr) return -1;
  const std::string in = std::string(dir) + "/metrics.txt", out = std::string(dir) + "/promtool.out";
  std::ofstream(in, std::ios::binary) << text;
  const int status = std::system((promtool + " check metrics < " + in + " > " + out + " 2>&1").c_str());
  std::stringstream printed;
  printed << std::ifstream(out).rdbuf();
  output = printed.str();
  std::remove(in.c_str());
  std::remove(out.c_str());
  ::rmdir(dir);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Every observer and stats exporter wired to one registry, with samples: the text passes
// promtool's lint (names, suffixes, help) without a single warning.
TEST(SerializeText, FullyWiredRegistryPassesPromtool) {
  ::prometheus::Registry registry;
  lock::LockObserver lock_observer;
  sql::PoolObserver pool_observer;
  redis::RedisOptions redis_options;
  redis_options.port = 1;  // Never connected: Open is lazy.
  redis_options.breaker = CircuitBreakerOptions{};
  ASSERT_TRUE(BindLockObserver(registry, lock_observer).ok());
  ASSERT_TRUE(BindPoolObserver(registry, pool_observer).ok());
  ASSERT_TRUE(BindClientObserver(registry, redis_options.observer).ok());
  tcc::TccObserver tcc_observer;
  ASSERT_TRUE(BindTccObserver(registry, tcc_observer).ok());
  routing::RoutingObserver routing_observer;
  ASSERT_TRUE(BindRoutingObserver(registry, routing_observer).ok());
  routing_observer.on_read(routing::ReadSource{});
  routing_observer.on_gtid_wait(routing::WaitOutcome::kTimedOut, 1ms);
  routing::ReplicaStatus replica;
  replica.address = "127.0.0.1:3307";
  replica.lag = 1ms;
  replica.staleness = 20ms;
  routing_observer.on_replica_probe(replica);
  auto client = redis::Client::Open(redis_options);
  ASSERT_TRUE(client.ok()) << client.status();
  Snapshots snapshots;
  AddClientStats(snapshots, **client);
  lock_observer.on_acquired("a", 1ms);
  lock_observer.on_renewal("a", Status::Ok());
  lock_observer.on_fenced_rejected("t");
  pool_observer.on_acquire_wait(1ms);
  pool_observer.on_retry(Status::Aborted("x"), 1);
  pool_observer.on_breaker_state(BreakerState::kOpen);
  redis_options.observer.on_call(Status::Ok(), 1ms);
  tcc_observer.on_state(tcc::GlobalState::kCancelled);
  tcc_observer.on_recovered(tcc::GlobalState::kTrying, tcc::GlobalState::kCancelled);
  tcc_observer.on_empty_rollback("payments");
  tcc_observer.on_hanging_try_refused("payments");
  tcc_observer.on_oldest_unfinished(2s);

  const std::string text = SerializeText({&registry, &snapshots});
  EXPECT_TRUE(Contains(text, "lockstep_redis_pool_open 0")) << text;
  EXPECT_TRUE(Contains(text, "lockstep_redis_call_duration_seconds_count{outcome=\"ok\"} 1")) << text;
  EXPECT_TRUE(Contains(text, "lockstep_redis_breaker_state 0")) << text;
  EXPECT_TRUE(Contains(text, "lockstep_mariadb_breaker_transitions_total{to=\"open\"} 1")) << text;
  std::string output;
  EXPECT_EQ(Promtool(text, output), 0) << "promtool check metrics:\n" << output << "\nmetrics:\n" << text;
}

}  // namespace
}  // namespace lockstep::prometheus
