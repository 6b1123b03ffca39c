#include "domain/products/products.h"

#include <algorithm>
#include <charconv>
#include <tuple>
#include <vector>

#include <spdlog/spdlog.h>

#include "domain/events/events.h"
#include "domain/multi_row.h"
#include "domain/routed_read.h"
#include "domain/validation.h"
#include "lockstep/prometheus/snapshots.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/run_in_transaction.h"
#include "lockstep/base/thread_name.h"

namespace shopd::domain {

using lockstep::Status;

namespace {

constexpr std::string_view kSelectProduct = "SELECT id, name, price, stock, version, stock_mode FROM products WHERE id = ?";

lockstep::Result<Product> ProductFromRow(const lockstep::sql::Row& row) {
  Product p;
  LOCKSTEP_ASSIGN_OR_RETURN(p.id, row.GetInt64(0));
  LOCKSTEP_ASSIGN_OR_RETURN(p.name, row.GetString(1));
  LOCKSTEP_ASSIGN_OR_RETURN(p.price, row.GetInt64(2));
  LOCKSTEP_ASSIGN_OR_RETURN(p.stock, row.GetInt64(3));
  LOCKSTEP_ASSIGN_OR_RETURN(p.version, row.GetInt64(4));
  LOCKSTEP_ASSIGN_OR_RETURN(std::string mode, row.GetString(5));
  const auto parsed = ParseStockMode(mode);
  if (!parsed) return Status::Internal("product ", p.id, " has unknown stock_mode '", mode, "'");
  p.stock_mode = *parsed;
  return p;
}

// The data of product.created / product.updated: the product as committed.
nlohmann::json ProductEventData(const Product& p) {
  return {{"product_id", p.id},   {"name", p.name},       {"price", p.price},
          {"stock", p.stock},     {"version", p.version}, {"stock_mode", std::string(StockModeName(p.stock_mode))}};
}

}  // namespace

std::string_view StockModeName(StockMode mode) {
  switch (mode) {
    case StockMode::kRowLock: return "row_lock";
    case StockMode::kBatched: return "batched";
    case StockMode::kReserved: return "reserved";
  }
  return "batched";
}

std::optional<StockMode> ParseStockMode(std::string_view name) {
  if (name == "row_lock") return StockMode::kRowLock;
  if (name == "batched") return StockMode::kBatched;
  if (name == "reserved") return StockMode::kReserved;
  return std::nullopt;
}

std::string ProductCodec::EncodeKey(int64_t id) { return std::to_string(id); }

std::string ProductCodec::Encode(const Product& p) {
  return std::to_string(p.id) + " " + std::to_string(p.version) + " " + std::to_string(p.price) + " " +
         std::to_string(p.stock) + " " + std::string(StockModeName(p.stock_mode)) + " " + p.name;
}

lockstep::Result<Product> ProductCodec::Decode(std::string_view bytes) {
  Product p;
  std::string_view rest = bytes;
  auto next_int = [&rest](int64_t& out) {
    const size_t sp = rest.find(' ');
    if (sp == std::string_view::npos) return false;
    const auto [end, ec] = std::from_chars(rest.data(), rest.data() + sp, out);
    if (ec != std::errc() || end != rest.data() + sp) return false;
    rest.remove_prefix(sp + 1);
    return true;
  };
  if (!next_int(p.id) || !next_int(p.version) || !next_int(p.price) || !next_int(p.stock)) {
    return Status::Internal("malformed cached product");
  }
  const size_t sp = rest.find(' ');
  if (sp == std::string_view::npos) return Status::Internal("malformed cached product");
  const auto mode = ParseStockMode(rest.substr(0, sp));
  if (!mode) return Status::Internal("malformed cached product mode");
  p.stock_mode = *mode;
  p.name = std::string(rest.substr(sp + 1));
  return p;
}

ProductService::ProductService(lockstep::sql::Pool& pool, std::unique_ptr<ProductCache> cache)
    : pool_(pool), cache_(std::move(cache)) {
  if (cache_ != nullptr) {
    background_ = std::thread([this] {
      lockstep::SetCurrentThreadName("product-inval");
      BackgroundLoop();
    });
  }
}

ProductService::~ProductService() {
  {
    lockstep::MutexLock lock(&bg_mu_);
    stop_ = true;
    bg_cv_.SignalAll();
  }
  if (background_.joinable()) background_.join();
}

lockstep::Result<Product> ProductService::Create(const std::string& name, int64_t price, int64_t stock,
                                                 std::optional<std::string> stock_mode,
                                                 const lockstep::Deadline& deadline) {
  LOCKSTEP_RETURN_IF_ERROR(ValidateText("name", name, 1, kMaxProductNameChars));
  if (price < 0) return Status::InvalidArgument("field 'price' must not be negative");
  if (stock < 0) return Status::InvalidArgument("field 'stock' must not be negative");
  StockMode mode = StockMode::kBatched;
  if (stock_mode) {
    const auto parsed = ParseStockMode(*stock_mode);
    if (!parsed) return Status::InvalidArgument("field 'stock_mode' must be one of row_lock, batched, reserved");
    if (*parsed == StockMode::kReserved) {
      if (!reserved_gate_) return Status::InvalidArgument("stock_mode 'reserved' is not enabled in this process");
      if (Status s = reserved_gate_(deadline); !s.ok()) {
        return Status::InvalidArgument("stock_mode 'reserved' is refused: ", s.message());
      }
    }
    mode = *parsed;
  }
  Product p{0, name, price, stock, 1, mode};
  int64_t pending_row = 0;
  lockstep::sql::RunOptions options;
  options.tx.isolation = lockstep::sql::IsolationLevel::kReadCommitted;
  LOCKSTEP_RETURN_IF_ERROR(lockstep::sql::RunInTransaction(
      pool_, options, deadline, [&](lockstep::sql::Transaction& tx) -> Status {
        LOCKSTEP_ASSIGN_OR_RETURN(
            lockstep::sql::ExecResult r,
            tx.Execute("INSERT INTO products (name, price, stock, version, stock_mode) VALUES (?, ?, ?, 1, ?)", name,
                       price, stock, StockModeName(mode)));
        p.id = static_cast<int64_t>(r.last_insert_id);
        if (cache_ != nullptr) {
          // A cached not-found of this id must not hide the new row: the create invalidates
          // too, recorded here so that it survives a Redis outage.
          LOCKSTEP_ASSIGN_OR_RETURN(
              lockstep::sql::ExecResult pr,
              tx.Execute("INSERT INTO pending_invalidations (product_id, version, created_at) "
                         "VALUES (?, 1, UTC_TIMESTAMP(6))",
                         p.id));
          pending_row = static_cast<int64_t>(pr.last_insert_id);
        }
        return AppendEvent(tx, "product.created", "product:" + std::to_string(p.id), ProductEventData(p), true);
      }));
  {
    lockstep::MutexLock lock(&mu_);
    modes_.emplace(p.id, mode);
  }
  if (cache_ != nullptr) InvalidateAfterCommit(p.id, 1, pending_row);
  return p;
}

lockstep::Result<Product> ProductService::Get(int64_t id, const lockstep::Deadline& deadline) {
  if (cache_ == nullptr || IsPending(id)) return LoadFromDb(id, deadline);
  auto loader = [this, id](const lockstep::Deadline& d) -> lockstep::Result<lockstep::cache::Versioned<Product>> {
    lockstep::Result<Product> p = LoadForCache(id, d);
    if (!p.ok()) {
      if (p.status().code() == lockstep::StatusCode::kNotFound) return lockstep::cache::Versioned<Product>::NotFound();
      return p.status();
    }
    const int64_t version = p->version;
    return lockstep::cache::Versioned<Product>::Of(std::move(p).value(), version);
  };
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::cache::Versioned<Product> cached, cache_->Get(id, loader, deadline));
  if (!cached.found()) return Status::NotFound("product ", id, " not found");
  return std::move(*cached.value);
}

