#pragma once

#include <string>
#include <vector>

#include "lockstep/base/result.h"
#include "lockstep/cdc/row_change.h"
#include "lockstep/outbox/event.h"

namespace lockstep::outbox {

// The Redis Stream form of an event (what the outbox relay appends): field/value pairs
//   event_id, type, aggregate, aggregate_version, data
// in this order (API.md "Events"). Value in, value out; thread-safe.
std::vector<std::string> EncodeEventEntry(const StoredEvent& event);

// Parses EncodeEventEntry's fields (alternating field, value, as XRANGE returns them; extra
// fields are ignored). kInvalidArgument when a field is missing or malformed.
Result<StoredEvent> DecodeEventEntry(const std::vector<std::string>& fields);

// The event an outbox row change carries: for an INSERT into the outbox table, the event of
// its after-image; kNotFound for anything else (an UPDATE or DELETE of outbox rows, e.g. a
// purge, is not an event); kInvalidArgument when a column is missing or mistyped.
Result<StoredEvent> EventFromRow(const cdc::RowChange& change);

}  // namespace lockstep::outbox
