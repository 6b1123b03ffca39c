#include "domain/in_flight.h"

namespace shopd::domain {

InFlight::Ticket::~Ticket() {
  if (owner_ != nullptr) owner_->Leave(key_);
}

namespace {
std::string Key(std::string_view scope, std::string_view request_id) {
  std::string key;
  key.reserve(scope.size() + 1 + request_id.size());
  key.append(scope).push_back('\0');
  key.append(request_id);
  return key;
}
}  // namespace

lockstep::Result<InFlight::Ticket> InFlight::Enter(std::string_view scope, std::string_view request_id,
                                                   const lockstep::Deadline& deadline) {
  std::string key = Key(scope, request_id);
  lockstep::MutexLock lock(&mu_);
  while (running_.count(key) != 0) {
    if (!left_.WaitUntil(&mu_, deadline) && running_.count(key) != 0) {
      return lockstep::Status::FailedPrecondition("the original request with this request_id is still running")
          .WithReason("request_in_progress");
    }
  }
  running_.emplace(key, 0);
  return Ticket(this, std::move(key));
}

std::optional<InFlight::Ticket> InFlight::TryEnter(std::string_view scope, std::string_view request_id) {
  std::string key = Key(scope, request_id);
  lockstep::MutexLock lock(&mu_);
  if (!running_.emplace(key, 0).second) return std::nullopt;
  return Ticket(this, std::move(key));
}

void InFlight::Leave(const std::string& key) {
  {
    lockstep::MutexLock lock(&mu_);
    running_.erase(key);
  }
  left_.SignalAll();
}

}  // namespace shopd::domain
