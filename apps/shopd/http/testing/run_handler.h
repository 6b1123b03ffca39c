#pragma once

#include <memory>
#include <optional>
#include <utility>

#include "http/call.h"
#include "http/router.h"
#include "lockstep/base/check.h"

namespace shopd::http::testing {

// Runs `handler` on the calling thread as a worker would (continuations run at once) and
// returns its answer. REQUIRES: the handler answers before the call returns (a handler
// that parks its responder aborts the test). Thread-compatible.
inline Response RunHandler(const Handler& handler, Request request) {
  std::optional<Response> answer;
  {
    auto call = std::make_shared<Call>(
        std::move(request), Responder([&answer](Response r) { answer = std::move(r); }),
        [](std::function<void()> job, lockstep::resilience::Priority, const lockstep::Deadline&) {
          job();
          return lockstep::Status::Ok();
        });
    call->Run(handler);
  }
  LOCKSTEP_CHECK_MSG(answer.has_value(), "the handler did not answer before returning");
  return std::move(*answer);
}

}  // namespace shopd::http::testing
