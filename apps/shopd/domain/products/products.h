#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

#include "lockstep/base/clock.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/cache/cache.h"

namespace lockstep::sql {
class Pool;
}

namespace lockstep::routing {
class ReplicaSet;
}

namespace shopd::domain {

// How a product's stock is decremented by orders (DESIGN.md "shopd domain").
enum class StockMode { kRowLock, kBatched, kReserved };

std::string_view StockModeName(StockMode mode);
// "row_lock" | "batched" | "reserved"; nullopt for anything else.
std::optional<StockMode> ParseStockMode(std::string_view name);

struct Product {
  int64_t id = 0;
  std::string name;
  int64_t price = 0;
  int64_t stock = 0;
  int64_t version = 0;
  StockMode stock_mode = StockMode::kBatched;
};

// Cache codec of Product: "<id> <version> <price> <stock> <mode> <name>". Thread-safe.
struct ProductCodec {
  static std::string EncodeKey(int64_t id);
  static std::string Encode(const Product& p);
  static lockstep::Result<Product> Decode(std::string_view bytes);
};
using ProductCache = lockstep::cache::Cache<int64_t, Product, ProductCodec>;

// Products (API.md /v1/products). Thread-safe.
//
// With a cache, GET reads through it (lockstep::cache: L1 + L2, versioned fills). POST
// and PUT write a pending_invalidations row in their own transaction, invalidate the
// cache after COMMIT and then delete the row; when Redis cannot be reached the row stays
// and a background thread replays it (every instance polls the table every
// kPendingPollInterval) until delivered. While a product has a pending row that an
// instance knows of, that instance reads it from MariaDB, never from the cache.
// Stock changes made by orders are invalidated asynchronously (StockChanged), at most once
// per kStockFlushInterval: the orders of a hot product in that interval share one
// invalidation.
class ProductService {
 public:
  // How often every instance polls pending_invalidations (README: bound while Redis is down).
  static constexpr std::chrono::milliseconds kPendingPollInterval{100};
  // Minimum gap between two flushes of stock changes. Each flush is one Lua script per
  // changed product, with an AOF fsync under appendfsync always (~200 µs of Redis CPU); at
  // hundreds of orders per second on one product the gap turns one per order into one per
  // interval. It adds at most this much to how long a GET may show stock older than an
  // order (README).
  static constexpr std::chrono::milliseconds kStockFlushInterval{5};

  // `cache` may be null: every read goes to MariaDB. With a cache, a background thread
  // (one pooled MariaDB connection at a time) replays pending invalidations.
  explicit ProductService(lockstep::sql::Pool& pool, std::unique_ptr<ProductCache> cache = nullptr);
  ~ProductService();
  ProductService(const ProductService&) = delete;
  ProductService& operator=(const ProductService&) = delete;

  // Decides whether stock_mode "reserved" may be used (Redis durability). Without a gate
  // "reserved" is refused. REQUIRES: called before the service is shared between threads.
  void SetReservedGate(std::function<lockstep::Status(const lockstep::Deadline&)> gate) { reserved_gate_ = std::move(gate); }
  // Lets the cache's loader read through `replicas` (not owned; must outlive the service)
  // with MaxStaleness(`max_staleness`). Safe because a fill older than an invalidation is
  // refused while that invalidation's tombstone lives (cache_tombstone_ttl T) and the loader
  // runs at most T/2: with max_staleness <= T/4 a fill read from a replica that misses a
  // commit lands while the tombstone of that commit's invalidation still refuses it (README
  // "Replicas and consistency tokens"). Without it (default) the loader reads the primary.
  // REQUIRES: called before the service is shared between threads.
  void SetLoaderReads(lockstep::routing::ReplicaSet* replicas, std::chrono::milliseconds max_staleness) {
    loader_reads_ = replicas;
    loader_staleness_ = max_staleness;
  }

  // Creates a product with version 1. kInvalidArgument: name outside 1..128 UTF-8
  // characters, negative price or stock, unknown stock_mode, or "reserved" while the
  // reserved gate (SetReservedGate) refuses it (its message says why). Default mode: batched.
  lockstep::Result<Product> Create(const std::string& name, int64_t price, int64_t stock,
                                   std::optional<std::string> stock_mode, const lockstep::Deadline& deadline);
  // kNotFound for an unknown id.
  lockstep::Result<Product> Get(int64_t id, const lockstep::Deadline& deadline);
  // The product from this instance's L1 when Get would serve it from there (never blocks;
  // nullopt: call Get). Thread-safe.
  std::optional<Product> PeekCached(int64_t id) LOCKSTEP_EXCLUDES(bg_mu_);
  // Changes name and/or price and bumps version in the same UPDATE; returns the new row.
  // kInvalidArgument if neither is given or one is invalid; kNotFound for an unknown id.
  lockstep::Result<Product> Update(int64_t id, std::optional<std::string> name, std::optional<int64_t> price,
                                   const lockstep::Deadline& deadline);
  // The stock mode of `id` (immutable once created, so cached in-process); nullopt if the
  // product does not exist (not cached).
  lockstep::Result<std::optional<StockMode>> ModeOf(int64_t id, const lockstep::Deadline& deadline)
      LOCKSTEP_EXCLUDES(mu_);
  // The mode if ModeOf cached it already; nullopt otherwise. Never blocks (one short mutex
  // section): usable on an I/O thread.
  std::optional<StockMode> CachedModeOf(int64_t id) LOCKSTEP_EXCLUDES(mu_);

