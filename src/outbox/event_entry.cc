#include "lockstep/outbox/event_entry.h"

#include <charconv>
#include <string_view>

namespace lockstep::outbox {
namespace {

Result<int64_t> ParsePositive(std::string_view field, std::string_view text) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty() || v <= 0) {
    return Status::InvalidArgument("event entry: bad ", field, " '", text, "'");
  }
  return v;
}

// An integer column of the outbox row (signedness as logged).
Result<int64_t> IntColumn(const cdc::RowChange& change, std::string_view column) {
  const cdc::Value* v = change.Get(column);
  if (v == nullptr) return Status::InvalidArgument("outbox row without column ", column);
  if (v->kind == cdc::ValueKind::kUint) return static_cast<int64_t>(v->u);
  if (v->kind == cdc::ValueKind::kInt) return v->i;
  return Status::InvalidArgument("outbox row column ", column, " is not an integer");
}

Result<std::string> TextColumn(const cdc::RowChange& change, std::string_view column) {
  const cdc::Value* v = change.Get(column);
  if (v == nullptr || v->kind != cdc::ValueKind::kString) {
    return Status::InvalidArgument("outbox row column ", column, " is missing or not text");
  }
  return v->text;
}

}  // namespace

std::vector<std::string> EncodeEventEntry(const StoredEvent& event) {
  return {"event_id", std::to_string(event.event_id), "type",   event.type,
          "aggregate", event.aggregate, "aggregate_version", std::to_string(event.aggregate_version),
          "data",     event.data};
}

Result<StoredEvent> DecodeEventEntry(const std::vector<std::string>& fields) {
  if (fields.size() % 2 != 0) return Status::InvalidArgument("event entry: odd number of fields");
  StoredEvent e;
  int found = 0;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& k = fields[i];
    const std::string& v = fields[i + 1];
    if (k == "event_id") {
      LOCKSTEP_ASSIGN_OR_RETURN(e.event_id, ParsePositive(k, v));
      found |= 1;
    } else if (k == "type") {
      e.type = v;
      found |= 2;
    } else if (k == "aggregate") {
      e.aggregate = v;
      found |= 4;
    } else if (k == "aggregate_version") {
      LOCKSTEP_ASSIGN_OR_RETURN(e.aggregate_version, ParsePositive(k, v));
      found |= 8;
    } else if (k == "data") {
      e.data = v;
      found |= 16;
    }
  }
  if (found != 31 || e.type.empty() || e.aggregate.empty()) {
    return Status::InvalidArgument("event entry: a field of event_id, type, aggregate, aggregate_version, data is missing");
  }
  return e;
}

Result<StoredEvent> EventFromRow(const cdc::RowChange& change) {
  if (change.op != cdc::RowOp::kInsert) return Status::NotFound("not an appended event");
  StoredEvent e;
  LOCKSTEP_ASSIGN_OR_RETURN(e.event_id, IntColumn(change, "id"));
  LOCKSTEP_ASSIGN_OR_RETURN(e.type, TextColumn(change, "type"));
  LOCKSTEP_ASSIGN_OR_RETURN(e.aggregate, TextColumn(change, "aggregate"));
  LOCKSTEP_ASSIGN_OR_RETURN(e.aggregate_version, IntColumn(change, "aggregate_version"));
  LOCKSTEP_ASSIGN_OR_RETURN(e.data, TextColumn(change, "data"));
  return e;
}

}  // namespace lockstep::outbox
