#pragma once

#include <string>

#include "lockstep/base/status.h"
#include "lockstep/cdc/relay.h"

namespace lockstep::outbox {

// Turns `relay` (a cdc::RelayOptions, e.g. the one inside cdc::ElectedRelayOptions) into
// the outbox relay: it watches only `database`.`table`, appends to `stream` one entry per
// event (EncodeEventEntry: an INSERT into the outbox table; updates, deletes and DDL get no
// entry) and stops at a binlog gap (GapPolicy::kStop: events cannot be skipped silently).
// The connection, server_id and the rest of `relay.reader` stay the caller's.
// kInvalidArgument for an empty database, table or stream.
//
// Guarantee (cdc::StreamPublisher's, proven by the outbox tests with the relay process
// killed by SIGKILL): every committed event is appended exactly once, in commit (binlog)
// order — so per aggregate in version order — across crashes and restarts of the relay and
// leader changes of a cdc::ElectedRelay: each append is one Lua script that XADDs the
// entries and moves the stream's checkpoint atomically, so a relay that dies after an append
// resumes after it and one that dies before it appends it again from the binlog. What the
// API promises consumers is at least once (they deduplicate by event_id: outbox::Consumer
// does), which also covers a Redis that loses its tail (appendfsync other than always: the
// stream and checkpoint roll back together and the events are appended again).
// Not thread-safe with respect to `relay` (fills in a struct).
Status ConfigureOutboxRelay(cdc::RelayOptions& relay, const std::string& database, const std::string& table,
                            const std::string& stream);

}  // namespace lockstep::outbox
