#include "domain/products.h"

#include "domain/validation.h"
#include "lockstep/sql/pool.h"
#include "lockstep/sql/run_in_transaction.h"

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
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::PooledConnection conn, pool_.Acquire(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(
      lockstep::sql::ExecResult r,
      conn.Execute("INSERT INTO products (name, price, stock, version, stock_mode) VALUES (?, ?, ?, 1, ?)", name, price,
                   stock, StockModeName(mode), deadline));
  Product p{static_cast<int64_t>(r.last_insert_id), name, price, stock, 1, mode};
  {
    lockstep::MutexLock lock(&mu_);
    modes_.emplace(p.id, mode);
  }
  return p;
}

lockstep::Result<Product> ProductService::Get(int64_t id, const lockstep::Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::PooledConnection conn, pool_.Acquire(deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows, conn.Query(kSelectProduct, id, deadline));
  if (rows.empty()) return Status::NotFound("product ", id, " not found");
  return ProductFromRow(rows[0]);
}

lockstep::Result<Product> ProductService::Update(int64_t id, std::optional<std::string> name,
                                                 std::optional<int64_t> price, const lockstep::Deadline& deadline) {
  if (!name && !price) return Status::InvalidArgument("give at least one of the fields 'name' and 'price'");
  if (name) LOCKSTEP_RETURN_IF_ERROR(ValidateText("name", *name, 1, kMaxProductNameChars));
  if (price && *price < 0) return Status::InvalidArgument("field 'price' must not be negative");
  Product product;
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
        return Status::Ok();
      }));
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

}  // namespace shopd::domain
