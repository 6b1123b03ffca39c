#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"

namespace lockstep::sql {
class Pool;
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

// Products (API.md /v1/products), straight from MariaDB (the consistent cache comes with
// its own issue). Thread-safe.
class ProductService {
 public:
  explicit ProductService(lockstep::sql::Pool& pool) : pool_(pool) {}

  // Decides whether stock_mode "reserved" may be used (Redis durability). Without a gate
  // "reserved" is refused. REQUIRES: called before the service is shared between threads.
  void SetReservedGate(std::function<lockstep::Status(const lockstep::Deadline&)> gate) { reserved_gate_ = std::move(gate); }

  // Creates a product with version 1. kInvalidArgument: name outside 1..128 UTF-8
  // characters, negative price or stock, unknown stock_mode, or "reserved" while the
  // reserved gate (SetReservedGate) refuses it (its message says why). Default mode: batched.
  lockstep::Result<Product> Create(const std::string& name, int64_t price, int64_t stock,
                                   std::optional<std::string> stock_mode, const lockstep::Deadline& deadline);
  // kNotFound for an unknown id.
  lockstep::Result<Product> Get(int64_t id, const lockstep::Deadline& deadline);
  // Changes name and/or price and bumps version in the same UPDATE; returns the new row.
  // kInvalidArgument if neither is given or one is invalid; kNotFound for an unknown id.
  lockstep::Result<Product> Update(int64_t id, std::optional<std::string> name, std::optional<int64_t> price,
                                   const lockstep::Deadline& deadline);
  // The stock mode of `id` (immutable once created, so cached in-process); nullopt if the
  // product does not exist (not cached).
  lockstep::Result<std::optional<StockMode>> ModeOf(int64_t id, const lockstep::Deadline& deadline)
      LOCKSTEP_EXCLUDES(mu_);

 private:
  lockstep::sql::Pool& pool_;
  std::function<lockstep::Status(const lockstep::Deadline&)> reserved_gate_;
  lockstep::Mutex mu_;
  std::map<int64_t, StockMode> modes_ LOCKSTEP_GUARDED_BY(mu_);
};

}  // namespace shopd::domain
