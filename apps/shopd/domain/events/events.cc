#include "domain/events/events.h"

namespace shopd::domain {

const lockstep::outbox::Outbox& ShopOutbox() {
  static const lockstep::outbox::Outbox outbox = lockstep::outbox::Outbox::Create({.table = "outbox"}).value();
  return outbox;
}

lockstep::Status AppendEvent(lockstep::sql::Transaction& tx, std::string type, std::string aggregate,
                             const nlohmann::json& data, bool creates_aggregate) {
  lockstep::outbox::Event e;
  e.type = std::move(type);
  e.aggregate = std::move(aggregate);
  e.data = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  e.creates_aggregate = creates_aggregate;
  return ShopOutbox().Append(tx, e);
}

lockstep::Result<std::string> EventService::ListBody(int64_t after, int64_t limit, const lockstep::Deadline& deadline) {
  if (after < 0) return lockstep::Status::InvalidArgument("after must be an event id >= 0, got ", after);
  if (limit < 1 || limit > 1000) return lockstep::Status::InvalidArgument("limit must be 1..1000, got ", limit);
  LOCKSTEP_ASSIGN_OR_RETURN(lockstep::outbox::EventPage page,
                            ShopOutbox().ListAfter(pool_, after, static_cast<int>(limit), deadline));
  nlohmann::json events = nlohmann::json::array();
  for (const lockstep::outbox::StoredEvent& e : page.events) {
    nlohmann::json data = nlohmann::json::parse(e.data, nullptr, /*allow_exceptions=*/false);
    events.push_back({{"event_id", e.event_id},
                      {"type", e.type},
                      {"aggregate", e.aggregate},
                      {"aggregate_version", e.aggregate_version},
                      {"data", std::move(data)},
                      {"committed_at", e.appended_at}});
  }
  return nlohmann::json{{"events", std::move(events)}, {"next_after", page.next_after}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace shopd::domain
