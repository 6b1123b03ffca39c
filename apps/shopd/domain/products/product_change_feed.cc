#include "domain/products/product_change_feed.h"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <map>
#include <thread>

#include <spdlog/spdlog.h>

#include "domain/products/products.h"
#include "lockstep/cache/versioned.h"
#include "lockstep/cdc/stream_entry.h"
#include "lockstep/prometheus/snapshots.h"

namespace shopd::domain {
namespace {

using lockstep::Status;

// Each invalidation is bounded by the cache's own Redis timeout; a full flush by this.
constexpr std::chrono::seconds kFlushBudget{60};
// Longest a change is waited for to become visible (see AwaitVisible).
constexpr std::chrono::milliseconds kVisibilityBudget{1'000};
// An invalidation later than this after its entry was appended is logged and counted.
constexpr int64_t kSlowInvalidationMs = 100;

std::vector<std::string> Flatten(const lockstep::redis::StreamFields& fields) {
  std::vector<std::string> out;
  out.reserve(fields.size() * 2);
  for (const auto& [k, v] : fields) {
    out.push_back(k);
    out.push_back(v);
  }
  return out;
}

std::string_view TypeOf(const lockstep::redis::StreamFields& fields) {
  for (const auto& [k, v] : fields) {
    if (k == "type") return v;
  }
  return {};
}

// An integer column value (signed or unsigned), or nullopt.
std::optional<int64_t> IntOf(const lockstep::cdc::Value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->kind == lockstep::cdc::ValueKind::kInt) return v->i;
  if (v->kind == lockstep::cdc::ValueKind::kUint && v->u <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v->u);
  }
  return std::nullopt;
}

const lockstep::cdc::Value* Find(const std::vector<std::pair<std::string, lockstep::cdc::Value>>& image,
                                 std::string_view column) {
  for (const auto& [name, value] : image) {
    if (name == column) return &value;
  }
  return nullptr;
}

}  // namespace

ProductChangeFeed::ProductChangeFeed(ProductService& products, ProductChangeFeedOptions options)
    : products_(products), options_(std::move(options)) {}

ProductChangeFeed::~ProductChangeFeed() {
  if (consumer_ != nullptr) consumer_->Stop();
}

lockstep::Result<std::unique_ptr<ProductChangeFeed>> ProductChangeFeed::Start(lockstep::redis::Client& client,
                                                                              ProductService& products,
                                                                              ProductChangeFeedOptions options) {
  std::unique_ptr<ProductChangeFeed> feed(new ProductChangeFeed(products, options));
  ProductChangeFeed* raw = feed.get();
  lockstep::redis::StreamConsumerOptions co;
  co.stream = options.stream;
  co.group = options.group;
  co.consumer = options.consumer;
  co.group_start_id = "0";
  co.batch_size = 500;
  co.block = std::chrono::milliseconds(200);
  co.claim_idle = options.claim_idle;
  co.claim_interval = std::max(std::chrono::milliseconds(100), options.claim_idle / 2);
  // Trimmed below what every consumer group of the stream still needs (another group, e.g.
  // an outbox relay, keeps its unread entries).
  co.trim_interval = std::chrono::milliseconds(1'000);
  co.retry_backoff = {.initial = std::chrono::milliseconds(20), .max = std::chrono::seconds(1)};
  co.on_error = options.on_error;
  LOCKSTEP_ASSIGN_OR_RETURN(
      feed->consumer_,
      lockstep::redis::StreamConsumer::Start(
          client, co,
          [raw](std::vector<lockstep::redis::StreamEntry>& entries, std::vector<lockstep::Status>& per_entry) {
            return raw->Handle(entries, per_entry);
          }));
  return feed;
}

Status ProductChangeFeed::Handle(std::vector<lockstep::redis::StreamEntry>& entries, std::vector<Status>& per_entry) {
  std::vector<Change> changes;
  size_t unsettled = 0;  // Entries [unsettled, i) have their changes in `changes`.
  // Entries [from, size) fail with `s` (the first of them with `first`): they stay pending
  // and are retried in order.
  auto fail_from = [&](size_t from, const Status& first) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    for (size_t j = from; j < entries.size(); ++j) {
      per_entry[j] = j == from ? first : Status::Unavailable("earlier entry failed");
    }
  };
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string_view type = TypeOf(entries[i].fields);
    if (type == "row" || type == "rows") {
      if (Status s = Collect(entries[i], changes); !s.ok()) {
        if (Status settled = Settle(changes); !settled.ok()) {
          fail_from(unsettled, settled);
          return Status::Ok();
        }
        fail_from(i, s);
        return Status::Ok();
      }
      continue;
    }
    if (type == "gap" || type == "ddl") {
      if (Status s = Settle(changes); !s.ok()) {
        fail_from(unsettled, s);
        return Status::Ok();
      }
      changes.clear();
      unsettled = i;
      if (Status s = Flush(entries[i]); !s.ok()) {
        fail_from(i, s);
        return Status::Ok();
      }
      unsettled = i + 1;
      continue;
    }
    ignored_.fetch_add(1, std::memory_order_relaxed);
  }
  if (Status s = Settle(changes); !s.ok()) fail_from(unsettled, s);
  return Status::Ok();
}

