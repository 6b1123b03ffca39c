#pragma once

#include <string_view>

#include "http/headers.h"
#include "http/responder.h"
#include "http/response.h"
#include "lockstep/base/deadline.h"

namespace shopd::http {

// What a RequestGate sees of a request: its header only (the body is not read yet).
// The references are valid during RequestGate::Check only.
struct GateRequest {
  std::string_view group;  // The route's RouteOptions::limit_group (never empty).
  const Headers& headers;
  lockstep::Deadline deadline;  // The request's.
};

// The answer that lets a request through a gate (as "100 Continue" lets a client send
// its body): the server then reads the body and runs the handler.
inline Response GatePass() {
  Response pass;
  pass.status = 100;
  return pass;
}
inline bool IsGatePass(const Response& response) { return response.status == 100; }

// Decides from a request's header, before its body is read, whether the request goes on
// (ServerOptions::gate; shopd's rate limits). A refused request changes nothing: its
// handler never runs and its body is read only to be discarded.
class RequestGate {
 public:
  virtual ~RequestGate() = default;

  // Called on the I/O thread that read the header, for every request whose route has a
  // limit_group. Must not block: answers through `verdict`, now or later from any thread,
  // with GatePass() or the request's final answer (e.g. 429), by `request.deadline`
  // at the latest. Thread-safe (all I/O threads call it concurrently).
  virtual void Check(const GateRequest& request, Responder verdict) = 0;
};

}  // namespace shopd::http
