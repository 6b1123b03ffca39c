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
      // The happy path of a transfer in one round trip (transfers.cc): lock both rows in
      // ascending id order, check, and if the transfer applies write its request record,
      // move the money and insert the transfer row. Returns one row (applied, from_balance,
      // to_balance): applied = 1 with the new balances, or 0 with the balances as locked
      // (NULL for a missing account) and nothing written — the caller records that outcome.
      // The transaction stays open for the caller's COMMIT. The 200 body is assembled from
      // the caller's pieces around the new balances so the recorded body is byte-equal to
      // the reply. A new behaviour gets a new name (_v2), never a changed body.
      {3, "transfer procedure",
       {
           R"sql(CREATE PROCEDURE IF NOT EXISTS shopd_transfer_v1(
                   IN p_request_id VARBINARY(64), IN p_digest VARBINARY(512),
                   IN p_from BIGINT, IN p_to BIGINT, IN p_amount BIGINT,
                   IN p_body_head VARCHAR(256), IN p_body_mid VARCHAR(512), IN p_body_tail VARCHAR(256))
                 MODIFIES SQL DATA
                 BEGIN
                   DECLARE v_low_id BIGINT DEFAULT LEAST(p_from, p_to);
                   DECLARE v_high_id BIGINT DEFAULT GREATEST(p_from, p_to);
                   DECLARE v_low BIGINT DEFAULT NULL;
                   DECLARE v_high BIGINT DEFAULT NULL;
                   DECLARE v_from BIGINT DEFAULT NULL;
                   DECLARE v_to BIGINT DEFAULT NULL;
                   DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;
                   SELECT balance INTO v_low FROM accounts WHERE id = v_low_id FOR UPDATE;
                   SELECT balance INTO v_high FROM accounts WHERE id = v_high_id FOR UPDATE;
                   SET v_from = IF(p_from = v_low_id, v_low, v_high);
                   SET v_to = IF(p_to = v_low_id, v_low, v_high);
                   IF v_from IS NULL OR v_to IS NULL OR v_from < p_amount
                      OR v_to > 9223372036854775807 - p_amount THEN
                     SELECT 0 AS applied, v_from AS from_balance, v_to AS to_balance;
                   ELSE
                     INSERT INTO request_records (scope, request_id, request_digest, http_status, response, created_at)
                       VALUES ('transfer', p_request_id, p_digest, 200,
                               CONCAT(p_body_head, v_from - p_amount, p_body_mid, v_to + p_amount, p_body_tail),
                               UTC_TIMESTAMP(6));
                     UPDATE accounts SET balance = balance + IF(id = p_from, -p_amount, p_amount), version = version + 1
                       WHERE id IN (p_from, p_to);
                     INSERT INTO transfers (request_id, from_id, to_id, amount, created_at)
                       VALUES (p_request_id, p_from, p_to, p_amount, UTC_TIMESTAMP(6));
                     SELECT 1 AS applied, v_from - p_amount AS from_balance, v_to + p_amount AS to_balance;
                   END IF;
                 END)sql",
       }},
      // Cache invalidations owed after a COMMIT: written in the writer's transaction,
      // deleted once delivered to Redis, replayed by every instance until then (products.h).
      // version -1 = unknown (stock changed by orders).
      {4, "pending cache invalidations",
       {
           R"sql(CREATE TABLE IF NOT EXISTS pending_invalidations (
                   id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                   product_id BIGINT NOT NULL,
                   version BIGINT NOT NULL,
                   created_at DATETIME(6) NOT NULL,
                   KEY pending_invalidations_product (product_id)
                 ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql",
       }},
      // Settings that belong to one database. `reserved_keyspace` is a random token created
      // once per database (migrations run under the schema lock); the `reserved` mode's Redis
      // keys include it, so a dropped and recreated database (same name, same product ids)
      // never meets the Redis state of its predecessor.
      {5, "shopd_meta with the reserved-mode Redis keyspace token",
       {
           R"sql(CREATE TABLE IF NOT EXISTS shopd_meta (
                   name VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
                   value VARCHAR(255) NOT NULL
                 ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql",
           R"sql(INSERT IGNORE INTO shopd_meta (name, value)
                 VALUES ('reserved_keyspace', LEFT(MD5(CONCAT(UUID(), RAND(), NOW(6))), 16)))sql",
       }},
      // A whole transfer in ONE round trip (transfers.cc): the procedure runs its own
      // transaction (READ COMMITTED): locks both rows in ascending id order, decides,
      // records the outcome in request_records (200, or the 404/409 body the caller passed
      // for that case), moves the money and inserts the transfer row for a 200, and
      // COMMITs. Returns one row (http_status, from_balance, to_balance): the new balances
      // for a 200, the balances as locked otherwise (NULL for a missing account). Any error
      // (duplicate request_id 1062, deadlock 1213, lock wait timeout 1205) rolls the
      // transaction back and is raised to the caller, who reruns or replays. Nothing stays
      // open on the connection either way.
      {6, "transfer procedure with its own transaction",
       {
           R"sql(CREATE PROCEDURE IF NOT EXISTS shopd_transfer_v2(
                   IN p_request_id VARBINARY(64), IN p_digest VARBINARY(512),
                   IN p_from BIGINT, IN p_to BIGINT, IN p_amount BIGINT,
                   IN p_body_head VARCHAR(256), IN p_body_mid VARCHAR(512), IN p_body_tail VARCHAR(256),
                   IN p_from_unknown VARCHAR(1024), IN p_to_unknown VARCHAR(1024),
                   IN p_insufficient VARCHAR(1024), IN p_overflow VARCHAR(1024))
                 MODIFIES SQL DATA
                 BEGIN
                   DECLARE v_low_id BIGINT DEFAULT LEAST(p_from, p_to);
                   DECLARE v_high_id BIGINT DEFAULT GREATEST(p_from, p_to);
                   DECLARE v_low BIGINT DEFAULT NULL;
                   DECLARE v_high BIGINT DEFAULT NULL;
                   DECLARE v_from BIGINT DEFAULT NULL;
                   DECLARE v_to BIGINT DEFAULT NULL;
                   DECLARE v_status INT DEFAULT 200;
                   DECLARE v_body VARCHAR(2048) DEFAULT NULL;
                   DECLARE EXIT HANDLER FOR SQLEXCEPTION
                   BEGIN
                     ROLLBACK;
                     RESIGNAL;
                   END;
                   DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;
                   SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
                   START TRANSACTION;
                   SELECT balance INTO v_low FROM accounts WHERE id = v_low_id FOR UPDATE;
                   SELECT balance INTO v_high FROM accounts WHERE id = v_high_id FOR UPDATE;
                   SET v_from = IF(p_from = v_low_id, v_low, v_high);
                   SET v_to = IF(p_to = v_low_id, v_low, v_high);
                   IF v_from IS NULL THEN
                     SET v_status = 404, v_body = p_from_unknown;
                   ELSEIF v_to IS NULL THEN
                     SET v_status = 404, v_body = p_to_unknown;
                   ELSEIF v_from < p_amount THEN
                     SET v_status = 409, v_body = p_insufficient;
                   ELSEIF v_to > 9223372036854775807 - p_amount THEN
                     SET v_status = 409, v_body = p_overflow;
                   ELSE
                     SET v_body = CONCAT(p_body_head, v_from - p_amount, p_body_mid, v_to + p_amount, p_body_tail);
                   END IF;
                   INSERT INTO request_records (scope, request_id, request_digest, http_status, response, created_at)
                     VALUES ('transfer', p_request_id, p_digest, v_status, v_body, UTC_TIMESTAMP(6));
                   IF v_status = 200 THEN
                     UPDATE accounts SET balance = balance + IF(id = p_from, -p_amount, p_amount), version = version + 1
                       WHERE id IN (p_from, p_to);
                     INSERT INTO transfers (request_id, from_id, to_id, amount, created_at)
                       VALUES (p_request_id, p_from, p_to, p_amount, UTC_TIMESTAMP(6));
                     SET v_from = v_from - p_amount, v_to = v_to + p_amount;
                   END IF;
                   COMMIT;
                   SELECT v_status AS http_status, v_from AS from_balance, v_to AS to_balance;
                 END)sql",
       }},
      // GET /v1/accounts/{id}/transfers: newest first per side of a transfer.
      {7, "transfer indexes by account",
       {
           R"sql(ALTER TABLE transfers ADD INDEX IF NOT EXISTS transfers_from (from_id, id),
                                   ADD INDEX IF NOT EXISTS transfers_to (to_id, id))sql",
       }},
      // Checkout (API.md "Checkout", domain/checkouts): funds frozen by a Try (payments side),
      // units held by a Try (shop side), and one row per checkout. Existing rows get 0 (an
      // instant ADD COLUMN in MariaDB). The TCC barrier and log tables are created by
      // lockstep::tcc (CreateSchema, IF NOT EXISTS) when checkouts are enabled.
      {8, "checkout: accounts.frozen, products.held, checkouts",
       {
           R"sql(ALTER TABLE accounts ADD COLUMN IF NOT EXISTS frozen BIGINT NOT NULL DEFAULT 0)sql",
           R"sql(ALTER TABLE products ADD COLUMN IF NOT EXISTS held BIGINT NOT NULL DEFAULT 0)sql",
           R"sql(CREATE TABLE IF NOT EXISTS checkouts (
                   id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                   request_id VARBINARY(64) NOT NULL,
                   request_digest VARBINARY(512) NOT NULL,
                   account_id BIGINT NOT NULL,
                   product_id BIGINT NOT NULL,
                   quantity INT NOT NULL,
                   amount BIGINT NOT NULL,
                   merchant_id BIGINT NOT NULL,
                   order_id BIGINT NOT NULL,
                   status VARCHAR(16) CHARACTER SET ascii NOT NULL,
                   reason VARCHAR(64) CHARACTER SET ascii NOT NULL,
                   created_at DATETIME(6) NOT NULL,
                   updated_at DATETIME(6) NOT NULL,
                   UNIQUE KEY checkouts_request_id (request_id),
                   KEY checkouts_status (status, created_at)
                 ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql",
       }},
      // The transactional outbox (API.md "Events"; events.h): the tables of
      // lockstep::outbox::Outbox (ShopOutbox().SchemaStatements(), spelled out here because a
      // released migration never changes), and shopd_transfer_v3 = v2 that also appends the
      // transfer.completed event before its COMMIT, following Outbox::Append's protocol for a
      // first event (a shared lock on one gate row before the event id is allocated, then
      // the event row; no counter), so the money moves and its event commit together.
      {9, "outbox tables, transfer procedure with its event",
       {
           R"sql(CREATE TABLE IF NOT EXISTS outbox (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
                   type VARCHAR(100) NOT NULL, aggregate VARCHAR(190) NOT NULL,
                   aggregate_version BIGINT UNSIGNED NOT NULL, data LONGTEXT NOT NULL CHECK (JSON_VALID(data)),
                   appended_at DATETIME(6) NOT NULL,
                   UNIQUE KEY uk_outbox_aggregate_version (aggregate, aggregate_version)) ENGINE=InnoDB)sql",
           R"sql(CREATE TABLE IF NOT EXISTS outbox_versions (aggregate VARCHAR(190) NOT NULL PRIMARY KEY,
                   version BIGINT UNSIGNED NOT NULL) ENGINE=InnoDB)sql",
           R"sql(CREATE TABLE IF NOT EXISTS outbox_gate (id TINYINT UNSIGNED NOT NULL PRIMARY KEY) ENGINE=InnoDB)sql",
           R"sql(INSERT IGNORE INTO outbox_gate (id)
                 VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15), (16))sql",
           R"sql(CREATE PROCEDURE IF NOT EXISTS shopd_transfer_v3(
                   IN p_request_id VARBINARY(64), IN p_digest VARBINARY(512),
                   IN p_from BIGINT, IN p_to BIGINT, IN p_amount BIGINT,
                   IN p_body_head VARCHAR(256), IN p_body_mid VARCHAR(512), IN p_body_tail VARCHAR(256),
                   IN p_from_unknown VARCHAR(1024), IN p_to_unknown VARCHAR(1024),
                   IN p_insufficient VARCHAR(1024), IN p_overflow VARCHAR(1024))
                 MODIFIES SQL DATA
                 BEGIN
                   DECLARE v_low_id BIGINT DEFAULT LEAST(p_from, p_to);
                   DECLARE v_high_id BIGINT DEFAULT GREATEST(p_from, p_to);
                   DECLARE v_low BIGINT DEFAULT NULL;
                   DECLARE v_high BIGINT DEFAULT NULL;
                   DECLARE v_from BIGINT DEFAULT NULL;
                   DECLARE v_to BIGINT DEFAULT NULL;
                   DECLARE v_status INT DEFAULT 200;
                   DECLARE v_body VARCHAR(2048) DEFAULT NULL;
                   DECLARE v_transfer_id BIGINT DEFAULT NULL;
                   DECLARE v_gate TINYINT UNSIGNED DEFAULT NULL;
                   DECLARE EXIT HANDLER FOR SQLEXCEPTION
                   BEGIN
                     ROLLBACK;
                     RESIGNAL;
                   END;
                   DECLARE CONTINUE HANDLER FOR NOT FOUND BEGIN END;
                   SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
                   START TRANSACTION;
                   SELECT balance INTO v_low FROM accounts WHERE id = v_low_id FOR UPDATE;
                   SELECT balance INTO v_high FROM accounts WHERE id = v_high_id FOR UPDATE;
                   SET v_from = IF(p_from = v_low_id, v_low, v_high);
                   SET v_to = IF(p_to = v_low_id, v_low, v_high);
                   IF v_from IS NULL THEN
                     SET v_status = 404, v_body = p_from_unknown;
                   ELSEIF v_to IS NULL THEN
                     SET v_status = 404, v_body = p_to_unknown;
                   ELSEIF v_from < p_amount THEN
                     SET v_status = 409, v_body = p_insufficient;
                   ELSEIF v_to > 9223372036854775807 - p_amount THEN
                     SET v_status = 409, v_body = p_overflow;
                   ELSE
                     SET v_body = CONCAT(p_body_head, v_from - p_amount, p_body_mid, v_to + p_amount, p_body_tail);
                   END IF;
                   INSERT INTO request_records (scope, request_id, request_digest, http_status, response, created_at)
                     VALUES ('transfer', p_request_id, p_digest, v_status, v_body, UTC_TIMESTAMP(6));
                   IF v_status = 200 THEN
                     UPDATE accounts SET balance = balance + IF(id = p_from, -p_amount, p_amount), version = version + 1
                       WHERE id IN (p_from, p_to);
                     INSERT INTO transfers (request_id, from_id, to_id, amount, created_at)
                       VALUES (p_request_id, p_from, p_to, p_amount, UTC_TIMESTAMP(6));
                     SET v_transfer_id = LAST_INSERT_ID();
                     SET v_from = v_from - p_amount, v_to = v_to + p_amount;
                     SET v_gate = CONNECTION_ID() % 16 + 1;
                     SELECT id INTO v_gate FROM outbox_gate WHERE id = v_gate LOCK IN SHARE MODE;
                     INSERT INTO outbox (type, aggregate, aggregate_version, data, appended_at)
                       VALUES ('transfer.completed', CONCAT('transfer:', v_transfer_id), 1,
                               JSON_OBJECT('transfer_id', v_transfer_id,
                                           'request_id', CONVERT(p_request_id USING utf8mb4),
                                           'from', p_from, 'to', p_to, 'amount', p_amount,
                                           'from_balance', v_from, 'to_balance', v_to),
                               UTC_TIMESTAMP(6));
                   END IF;
                   COMMIT;
                   SELECT v_status AS http_status, v_from AS from_balance, v_to AS to_balance;
                 END)sql",
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