std::optional<Product> ProductService::PeekCached(int64_t id) {
  if (cache_ == nullptr || IsPending(id)) return std::nullopt;
  std::optional<lockstep::cache::Versioned<Product>> cached = cache_->PeekL1(id);
  if (!cached || !cached->found()) return std::nullopt;
  return std::move(*cached->value);
}

lockstep::Result<Product> ProductService::LoadFromDb(int64_t id, const lockstep::Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::PooledConnection conn, pool_.Acquire(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows, conn.Query(kSelectProduct, id, deadline));
  if (rows.empty()) return Status::NotFound("product ", id, " not found");
  return ProductFromRow(rows[0]);
}

lockstep::Result<Product> ProductService::LoadForCache(int64_t id, const lockstep::Deadline& deadline) {
  if (loader_reads_ == nullptr) return LoadFromDb(id, deadline);
  const RoutedRead read{loader_reads_, lockstep::routing::Consistency::MaxStaleness(loader_staleness_), nullptr};
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::routing::ReadTransaction tx, read.Begin(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows, tx.Query(kSelectProduct, id));
  if (rows.empty()) return Status::NotFound("product ", id, " not found");
  return ProductFromRow(rows[0]);
}

lockstep::Result<Product> ProductService::Update(int64_t id, std::optional<std::string> name,
                                                 std::optional<int64_t> price, const lockstep::Deadline& deadline) {
  if (!name && !price) return Status::InvalidArgument("give at least one of the fields 'name' and 'price'");
  if (name) LOCKSTEP_RETURN_IF_ERROR(ValidateText("name", *name, 1, kMaxProductNameChars));
  if (price && *price < 0) return Status::InvalidArgument("field 'price' must not be negative");
  Product product;
  int64_t pending_row = 0;
  lockstep::sql::RunOptions options;
  options.tx.isolation = lockstep::sql::IsolationLevel::kReadCommitted;
  LOCKSTEP_RETURN_IF_ERROR(lockstep::sql::RunInTransaction(
      pool_, options, deadline, [&](lockstep::sql::Transaction& tx) -> Status {
        // version bumps in the same statement that changes the values (cache versioning).
        LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::ExecResult r,
                                  tx.Execute("UPDATE products SET name = COALESCE(?, name), price = COALESCE(?, price), "
                                             "version = version + 1 WHERE id = ?",
                                             name, price, id));
        if (r.affected_rows == 0) return Status::NotFound("product ", id, " not found");
        LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows, tx.Query(kSelectProduct, id));
        if (rows.empty()) return Status::NotFound("product ", id, " not found");
        LOCKSTEP_ASSIGN_OR_RETURN(product, ProductFromRow(rows[0]));
        if (cache_ != nullptr) {
          // Durable record of the invalidation owed after COMMIT (replayed if Redis is down).
          LOCKSTEP_ASSIGN_OR_RETURN(
              lockstep::sql::ExecResult pr,
              tx.Execute("INSERT INTO pending_invalidations (product_id, version, created_at) "
                         "VALUES (?, ?, UTC_TIMESTAMP(6))",
                         id, product.version));
          pending_row = static_cast<int64_t>(pr.last_insert_id);
        }
        return AppendEvent(tx, "product.updated", "product:" + std::to_string(id), ProductEventData(product), false);
      }));
  if (cache_ != nullptr) InvalidateAfterCommit(id, product.version, pending_row);
  return product;
}

