#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shopd::domain {

// The Redis keys of the `reserved` stock mode, all under `prefix` = the per-database prefix
// (ShopdConfig::EffectiveRedisKeyPrefix) + "rsv:<token>:" (LoadReservedKeys), so instances
// on one database share them, instances on different databases never meet, and neither do
// a dropped database and its same-named successor. Value type, thread-compatible.
//   <p>stock:<product>   string  units left to reserve (initialised once from MariaDB)
//   <p>res:<request_id>  hash    the reservation and its recorded outcome: digest, status,
//                                body, state (pending|confirmed|failed|rejected), pid, uid,
//                                qty, oid, entry (stream id), inc
//   <p>orders            stream  reservations to persist (group "persister")
//   <p>pending           set     request_ids reserved and not yet confirmed/failed
//   <p>order_ids         hash    order id -> request_id (GET /v1/orders/{id} of a pending order)
//   <p>incarnation       string  random token created with the first stock key; a new token
//                                means Redis lost its data (see reservations.cc)
struct ReservedKeys {
  std::string prefix;

  std::string Stock(int64_t product_id) const { return prefix + "stock:" + std::to_string(product_id); }
  std::string Reservation(std::string_view request_id) const { return prefix + "res:" + std::string(request_id); }
  std::string Stream() const { return prefix + "orders"; }
  std::string Pending() const { return prefix + "pending"; }
  std::string OrderIds() const { return prefix + "order_ids"; }
  std::string Incarnation() const { return prefix + "incarnation"; }
  static constexpr std::string_view kGroup = "persister";
};

}  // namespace shopd::domain
