#include "lockstep/outbox/outbox_relay.h"

#include "lockstep/outbox/event_entry.h"

namespace lockstep::outbox {

Status ConfigureOutboxRelay(cdc::RelayOptions& relay, const std::string& database, const std::string& table,
                            const std::string& stream) {
  if (database.empty() || table.empty() || stream.empty()) {
    return Status::InvalidArgument("ConfigureOutboxRelay: database, table and stream must be non-empty");
  }
  relay.reader.tables = {cdc::TableFilter{database, table}};
  relay.publisher.stream = stream;
  relay.publisher.ddl_entries = false;
  // Only inserts are events. A row that does not decode (a column changed by hand) is not
  // skipped silently: it is appended as an entry without the event fields, which
  // DecodeEventEntry refuses, so consumers dead-letter it where an operator sees it.
  relay.publisher.encode_row = [](const cdc::CommittedTransaction& txn, size_t row) -> std::vector<std::string> {
    Result<StoredEvent> event = EventFromRow(txn.changes[row]);
    if (event.ok()) return EncodeEventEntry(*event);
    if (event.status().code() == StatusCode::kNotFound) return {};
    return {"error", std::string(event.status().message()), "gtid", txn.gtid.ToString(), "row", std::to_string(row)};
  };
  relay.gap_policy = cdc::GapPolicy::kStop;
  return Status::Ok();
}

}  // namespace lockstep::outbox
