#include "domain/events/events_relay.h"

#include <spdlog/spdlog.h>

#include "lockstep/cdc/stream_publisher.h"
#include "lockstep/outbox/outbox_relay.h"
#include "lockstep/prometheus/snapshots.h"

namespace shopd::domain {

lockstep::Result<std::unique_ptr<EventsRelay>> EventsRelay::Start(lockstep::redis::Client& client,
                                                                  lockstep::sql::Pool& pool, EventsRelayOptions options) {
  {
    const lockstep::Deadline deadline = lockstep::Deadline::After(std::chrono::seconds(10));
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::PooledConnection conn, pool.Acquire(deadline));
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::sql::Rows rows, conn.Query("SELECT @@gtid_binlog_pos", deadline));
    LOCKSTEP_ASSIGN_OR_RETURN(std::string text, rows[0].GetString(0));
    LOCKSTEP_ASSIGN_OR_RETURN(lockstep::cdc::GtidPosition now, lockstep::cdc::GtidPosition::Parse(text));
    lockstep::cdc::StreamPublisherOptions po;
    po.stream = options.stream;
    LOCKSTEP_ASSIGN_OR_RETURN(std::unique_ptr<lockstep::cdc::StreamPublisher> publisher,
                              lockstep::cdc::StreamPublisher::Create(client, po));
    LOCKSTEP_RETURN_IF_ERROR(publisher->Initialize(now, deadline).status());
  }
  std::unique_ptr<EventsRelay> self(new EventsRelay());
  LOCKSTEP_ASSIGN_OR_RETURN(self->locks_,
                            lockstep::lock::LockService::Create(client, {.key_prefix = options.stream + ":lock:"}));
  lockstep::cdc::ElectedRelayOptions eo;
  eo.relay.reader.connection = options.connection;
  eo.relay.reader.server_id = options.server_id;
  LOCKSTEP_RETURN_IF_ERROR(
      lockstep::outbox::ConfigureOutboxRelay(eo.relay, options.connection.database, "outbox", options.stream));
  EventsRelay* raw = self.get();
  eo.relay.observer.on_published = [raw](const lockstep::cdc::CommittedTransaction&, size_t entries) {
    raw->relayed_.fetch_add(entries, std::memory_order_relaxed);
  };
  eo.relay.observer.on_retry = [raw](const lockstep::Status& st) {
    raw->reconnects_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("events relay: reconnecting after: {}", st.ToString());
  };
  eo.relay.observer.on_gap = [](const lockstep::Status& st) {
    spdlog::critical("events relay: {}; the relay stops (events cannot be skipped)", st.ToString());
  };
  eo.lock_name = "leader";
  eo.lease = options.lease;
  eo.observer.on_leadership = [](bool leader, int64_t fence) {
    if (leader) {
      spdlog::info("events relay: leading (fence {})", fence);
    } else {
      spdlog::warn("events relay: stopped leading (fence {})", fence);
    }
  };
  eo.observer.on_relay_stopped = [](const lockstep::Status& st) {
    spdlog::error("events relay: stopped: {}", st.ToString());
  };
  LOCKSTEP_ASSIGN_OR_RETURN(self->relay_, lockstep::cdc::ElectedRelay::Start(client, *self->locks_, eo));
  return self;
}

EventsRelay::~EventsRelay() {
  if (relay_) relay_->Stop();
}

void EventsRelay::Collect(std::vector<prometheus::MetricFamily>& out) const {
  out.push_back(lockstep::prometheus::GaugeFamily("shopd_events_leader", "1 while this instance runs the outbox relay.",
                                                  relay_->leader() ? 1 : 0));
  out.push_back(lockstep::prometheus::CounterFamily("shopd_events_relayed_total",
                                                    "Events this instance's outbox relay appended to the stream.",
                                                    static_cast<double>(relayed_.load())));
  out.push_back(lockstep::prometheus::CounterFamily("shopd_events_relay_reconnects_total",
                                                    "Outbox relay reconnects after a MariaDB or Redis failure.",
                                                    static_cast<double>(reconnects_.load())));
}

}  // namespace shopd::domain