lockstep::Result<std::optional<StockMode>> ProductService::ModeOf(int64_t id, const lockstep::Deadline& deadline) {
  {
    lockstep::MutexLock lock(&mu_);
    if (auto it = modes_.find(id); it != modes_.end()) return std::optional<StockMode>(it->second);
  }
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::PooledConnection conn, pool_.Acquire(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows,
                            conn.Query("SELECT stock_mode FROM products WHERE id = ?", id, deadline));
  if (rows.empty()) return std::optional<StockMode>();
  LOCKSTEP_ASSIGN_OR_RETURN(std::string name, rows[0].GetString(0));
  const auto mode = ParseStockMode(name);
  if (!mode) return Status::Internal("product ", id, " has unknown stock_mode '", name, "'");
  lockstep::MutexLock lock(&mu_);
  modes_.emplace(id, *mode);
  return std::optional<StockMode>(*mode);
}

std::optional<StockMode> ProductService::CachedModeOf(int64_t id) {
  lockstep::MutexLock lock(&mu_);
  if (auto it = modes_.find(id); it != modes_.end()) return it->second;
  return std::nullopt;
}

void ProductService::InvalidateAfterCommit(int64_t id, int64_t version, int64_t pending_row) {
  // The row is committed: the caller gets its answer whatever happens here. Redis calls
  // go through the cache's breaker, so a dead Redis costs one fast failure. Not bounded by
  // the request's deadline (an expired one would count as a Redis failure): the cache caps
  // each Redis call at its redis_timeout.
  const Status s = cache_->Invalidate(id, version, lockstep::Deadline::Infinite());
  if (!s.ok()) {
    MarkPending(id);
    spdlog::warn("product {} invalidation not delivered ({}); replayed from pending_invalidations", id, s.ToString());
    return;
  }
  const lockstep::Deadline cleanup = lockstep::Deadline::After(std::chrono::seconds(1));
  auto conn = pool_.Acquire(cleanup);
  if (conn.ok()) {
    // Best effort: a row left behind is replayed once more, which is harmless.
    (void)conn->Execute("DELETE FROM pending_invalidations WHERE id = ?", pending_row, cleanup);
  }
}