  // Call after a committed order changed `id`'s stock (and version). Returns at once; the
  // background thread invalidates the cache entry (coalescing bursts per product). No-op
  // without a cache. Thread-safe.
  void StockChanged(int64_t id) LOCKSTEP_EXCLUDES(bg_mu_);

  // Change data capture (ProductChangeFeed): rows of `products` changed outside this
  // service's knowledge; invalidates each (id, version) in order (version
  // lockstep::cache::kUnknownVersion when the change did not bump it), one Redis round trip
  // per up to 1,000. OK without a cache; on error retry all (idempotent). Thread-safe.
  lockstep::Status InvalidateChanges(std::span<const std::pair<int64_t, int64_t>> changes,
                                     const lockstep::Deadline& deadline);
  // The rows of `ids` as MariaDB has them committed now, bypassing the cache (a fresh
  // READ COMMITTED read, up to 32 ids per statement); an id without a row is absent from
  // the map. Thread-safe.
  lockstep::Result<std::map<int64_t, Product>> ReadCommitted(const std::vector<int64_t>& ids,
                                                             const lockstep::Deadline& deadline);
  // Invalidates every product with an unknown version (after a CDC gap or DDL on the
  // table: anything may have changed). Returns how many were invalidated; stops at the
  // first failure. 0 without a cache. Thread-safe.
  lockstep::Result<int64_t> InvalidateAll(const lockstep::Deadline& deadline);

  // Appends the gauges of the pending-invalidation replayer (nothing without a cache); the
  // cache's own counters are exported from its stats() (lockstep::prometheus). Thread-safe.
  void CollectMetrics(std::vector<prometheus::MetricFamily>& out) const LOCKSTEP_EXCLUDES(bg_mu_);

 private:
  lockstep::Result<Product> LoadFromDb(int64_t id, const lockstep::Deadline& deadline);
  // The cache loader's read: through loader_reads_ if set, else LoadFromDb.
  lockstep::Result<Product> LoadForCache(int64_t id, const lockstep::Deadline& deadline);
  // After COMMIT: invalidates and deletes the pending row, or leaves it for the replayer.
  // Not bounded by the request's deadline: the cache caps each Redis call itself.
  void InvalidateAfterCommit(int64_t id, int64_t version, int64_t pending_row) LOCKSTEP_EXCLUDES(bg_mu_);
  bool IsPending(int64_t id) const LOCKSTEP_EXCLUDES(bg_mu_);
  void MarkPending(int64_t id) LOCKSTEP_EXCLUDES(bg_mu_);
  void BackgroundLoop() LOCKSTEP_EXCLUDES(bg_mu_);
  void FlushStockChanges() LOCKSTEP_EXCLUDES(bg_mu_);
  void ReplayPending() LOCKSTEP_EXCLUDES(bg_mu_);

  lockstep::sql::Pool& pool_;
  std::function<lockstep::Status(const lockstep::Deadline&)> reserved_gate_;
  lockstep::routing::ReplicaSet* loader_reads_ = nullptr;
  std::chrono::milliseconds loader_staleness_{0};
  lockstep::Mutex mu_;
  std::map<int64_t, StockMode> modes_ LOCKSTEP_GUARDED_BY(mu_);

  std::unique_ptr<ProductCache> cache_;
  mutable lockstep::Mutex bg_mu_;
  lockstep::CondVar bg_cv_;
  bool stop_ LOCKSTEP_GUARDED_BY(bg_mu_) = false;
  std::set<int64_t> dirty_stock_ LOCKSTEP_GUARDED_BY(bg_mu_);
  // Products not read through the cache: their invalidation is not delivered yet. Value:
  // when this instance added it (a poll that started earlier must not drop it).
  std::map<int64_t, lockstep::Clock::time_point> pending_ LOCKSTEP_GUARDED_BY(bg_mu_);
  uint64_t pending_replayed_ LOCKSTEP_GUARDED_BY(bg_mu_) = 0;
  std::thread background_;
};

}  // namespace shopd::domain
