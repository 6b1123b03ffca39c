#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/metric_family.h>

#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/cdc/stream_entry.h"
#include "lockstep/redis/client.h"
#include "lockstep/redis/stream_consumer.h"

namespace shopd::domain {

class ProductService;

struct ProductChangeFeedOptions {
  // The CDC stream (lockstep::cdc entries) and the consumer group every instance of the
  // database shares; `consumer` names this process (unique among the live ones).
  std::string stream;
  std::string group;
  std::string consumer;
  // The shop database: only its `products` rows (and gaps, and its DDL) matter.
  std::string database;
  // Entries a dead consumer left unacknowledged are taken over after this long.
  std::chrono::milliseconds claim_idle{1'000};
  // Every failure (Redis, MariaDB, a malformed entry), for the log.
  std::function<void(const lockstep::Status&)> on_error = nullptr;
};

// The product cache's consumer of the binlog CDC stream (README "Writes that bypass
// shopd"): every committed change of a `products` row — by shopd or by anyone else — is
// awaited until MariaDB shows it to other sessions (the binlog is written before the engine
// commit; see AwaitVisible), then invalidates that product: to the row's new `version` when the change bumped it (a cached
// entry at that version stays: it is already the new row), else with an unknown version
// (fills whose load started before are refused). A gap record (binlog purged past the
// stream's checkpoint) or DDL in the database invalidates every product. Entries are
// acknowledged only after their invalidation reached Redis; a failure leaves them pending
// and they are retried (by this consumer, or by another instance after claim_idle).
// Thread-safe; one thread of its own (lockstep::redis::StreamConsumer).
class ProductChangeFeed {
 public:
  // Joins the group (created at the stream's start, "0": a new group sees everything the
  // stream still holds) and starts consuming. `client` and `products` must outlive the feed.
  static lockstep::Result<std::unique_ptr<ProductChangeFeed>> Start(lockstep::redis::Client& client,
                                                                     ProductService& products,
                                                                     ProductChangeFeedOptions options);
  ~ProductChangeFeed();  // Stops consuming; unacknowledged entries stay pending.
  ProductChangeFeed(const ProductChangeFeed&) = delete;
  ProductChangeFeed& operator=(const ProductChangeFeed&) = delete;

  // Counters: product rows invalidated, full flushes (gap, DDL), failures. Thread-safe.
  void CollectMetrics(std::vector<prometheus::MetricFamily>& out) const;

 private:
  ProductChangeFeed(ProductService& products, ProductChangeFeedOptions options);
  // A product row change still to be invalidated.
  struct Change {
    int64_t id = 0;
    int64_t version = 0;  // lockstep::cache::kUnknownVersion when the change did not bump it.
    lockstep::cdc::StreamRow row;
    std::string entry_id;  // Of the stream entry it came in.
  };

  // The row changes of a batch are gathered in order and settled together (one visibility
  // read for their ids, one Redis pipeline); a gap or DDL entry first settles the changes
  // before it, then flushes every product.
  lockstep::Status Handle(std::vector<lockstep::redis::StreamEntry>& entries, std::vector<lockstep::Status>& per_entry);
  // Appends the product changes of a "row"/"rows" entry to `changes` (none when the entry
  // concerns another table or nothing the cache holds).
  lockstep::Status Collect(const lockstep::redis::StreamEntry& entry, std::vector<Change>& changes);
  lockstep::Status Flush(const lockstep::redis::StreamEntry& entry);
  // AwaitVisible, then the invalidations of `changes`, in order.
  lockstep::Status Settle(const std::vector<Change>& changes);
  lockstep::Status AwaitVisible(const std::vector<Change>& changes);

  ProductService& products_;
  const ProductChangeFeedOptions options_;
  std::atomic<uint64_t> invalidated_{0};
  std::atomic<uint64_t> ignored_{0};
  std::atomic<uint64_t> flushes_gap_{0};
  std::atomic<uint64_t> flushes_ddl_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> slow_{0};
  std::atomic<uint64_t> waited_{0};
  std::atomic<uint64_t> visibility_timeouts_{0};
  std::unique_ptr<lockstep::redis::StreamConsumer> consumer_;  // Last: stopped first.
};

}  // namespace shopd::domain
