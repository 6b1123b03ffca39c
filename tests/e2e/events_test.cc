// End-to-end: the transactional outbox of shopd (API.md "Events"). Two instances take
// concurrent transfers, orders (batched and row_lock) and product updates while a reader
// pages GET /v1/events; the instance leading the outbox relay (--events-relay 1) is killed
// with SIGKILL mid-run. Then: every effect has exactly one event, per-aggregate versions run
// without gaps, the stream <prefix>events holds every event at least once in per-aggregate
// order, a deduplicating lockstep::outbox::Consumer applies each exactly once, and the
// listing was monotone and complete.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <atomic>
#include <csignal>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "e2e/e2e_fixture.h"
#include "lockstep/outbox/consumer.h"
#include "lockstep/outbox/event_entry.h"
#include "lockstep/redis/client.h"
#include "support/redis_test.h"

namespace lockstep::e2e {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr auto kSafetyBound = 60s;  // Awaited convergence: only catches "never".
const std::vector<std::string> kRelayArgs = {"--events-relay", "1", "--cdc-lease-ms", "1000"};

class EventsE2eTest : public ShopdE2eTest {
 protected:
  double MetricOf(const ShopdProcess& shopd, const std::string& name) {
    auto r = TryCall(shopd, "GET", "/metrics", "", "", 30s);
    return r.ok() && r->status == 200 ? MetricValue(r->body, name) : -1;
  }
  std::string Stream() { return "shopd:" + database() + ":events"; }
  std::vector<outbox::StoredEvent> ReadStream(redis::Client& client) {
    std::vector<outbox::StoredEvent> out;
    auto reply = client.Command({"XRANGE", Stream(), "-", "+"}, Deadline::After(30s));
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return out;
    for (const redis::Reply& entry : reply->array()) {
      std::vector<std::string> fields;
      for (const redis::Reply& f : entry.array().at(1).array()) fields.push_back(f.str());
      auto e = outbox::DecodeEventEntry(fields);
      EXPECT_TRUE(e.ok()) << e.status();
      if (e.ok()) out.push_back(std::move(*e));
    }
    return out;
  }
  std::set<int64_t> EventIdsInDb() {
    std::set<int64_t> ids;
    auto lease = pool().Acquire(Deadline::After(30s));
    auto rows = lease->Query("SELECT id FROM outbox");
    EXPECT_TRUE(rows.ok()) << rows.status();
    for (const sql::Row& r : *rows) ids.insert(*r.GetInt64(0));
    return ids;
  }
};

TEST_F(EventsE2eTest, ListingRefusesBadParameters) {
  ShopdProcess* s = StartShopd();
  ASSERT_NE(s, nullptr);
  for (const char* target : {"/v1/events?after=-1", "/v1/events?limit=0", "/v1/events?limit=1001",
                             "/v1/events?after=abc", "/v1/events?limit=1.5"}) {
    EXPECT_TRUE(IsApiError(Call(*s, "GET", target), 400, "invalid_argument")) << target;
  }
  const int64_t account = CreateAccount(*s, "ann", 100);
  HttpResponse r = Call(*s, "GET", "/v1/events?after=0&limit=1000");
  ASSERT_EQ(r.status, 200) << r.body;
  const json body = ParseJson(r.body);
  ASSERT_EQ(body["events"].size(), 1u) << r.body;
  const json& e = body["events"][0];
  EXPECT_EQ(e["type"], "account.created");
  EXPECT_EQ(e["aggregate"], "account:" + std::to_string(account));
  EXPECT_EQ(e["aggregate_version"], 1);
  EXPECT_EQ(e["data"]["balance"], 100);
  EXPECT_FALSE(e["committed_at"].get<std::string>().empty());
  EXPECT_EQ(body["next_after"], e["event_id"]);
  const json empty = ParseJson(Call(*s, "GET", "/v1/events?after=" + e["event_id"].dump()).body);
  EXPECT_TRUE(empty["events"].empty());
  EXPECT_EQ(empty["next_after"], e["event_id"]);
}

TEST_F(EventsE2eTest, EveryEffectHasOneEventRelayedThroughAKilledLeader) {
  ShopdProcess* a = StartShopd(kRelayArgs);
  ASSERT_NE(a, nullptr);
  ShopdProcess* b = StartShopd(kRelayArgs);
  ASSERT_NE(b, nullptr);
  constexpr int kAccounts = 6;
  std::vector<int64_t> accounts;
  for (int i = 0; i < kAccounts; ++i) accounts.push_back(CreateAccount(i % 2 ? *a : *b, "acc" + std::to_string(i), 10'000));
  const int64_t batched = CreateProduct(*a, 1'000'000, "batched");
  const int64_t row_lock = CreateProduct(*b, 1'000'000, "row_lock");
  ASSERT_GT(batched, 0);
  ASSERT_GT(row_lock, 0);

  // The listing reader: pages through GET /v1/events on `reader_on` while everything runs.
  std::atomic<bool> writers_done{false};
  std::atomic<ShopdProcess*> reader_on{b};
  std::vector<int64_t> listed;
  std::thread reader([&] {
    int64_t after = 0;
    bool drained = false;
    while (!drained) {
      const bool done = writers_done.load();
      auto r = TryCall(*reader_on.load(), "GET", "/v1/events?after=" + std::to_string(after) + "&limit=50");
      if (!r.ok() || r->status != 200) continue;  // The instance was killed under the call: retry.
      const json body = ParseJson(r->body);
      for (const json& e : body["events"]) {
        const int64_t id = e["event_id"].get<int64_t>();
        EXPECT_TRUE(listed.empty() || id > listed.back()) << id << " listed after " << listed.back();
        listed.push_back(id);
      }
      after = body["next_after"].get<int64_t>();
      drained = done && body["events"].empty();
    }
  });

  // Writers: transfers, orders of both modes, and price updates, on `targets`.
  std::atomic<int> price_updates{0};
  auto run_writers = [&](std::vector<ShopdProcess*> targets, int ops, int seed) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
      threads.emplace_back([&, targets, ops, seed, t] {
        std::mt19937 rng(seed * 100 + t);
        for (int i = 0; i < ops; ++i) {
          ShopdProcess& s = *targets[(t + i) % targets.size()];
          const std::string rid = "e" + std::to_string(seed) + "-" + std::to_string(t) + "-" + std::to_string(i);
          switch (t % 3) {
            case 0: {
              const int64_t from = accounts[rng() % kAccounts], to = accounts[rng() % kAccounts];
              if (from != to) (void)TryCall(s, "POST", "/v1/transfers",
                                            json{{"request_id", rid}, {"from", from}, {"to", to}, {"amount", 1}}.dump());
              break;
            }
            case 1:
              (void)TryCall(s, "POST", "/v1/orders",
                            json{{"request_id", rid}, {"user_id", 7}, {"product_id", i % 2 ? batched : row_lock},
                                 {"quantity", 1}}
                                .dump());
              break;
            default:
              if (i % 5 == 0) {
                auto r = TryCall(s, "PUT", "/v1/products/" + std::to_string(i % 2 ? batched : row_lock),
                                 json{{"price", 100 + i}}.dump());
                if (r.ok() && r->status == 200) price_updates.fetch_add(1);
              } else {
                (void)TryCall(s, "POST", "/v1/orders",
                              json{{"request_id", rid}, {"user_id", 8}, {"product_id", batched}, {"quantity", 2}}.dump());
              }
          }
        }
      });
    }
    return threads;
  };
  // Phase 1 on both instances.
  for (auto& t : run_writers({a, b}, 40, 1)) t.join();
  // Phase 2: the leader of the relay is killed with SIGKILL while writers run on the other.
  ShopdProcess* leader = nullptr;
  ASSERT_TRUE(AwaitCondition(
      [&] {
        for (ShopdProcess* s : {a, b}) {
          if (MetricOf(*s, "shopd_events_leader") == 1) leader = s;
        }
        return leader != nullptr;
      },
      kSafetyBound));
  ShopdProcess* survivor = leader == a ? b : a;
  reader_on.store(survivor);
  auto phase2 = run_writers({survivor}, 40, 2);
  ASSERT_TRUE(AwaitCondition([&] { return MetricOf(*leader, "shopd_events_relayed_total") > 0; }, kSafetyBound));
  ASSERT_EQ(::kill(leader->pid(), SIGKILL), 0);
  for (auto& t : phase2) t.join();
  writers_done.store(true);
  reader.join();

  // 1. Every effect has exactly one event (and nothing else has one).
  auto count_missing = [&](const std::string& table, const std::string& prefix, const std::string& type,
                           const std::string& where) {
    return QueryInt("SELECT COUNT(*) FROM " + table + " x WHERE " + where + " AND (SELECT COUNT(*) FROM outbox o " +
                    "WHERE o.aggregate = CONCAT('" + prefix + "', x.id) AND o.type = '" + type + "') <> 1");
  };
  EXPECT_EQ(count_missing("accounts", "account:", "account.created", "1"), 0);
  EXPECT_EQ(count_missing("transfers", "transfer:", "transfer.completed", "1"), 0);
  EXPECT_EQ(count_missing("orders", "order:", "order.confirmed", "x.status = 'confirmed'"), 0);
  EXPECT_EQ(count_missing("products", "product:", "product.created", "1"), 0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM outbox WHERE type = 'account.created'"), kAccounts);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM outbox WHERE type = 'transfer.completed'"),
            QueryInt("SELECT COUNT(*) FROM transfers"));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM outbox WHERE type = 'order.confirmed'"),
            QueryInt("SELECT COUNT(*) FROM orders WHERE status = 'confirmed'"));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM outbox WHERE type = 'product.updated'"), price_updates.load());
  EXPECT_GT(QueryInt("SELECT COUNT(*) FROM transfers"), 0);
  EXPECT_GT(price_updates.load(), 0);
  // 2. Versions 1..n per aggregate (the unique key rules out duplicates).
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM (SELECT aggregate FROM outbox GROUP BY aggregate "
                     "HAVING COUNT(*) <> MAX(aggregate_version) OR MIN(aggregate_version) <> 1) g"),
            0);
  // 3. The listing: monotone (checked as it ran) and, drained, every committed event once.
  const std::set<int64_t> in_db = EventIdsInDb();
  EXPECT_EQ(std::set<int64_t>(listed.begin(), listed.end()), in_db);
  EXPECT_EQ(listed.size(), in_db.size());

  // 4. The stream: the survivor's relay catches up; each event at least once, and per
  //    aggregate the first sightings run 1, 2, 3 ... .
  auto client = redis::Client::Open(testing::RedisTestOptions(0));
  ASSERT_TRUE(client.ok()) << client.status();
  std::vector<outbox::StoredEvent> relayed;
  ASSERT_TRUE(AwaitCondition(
      [&] {
        relayed = ReadStream(**client);
        std::set<int64_t> ids;
        for (const auto& e : relayed) ids.insert(e.event_id);
        return ids == in_db;
      },
      kSafetyBound))
      << relayed.size() << " entries for " << in_db.size() << " events";
  std::map<std::string, int64_t> highest;
  for (const outbox::StoredEvent& e : relayed) {
    int64_t& h = highest[e.aggregate];
    if (e.aggregate_version > h) {
      EXPECT_EQ(e.aggregate_version, h + 1) << e.aggregate << " out of order in the stream";
      h = e.aggregate_version;
    }
  }
  EXPECT_EQ(MetricOf(*survivor, "shopd_events_leader"), 1);

  // 5. A deduplicating consumer applies every event exactly once.
  ASSERT_TRUE(ExecAdmin(outbox::Consumer::SchemaStatement("outbox_processed")).ok());
  ASSERT_TRUE(ExecAdmin("CREATE TABLE applied (event_id BIGINT PRIMARY KEY) ENGINE=InnoDB").ok());
  outbox::ConsumerOptions co;
  co.stream.stream = Stream();
  co.stream.group = "e2e-checker";
  co.stream.consumer = "c1";
  co.stream.trim_interval = 0ms;
  auto consumer = outbox::Consumer::Start(**client, pool(), co, [](sql::Transaction& tx, const outbox::StoredEvent& e) {
    return tx.Execute("INSERT INTO applied (event_id) VALUES (?)", e.event_id).status();
  });
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE(AwaitCondition([&] { return (*consumer)->stats().entries_acked >= relayed.size(); }, kSafetyBound));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM applied"), static_cast<int64_t>(in_db.size()));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM outbox_processed"), static_cast<int64_t>(in_db.size()));
  EXPECT_EQ((*consumer)->stats().handler_failures, 0u);
  (*consumer)->Stop();
  (void)(*client)->Del({Stream(), Stream() + ":checkpoint", Stream() + ":fence"}, Deadline::After(10s));
}

}  // namespace
}  // namespace lockstep::e2e