lockstep::Status ProductService::InvalidateChanges(std::span<const std::pair<int64_t, int64_t>> changes,
                                                   const lockstep::Deadline& deadline) {
  if (cache_ == nullptr) return Status::Ok();
  return cache_->InvalidateMany(changes, deadline);
}

lockstep::Result<std::map<int64_t, Product>> ProductService::ReadCommitted(const std::vector<int64_t>& ids,
                                                                          const lockstep::Deadline& deadline) {
  std::map<int64_t, Product> out;
  if (ids.empty()) return out;
  std::vector<std::tuple<int64_t>> items;
  items.reserve(ids.size());
  for (int64_t id : ids) items.emplace_back(id);
  lockstep::sql::RunOptions options;
  options.tx.isolation = lockstep::sql::IsolationLevel::kReadCommitted;
  LOCKSTEP_RETURN_IF_ERROR(lockstep::sql::RunInTransaction(
      pool_, options, deadline, [&](lockstep::sql::Transaction& tx) -> Status {
        out.clear();
        return QueryMultiRow(tx, "SELECT id, name, price, stock, version, stock_mode FROM products WHERE id IN (", "?",
                             ")", items, [&](const lockstep::sql::Row& row) -> Status {
                               LOCKSTEP_ASSIGN_OR_RETURN(Product p, ProductFromRow(row));
                               out[p.id] = std::move(p);
                               return Status::Ok();
                             });
      }));
  return out;
}

lockstep::Result<int64_t> ProductService::InvalidateAll(const lockstep::Deadline& deadline) {
  if (cache_ == nullptr) return int64_t{0};
  // Keyset pages, one pooled connection per page (never held across the invalidations).
  constexpr int64_t kPage = 5'000;
  int64_t after = 0;
  int64_t invalidated = 0;
  while (true) {
    std::vector<int64_t> ids;
    {
      LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::PooledConnection conn, pool_.Acquire(deadline));
      LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows,
                                conn.Query("SELECT id FROM products WHERE id > ? ORDER BY id LIMIT ?", after, kPage,
                                           deadline));
      for (const lockstep::sql::Row& row : rows) {
        LOCKSTEP_ASSIGN_OR_RETURN(int64_t id, row.GetInt64(0));
        ids.push_back(id);
      }
    }
    std::vector<std::pair<int64_t, int64_t>> changes;
    changes.reserve(ids.size());
    for (int64_t id : ids) changes.emplace_back(id, lockstep::cache::kUnknownVersion);
    LOCKSTEP_RETURN_IF_ERROR(cache_->InvalidateMany(changes, deadline));
    invalidated += static_cast<int64_t>(ids.size());
    if (static_cast<int64_t>(ids.size()) < kPage) return invalidated;
    after = ids.back();
  }
}

bool ProductService::IsPending(int64_t id) const {
  lockstep::MutexLock lock(&bg_mu_);
  return pending_.count(id) != 0;
}

void ProductService::MarkPending(int64_t id) {
  lockstep::MutexLock lock(&bg_mu_);
  pending_[id] = lockstep::Clock::Real().Now();
  bg_cv_.SignalAll();
}

void ProductService::StockChanged(int64_t id) {
  if (cache_ == nullptr) return;
  lockstep::MutexLock lock(&bg_mu_);
  dirty_stock_.insert(id);
  bg_cv_.SignalAll();
}

