#pragma once

#include <functional>
#include <memory>

#include "http/response.h"

namespace shopd::http {

// Delivers the answer of a call (call.h), possibly from another thread and after the
// handler returned, so no worker thread waits for it.
// Copyable; all copies share one delivery: the first call delivers, later calls are
// ignored (and return false). If the last copy is destroyed and nobody called it, the
// request is answered 500 internal — a dropped request never hangs its connection.
// Thread-safe: copies may be called and destroyed on any threads.
class Responder {
 public:
  // `deliver` runs exactly once, on the thread of the first call (or of the last copy's
  // destruction). It must not block. REQUIRES: deliver is set.
  explicit Responder(std::function<void(Response)> deliver);

  // Delivers `response` unless a copy delivered already; true if this call delivered.
  bool operator()(Response response) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace shopd::http