namespace {

// The product columns the cache holds, compared between a row image and a Product.
bool SameValue(const lockstep::cdc::Value* a, const lockstep::cdc::Value* b) {
  if (a == nullptr || b == nullptr) return a == b;
  return *a == *b;
}

bool SameCachedColumns(const std::vector<std::pair<std::string, lockstep::cdc::Value>>& before,
                       const std::vector<std::pair<std::string, lockstep::cdc::Value>>& after) {
  for (const char* column : {"name", "price", "stock", "version", "stock_mode"}) {
    if (!SameValue(Find(before, column), Find(after, column))) return false;
  }
  return true;
}

// Whether `p` (read from MariaDB) still shows the row image `image` on the cached columns.
// A column the image lacks or cannot be compared counts as matching.
bool MatchesImage(const Product& p, const std::vector<std::pair<std::string, lockstep::cdc::Value>>& image) {
  auto int_is = [&](const char* column, int64_t v) {
    const std::optional<int64_t> x = IntOf(Find(image, column));
    return !x || *x == v;
  };
  auto text_is = [&](const char* column, std::string_view v) {
    const lockstep::cdc::Value* x = Find(image, column);
    return x == nullptr || x->kind != lockstep::cdc::ValueKind::kString || x->text == v;
  };
  return int_is("price", p.price) && int_is("stock", p.stock) && int_is("version", p.version) &&
         text_is("name", p.name) && text_is("stock_mode", StockModeName(p.stock_mode));
}

// Milliseconds from the entry's append (its id's time part: Redis's clock) to now (ours);
// meaningful when both clocks agree (one host, or NTP), clamped at 0.
int64_t AgeMs(std::string_view entry_id) {
  int64_t appended_ms = 0;
  const size_t dash = entry_id.find('-');
  const auto [ptr, ec] = std::from_chars(entry_id.data(), entry_id.data() + std::min(dash, entry_id.size()), appended_ms);
  if (ec != std::errc()) return 0;
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return std::max<int64_t>(0, now_ms - appended_ms);
}

}  // namespace

