#include "domain/schema.h"

#include <set>
#include <string_view>
#include <vector>

#include "lockstep/base/result.h"
#include "lockstep/sql/pool.h"

namespace shopd::domain {
namespace {

using lockstep::Status;

struct Migration {
  int version;
  std::string_view name;
  std::vector<std::string_view> statements;
};

// Append only: a released migration never changes. request_id columns are VARBINARY so
// they compare byte-exactly (a _bin VARCHAR collation would ignore trailing spaces).
const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> migrations = {
      {1, "accounts, transfers, request records",
       {
           R"sql(CREATE TABLE IF NOT EXISTS accounts (
                   id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                   owner VARCHAR(64) NOT NULL,
                   balance BIGINT NOT NULL,
                   version BIGINT NOT NULL,
                   CONSTRAINT accounts_balance_non_negative CHECK (balance >= 0)
                 ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci)sql",
           R"sql(CREATE TABLE IF NOT EXISTS transfers (
                   id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                   request_id VARBINARY(64) NOT NULL,
                   from_id BIGINT NOT NULL,
                   to_id BIGINT NOT NULL,
                   amount BIGINT NOT NULL,
                   created_at DATETIME(6) NOT NULL,
                   UNIQUE KEY transfers_request_id (request_id)
                 ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql",
           // One record per (scope, request_id) with its outcome (200, 404, 409), for
           // idempotent replay (API.md). The digest is the canonical form of the validated
           // request, compared exactly.
           R"sql(CREATE TABLE IF NOT EXISTS request_records (
                   scope VARCHAR(16) CHARACTER SET ascii NOT NULL,
                   request_id VARBINARY(64) NOT NULL,
                   request_digest VARBINARY(512) NOT NULL,
                   http_status SMALLINT NOT NULL,
                   response MEDIUMTEXT NOT NULL,
                   created_at DATETIME(6) NOT NULL,
                   PRIMARY KEY (scope, request_id),
                   KEY request_records_created_at (created_at)
                 ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql",
       }},
      // Products and orders (API.md). Order ids come from ONE sequence shared by every
      // stock mode; each NEXTVAL hands a process a block of kOrderIdBlock ids (orders.cc),
      // so its INCREMENT must stay equal to kOrderIdBlock.
      {2, "products, orders, order id sequence",
       {
           R"sql(CREATE TABLE IF NOT EXISTS products (
                   id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                   name VARCHAR(128) NOT NULL,
                   price BIGINT NOT NULL,
                   stock BIGINT NOT NULL,
                   version BIGINT NOT NULL,
                   stock_mode VARCHAR(16) CHARACTER SET ascii NOT NULL,
                   CONSTRAINT products_stock_non_negative CHECK (stock >= 0)
                 ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci)sql",
           R"sql(CREATE TABLE IF NOT EXISTS orders (
                   id BIGINT NOT NULL PRIMARY KEY,
                   request_id VARBINARY(64) NOT NULL,
                   user_id BIGINT NOT NULL,
                   product_id BIGINT NOT NULL,
                   quantity INT NOT NULL,
                   status VARCHAR(16) CHARACTER SET ascii NOT NULL,
                   created_at DATETIME(6) NOT NULL,
                   UNIQUE KEY orders_request_id (request_id),
                   KEY orders_product_id (product_id)
                 ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql",
           R"sql(CREATE SEQUENCE IF NOT EXISTS order_ids START WITH 1 INCREMENT BY 100 ENGINE=InnoDB)sql",
       }},
      // Settings that belong to one database. `reserved_keyspace` is a random token created
      // once per database (migrations run under the schema lock); the `reserved` mode's Redis
      // keys include it, so a dropped and recreated database (same name, same product ids)
      // never meets the Redis state of its predecessor.
      {3, "shopd_meta with the reserved-mode Redis keyspace token",
       {
           R"sql(CREATE TABLE IF NOT EXISTS shopd_meta (
                   name VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
                   value VARCHAR(255) NOT NULL
                 ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql",
           R"sql(INSERT IGNORE INTO shopd_meta (name, value)
                 VALUES ('reserved_keyspace', LEFT(MD5(CONCAT(UUID(), RAND(), NOW(6))), 16)))sql",
       }},
  };
  return migrations;
}