void ProductService::BackgroundLoop() {
  const lockstep::Clock& clock = lockstep::Clock::Real();
  lockstep::Clock::time_point next_poll = clock.Now();
  lockstep::Clock::time_point next_flush = clock.Now();
  while (true) {
    bool poll = false;
    {
      lockstep::MutexLock lock(&bg_mu_);
      while (!stop_) {
        const lockstep::Clock::time_point now = clock.Now();
        if (now >= next_poll || (!dirty_stock_.empty() && now >= next_flush)) break;
        // Stock changes wait for the flush interval; everything else for the next poll.
        bg_cv_.WaitUntil(&bg_mu_, lockstep::Deadline::At(dirty_stock_.empty() ? next_poll
                                                                               : std::min(next_poll, next_flush)));
      }
      if (stop_) return;
      poll = clock.Now() >= next_poll;
    }
    FlushStockChanges();
    next_flush = clock.Now() + kStockFlushInterval;
    if (poll) {
      ReplayPending();
      next_poll = clock.Now() + kPendingPollInterval;
    }
  }
}

void ProductService::FlushStockChanges() {
  std::set<int64_t> ids;
  {
    lockstep::MutexLock lock(&bg_mu_);
    ids.swap(dirty_stock_);
  }
  for (int64_t id : ids) {
    // The order's transaction did not read the new version: kUnknownVersion refuses every
    // fill whose load started before this invalidation.
    const Status s = cache_->Invalidate(id, lockstep::cache::kUnknownVersion,
                                        lockstep::Deadline::After(std::chrono::seconds(1)));
    if (s.ok()) continue;
    MarkPending(id);
    auto conn = pool_.Acquire(lockstep::Deadline::After(std::chrono::seconds(1)));
    if (!conn.ok() || !conn->Execute("INSERT INTO pending_invalidations (product_id, version, created_at) "
                                     "VALUES (?, -1, UTC_TIMESTAMP(6))",
                                     id, lockstep::Deadline::After(std::chrono::seconds(1)))
                           .ok()) {
      lockstep::MutexLock lock(&bg_mu_);
      dirty_stock_.insert(id);  // Retried on the next round.
    }
  }
}

void ProductService::ReplayPending() {
  const lockstep::Clock::time_point poll_start = lockstep::Clock::Real().Now();
  const lockstep::Deadline deadline = lockstep::Deadline::After(std::chrono::seconds(2));
  auto conn = pool_.Acquire(deadline);
  if (!conn.ok()) return;
  auto rows = conn->Query("SELECT id, product_id, version FROM pending_invalidations ORDER BY id LIMIT 1000", deadline);
  if (!rows.ok()) return;
  std::map<int64_t, bool> still_pending;  // product id -> some row of it is undelivered.
  uint64_t replayed = 0;
  for (const auto& row : *rows) {
    const auto row_id = row.GetInt64(0);
    const auto product_id = row.GetInt64(1);
    const auto version = row.GetInt64(2);
    if (!row_id.ok() || !product_id.ok() || !version.ok()) continue;
    const Status s = cache_->Invalidate(*product_id, *version < 0 ? lockstep::cache::kUnknownVersion : *version,
                                        lockstep::Deadline::After(std::chrono::seconds(1)));
    if (s.ok() && conn->Execute("DELETE FROM pending_invalidations WHERE id = ?", *row_id, deadline).ok()) {
      ++replayed;
      still_pending.emplace(*product_id, false);
    } else {
      still_pending[*product_id] = true;
    }
  }
  lockstep::MutexLock lock(&bg_mu_);
  pending_replayed_ += replayed;
  std::map<int64_t, lockstep::Clock::time_point> next;
  for (const auto& [id, pending] : still_pending) {
    if (pending) next[id] = poll_start;
  }
  // Added by this instance after the poll's SELECT may have run: keep them.
  for (const auto& [id, added] : pending_) {
    if (added > poll_start) next[id] = added;
  }
  pending_.swap(next);
}

void ProductService::CollectMetrics(std::vector<prometheus::MetricFamily>& out) const {
  if (cache_ == nullptr) return;
  size_t pending = 0;
  uint64_t replayed = 0;
  {
    lockstep::MutexLock lock(&bg_mu_);
    pending = pending_.size();
    replayed = pending_replayed_;
  }
  out.push_back(lockstep::prometheus::GaugeFamily(
      "shopd_cache_pending_invalidations", "Products with an undelivered invalidation (known here).",
      static_cast<double>(pending)));
  out.push_back(lockstep::prometheus::CounterFamily("shopd_cache_pending_replayed_total",
                                                    "Pending invalidations replayed and delivered.",
                                                    static_cast<double>(replayed)));
}

}  // namespace shopd::domain