Status ProductChangeFeed::Collect(const lockstep::redis::StreamEntry& entry, std::vector<Change>& changes) {
  LOCKSTEP_ASSIGN_OR_RETURN(std::vector<lockstep::cdc::StreamRow> rows,
                            lockstep::cdc::DecodeRowEntries(Flatten(entry.fields)));
  for (lockstep::cdc::StreamRow& row : rows) {
    if (row.database != options_.database || row.table != "products") {
      ignored_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    const std::optional<int64_t> id = IntOf(row.Get("id"));
    if (!id) return Status::InvalidArgument("cdc entry ", entry.id, ": products row without an integer id");
    int64_t version = lockstep::cache::kUnknownVersion;
    if (row.op != lockstep::cdc::RowOp::kDelete) {
      const std::optional<int64_t> after = IntOf(Find(row.after, "version"));
      const std::optional<int64_t> before = IntOf(Find(row.before, "version"));
      // The row's version is a valid fill guard only when this change bumped it; a change
      // that kept it (a DBA's UPDATE) must refuse fills of the same version.
      if (after && *after > 0 && *after <= lockstep::cache::kMaxVersion &&
          (row.op == lockstep::cdc::RowOp::kInsert || (before && *before < *after))) {
        version = *after;
      }
    }
    if (row.op == lockstep::cdc::RowOp::kUpdate && SameCachedColumns(row.before, row.after)) {
      ignored_.fetch_add(1, std::memory_order_relaxed);  // Nothing the cache holds changed.
      continue;
    }
    changes.push_back(Change{*id, version, std::move(row), entry.id});
  }
  return Status::Ok();
}

Status ProductChangeFeed::Settle(const std::vector<Change>& changes) {
  if (changes.empty()) return Status::Ok();
  LOCKSTEP_RETURN_IF_ERROR(AwaitVisible(changes));
  std::vector<std::pair<int64_t, int64_t>> invalidations;
  invalidations.reserve(changes.size());
  for (const Change& c : changes) invalidations.emplace_back(c.id, c.version);
  LOCKSTEP_RETURN_IF_ERROR(products_.InvalidateChanges(invalidations, lockstep::Deadline::Infinite()));
  invalidated_.fetch_add(changes.size(), std::memory_order_relaxed);
  const int64_t age = AgeMs(changes.front().entry_id);  // The oldest of the batch.
  if (age > kSlowInvalidationMs) {
    slow_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("cdc: {} product change(s) invalidated, the oldest {} ms after it entered the stream (entry {})",
                 changes.size(), age, changes.front().entry_id);
  }
  return Status::Ok();
}

Status ProductChangeFeed::Flush(const lockstep::redis::StreamEntry& entry) {
  const std::string_view type = TypeOf(entry.fields);
  std::string what;
  if (type == "gap") {
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::cdc::StreamGap gap, lockstep::cdc::DecodeGapEntry(Flatten(entry.fields)));
    what = "gap from " + gap.from.ToString() + " to " + gap.to.ToString() + " (" + gap.reason + ")";
  } else {
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::cdc::StreamDdl ddl, lockstep::cdc::DecodeDdlEntry(Flatten(entry.fields)));
    if (ddl.database != options_.database && ddl.statement.find(options_.database) == std::string::npos) {
      ignored_.fetch_add(1, std::memory_order_relaxed);
      return Status::Ok();
    }
    what = "DDL '" + ddl.statement.substr(0, 200) + "'";
  }
  LOCKSTEP_ASSIGN_OR_RETURN(int64_t n, products_.InvalidateAll(lockstep::Deadline::After(kFlushBudget)));
  (type == "gap" ? flushes_gap_ : flushes_ddl_).fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("cdc: {} -> invalidated all {} products", what, n);
  return Status::Ok();
}

