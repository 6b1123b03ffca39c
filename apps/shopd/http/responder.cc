#include "http/responder.h"

#include <atomic>
#include <utility>

#include "lockstep/base/check.h"

namespace shopd::http {

struct Responder::State {
  explicit State(std::function<void(Response)> d) : deliver(std::move(d)) {}
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (!delivered.exchange(true)) {
      deliver(Response::Error(lockstep::Status::Internal("the handler dropped the request without answering")));
    }
  }
  const std::function<void(Response)> deliver;
  std::atomic<bool> delivered{false};
};

Responder::Responder(std::function<void(Response)> deliver) : state_(std::make_shared<State>(std::move(deliver))) {
  LOCKSTEP_CHECK(state_->deliver != nullptr);
}

bool Responder::operator()(Response response) const {
  if (state_->delivered.exchange(true)) return false;
  state_->deliver(std::move(response));
  return true;
}

}  // namespace shopd::http
