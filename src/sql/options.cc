#include "lockstep/sql/options.h"

namespace lockstep::sql {

std::string ConnectionOptions::ToString() const {
  std::string out = "mysql://" + user;
  if (!password.empty()) out += ":***";
  out += "@";
  if (!unix_socket.empty()) {
    out += "unix(" + unix_socket + ")";
  } else {
    out += host + ":" + std::to_string(port);
  }
  out += "/" + database;
  if (!ssl_ca.empty() || !ssl_cert.empty() || !ssl_key.empty()) out += " (tls)";
  return out;
}

Status ConnectionOptions::Validate() const {
  if (user.empty()) return Status::InvalidArgument("ConnectionOptions.user is empty");
  if (unix_socket.empty() && host.empty()) return Status::InvalidArgument("ConnectionOptions.host is empty");
  if (port < 1 || port > 65535) return Status::InvalidArgument("ConnectionOptions.port ", port, " out of range 1..65535");
  if (connect_timeout.count() <= 0) return Status::InvalidArgument("ConnectionOptions.connect_timeout must be > 0");
  if (read_timeout.count() <= 0 || write_timeout.count() <= 0) {
    return Status::InvalidArgument("ConnectionOptions.read_timeout/write_timeout must be > 0");
  }
  if (charset.empty()) return Status::InvalidArgument("ConnectionOptions.charset is empty");
  return Status::Ok();
}

Status PoolOptions::Validate() const {
  if (max_connections <= 0) return Status::InvalidArgument("PoolOptions.max_connections must be > 0");
  if (acquire_timeout.count() < 0) return Status::InvalidArgument("PoolOptions.acquire_timeout must be >= 0");
  if (ping_after_idle.count() < 0) return Status::InvalidArgument("PoolOptions.ping_after_idle must be >= 0");
  if (statement_cache_size <= 0) return Status::InvalidArgument("PoolOptions.statement_cache_size must be > 0");
  if (cleanup_timeout.count() <= 0) return Status::InvalidArgument("PoolOptions.cleanup_timeout must be > 0");
  if (default_statement_timeout.count() <= 0) {
    return Status::InvalidArgument("PoolOptions.default_statement_timeout must be > 0");
  }
  if (breaker.has_value()) {
    auto probe = CircuitBreaker::Create(*breaker);
    if (!probe.ok()) return Status(probe.status()).Annotate("PoolOptions.breaker");
  }
  return Status::Ok();
}

}  // namespace lockstep::sql