// MariaDB writes a transaction to the binlog (and the dump thread may send it) BEFORE the
// storage engine's commit makes it visible to other sessions. An invalidation made in that
// window is too early: a load that starts after its tombstone can still read the old row and
// fill it (measured: ~1 in 2,000 direct UPDATEs stayed stale until the product's next change).
// So every change must be visible before the tombstones are written: its row read back no
// longer equals the before-image (update, delete) or exists (insert). For a product changed
// several times in the batch only its last change is checked (commits become visible in
// binlog order, so the earlier ones are visible once it is); all the batch's products are
// read with one IN query per attempt. A row that changed again meanwhile (it equals the
// before-image again: A -> B -> A) is waited for only up to kVisibilityBudget; its later
// change has an entry of its own.
Status ProductChangeFeed::AwaitVisible(const std::vector<Change>& changes) {
  std::map<int64_t, const Change*> last;  // Per product, its last change in the batch.
  for (const Change& c : changes) last[c.id] = &c;
  const lockstep::Deadline budget = lockstep::Deadline::After(kVisibilityBudget);
  bool waited = false;
  while (true) {
    std::vector<int64_t> ids;
    ids.reserve(last.size());
    for (const auto& [id, change] : last) ids.push_back(id);
    using Rows = std::map<int64_t, Product>;
    LOCKSTEP_ASSIGN_OR_RETURN(Rows now, products_.ReadCommitted(ids, lockstep::Deadline::After(kFlushBudget)));
    for (auto it = last.begin(); it != last.end();) {
      const lockstep::cdc::StreamRow& row = it->second->row;
      const auto found = now.find(it->first);
      const bool exists = found != now.end();
      const bool visible = row.op == lockstep::cdc::RowOp::kInsert ? exists
                                                                    : !exists || !MatchesImage(found->second, row.before);
      it = visible ? last.erase(it) : std::next(it);
    }
    if (last.empty()) {
      if (waited) waited_.fetch_add(1, std::memory_order_relaxed);
      return Status::Ok();
    }
    if (budget.expired()) {
      visibility_timeouts_.fetch_add(last.size(), std::memory_order_relaxed);
      return Status::Ok();
    }
    waited = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // The engine commit follows the binlog write.
  }
}

void ProductChangeFeed::CollectMetrics(std::vector<prometheus::MetricFamily>& out) const {
  out.push_back(lockstep::prometheus::CounterFamily(
      "shopd_cdc_product_invalidations_total", "Product rows invalidated from the CDC stream.",
      static_cast<double>(invalidated_.load(std::memory_order_relaxed))));
  out.push_back(lockstep::prometheus::CounterFamily(
      "shopd_cdc_entries_ignored_total", "CDC stream entries that concern no product.",
      static_cast<double>(ignored_.load(std::memory_order_relaxed))));
  out.push_back(lockstep::prometheus::CounterFamily(
      "shopd_cdc_gap_flushes_total", "Every product invalidated because the CDC stream recorded a gap.",
      static_cast<double>(flushes_gap_.load(std::memory_order_relaxed))));
  out.push_back(lockstep::prometheus::CounterFamily(
      "shopd_cdc_ddl_flushes_total", "Every product invalidated because of DDL in the shop database.",
      static_cast<double>(flushes_ddl_.load(std::memory_order_relaxed))));
  out.push_back(lockstep::prometheus::CounterFamily(
      "shopd_cdc_slow_invalidations_total",
      "Batches of product invalidations done more than 100 ms after their oldest change entered the stream (Redis's clock vs ours).",
      static_cast<double>(slow_.load(std::memory_order_relaxed))));
  out.push_back(lockstep::prometheus::CounterFamily(
      "shopd_cdc_visibility_waits_total",
      "Batches of changes that reached the stream before their commit was visible in MariaDB (invalidated once it was).",
      static_cast<double>(waited_.load(std::memory_order_relaxed))));
  out.push_back(lockstep::prometheus::CounterFamily(
      "shopd_cdc_visibility_timeouts_total",
      "Changes whose visibility could not be confirmed within 1 s (the row changed again); invalidated anyway.",
      static_cast<double>(visibility_timeouts_.load(std::memory_order_relaxed))));
  out.push_back(lockstep::prometheus::CounterFamily(
      "shopd_cdc_failures_total", "CDC stream entries whose handling failed (left pending, retried).",
      static_cast<double>(failures_.load(std::memory_order_relaxed))));
}

}  // namespace shopd::domain