// Holds GET_LOCK on one connection; releases it when destroyed (RAII).
class SchemaLock {
 public:
  static lockstep::Result<SchemaLock> Acquire(lockstep::sql::Pool& pool, const lockstep::Deadline& deadline) {
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::PooledConnection conn, pool.Acquire(deadline));
    const auto wait_seconds = std::max<int64_t>(1, lockstep::RemainingMillis(deadline).count() / 1000);
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows,
                              conn.Query("SELECT GET_LOCK('shopd.schema', ?)", wait_seconds, deadline));
    if (rows.empty() || !rows[0].GetInt64(0).ok() || *rows[0].GetInt64(0) != 1) {
      return Status::DeadlineExceeded("another shopd instance holds the schema lock 'shopd.schema'");
    }
    return SchemaLock(std::move(conn));
  }
  SchemaLock(SchemaLock&&) = default;
  ~SchemaLock() {
    if (conn_.valid()) {
      auto released = conn_.Query("SELECT RELEASE_LOCK('shopd.schema')",
                                  lockstep::Deadline::After(std::chrono::seconds(5)));
      // A connection whose release failed must not go back with the lock held.
      if (!released.ok()) conn_.Discard();
    }
  }
  lockstep::sql::PooledConnection& conn() { return conn_; }

 private:
  explicit SchemaLock(lockstep::sql::PooledConnection conn) : conn_(std::move(conn)) {}
  lockstep::sql::PooledConnection conn_;
};

}  // namespace

int LatestSchemaVersion() { return Migrations().back().version; }

Status MigrateSchema(lockstep::sql::Pool& pool, const lockstep::Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(SchemaLock lock, SchemaLock::Acquire(pool, deadline));
  auto& conn = lock.conn();
  LOCKSTEP_RETURN_IF_ERROR(conn.Execute(R"sql(CREATE TABLE IF NOT EXISTS schema_migrations (
                                              version INT NOT NULL PRIMARY KEY,
                                              name VARCHAR(128) NOT NULL,
                                              applied_at DATETIME(6) NOT NULL
                                            ) ENGINE=InnoDB)sql",
                                        deadline)
                             .status());
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows applied_rows,
                            conn.Query("SELECT version FROM schema_migrations", deadline));
  std::set<int64_t> applied;
  for (const auto& row : applied_rows) {
    LOCKSTEP_ASSIGN_OR_RETURN(int64_t v, row.GetInt64(0));
    applied.insert(v);
  }
  if (!applied.empty() && *applied.rbegin() > LatestSchemaVersion()) {
    return Status::FailedPrecondition("database schema version ", *applied.rbegin(),
                                      " is newer than this shopd binary knows (", LatestSchemaVersion(), ")");
  }
  for (const Migration& m : Migrations()) {
    if (applied.count(m.version) != 0) continue;
    // DDL commits implicitly; every statement is idempotent (IF NOT EXISTS), so a crash
    // between two statements is repaired by the next start.
    for (std::string_view sql : m.statements) {
      LOCKSTEP_RETURN_IF_ERROR(
          conn.Execute(sql, deadline).status().Annotate("schema migration " + std::to_string(m.version)));
    }
    LOCKSTEP_RETURN_IF_ERROR(conn.Execute("INSERT INTO schema_migrations (version, name, applied_at) "
                                          "VALUES (?, ?, UTC_TIMESTAMP(6))",
                                          m.version, m.name, deadline)
                                 .status());
  }
  return Status::Ok();
}

}  // namespace shopd::domain
