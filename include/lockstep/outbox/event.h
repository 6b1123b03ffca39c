#pragma once

#include <cstdint>
#include <string>

namespace lockstep::outbox {

// An event to append (Outbox::Append). Value type.
struct Event {
  // What happened, e.g. "order.confirmed". 1..100 bytes.
  std::string type;
  // What it happened to, e.g. "order:17": the unit whose events are numbered 1, 2, 3 ...
  // (aggregate_version) and relayed in that order. 1..190 bytes.
  std::string aggregate;
  // The payload: a JSON document (MariaDB's JSON_VALID check refuses anything else).
  std::string data = "{}";
  // True for the aggregate's first event (it was created in this transaction): version 1,
  // written with a plain INSERT (no lock on any counter). False: the next version of an
  // existing aggregate (see Outbox::Append for how it is allocated).
  bool creates_aggregate = false;
};

// An event as stored (Outbox::ListAfter) and relayed (DecodeEventEntry). Value type.
struct StoredEvent {
  int64_t event_id = 0;           // The outbox row's AUTO_INCREMENT id.
  std::string type;
  std::string aggregate;
  int64_t aggregate_version = 0;  // 1, 2, 3 ... per aggregate, without gaps.
  std::string data;               // JSON text.
  // When the event was appended inside its transaction, UTC, "YYYY-MM-DDTHH:MM:SS.ffffffZ"
  // (empty in relayed events).
  std::string appended_at;
};

}  // namespace lockstep::outbox
