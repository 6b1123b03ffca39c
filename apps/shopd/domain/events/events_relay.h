#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/metric_family.h>

#include "lockstep/base/result.h"
#include "lockstep/cdc/elected_relay.h"
#include "lockstep/lock/lock_service.h"
#include "lockstep/redis/client.h"
#include "lockstep/sql/options.h"
#include "lockstep/sql/pool.h"

namespace shopd::domain {

struct EventsRelayOptions {
  lockstep::sql::ConnectionOptions connection;  // The primary (and the outbox's database).
  std::string stream;                           // "<redis_key_prefix>events".
  uint32_t server_id = 4244;                    // The binlog reader's replica server_id.
  std::chrono::milliseconds lease{3'000};       // The election's lease.
};

// shopd's candidacy for the outbox relay (--events-relay 1): a cdc::ElectedRelay configured
// by lockstep::outbox::ConfigureOutboxRelay on `<database>.outbox` -> `stream` under the lease
// lock "<stream>:lock:leader". Every instance may run one; one leads. Thread-safe.
class EventsRelay {
 public:
  // First makes sure the stream has a checkpoint: if none exists, the primary's current
  // @@gtid_binlog_pos (read through `pool`) becomes it (SET NX; another instance's wins), so
  // every event this process appends after Start returns is relayed whichever instance
  // leads. Events committed while no checkpoint existed (before the first start of a relay
  // candidate) are not relayed. Then starts the candidacy. `client` must outlive the relay.
  static lockstep::Result<std::unique_ptr<EventsRelay>> Start(lockstep::redis::Client& client,
                                                              lockstep::sql::Pool& pool, EventsRelayOptions options);
  ~EventsRelay();  // Stops and releases the lease (a standby takes over at once).

  // shopd_events_leader, shopd_events_relayed_total, shopd_events_relay_reconnects_total.
  void Collect(std::vector<prometheus::MetricFamily>& out) const;

 private:
  EventsRelay() = default;
  std::atomic<uint64_t> relayed_{0};     // Written by the relay thread (observer); read by scrapes.
  std::atomic<uint64_t> reconnects_{0};  // Same.
  std::unique_ptr<lockstep::lock::LockService> locks_;
  std::unique_ptr<lockstep::cdc::ElectedRelay> relay_;
};

}  // namespace shopd::domain
