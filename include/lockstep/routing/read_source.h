#pragma once

#include <string>

namespace lockstep::routing {

// The server a read ran on. Value type, thread-compatible.
struct ReadSource {
  bool primary = true;   // False: a replica.
  std::string address;   // "host:port" of the replica; empty for the primary.

  // "primary" or "replica:<host:port>" (the X-Read-Source header of API.md).
  std::string ToString() const { return primary ? std::string("primary") : "replica:" + address; }
  friend bool operator==(const ReadSource&, const ReadSource&) = default;
};

}  // namespace lockstep::routing
