#include "cache/single_flight.h"

namespace lockstep::cache::internal {

std::pair<std::shared_ptr<SingleFlight::Flight>, bool> SingleFlight::Join(std::string_view key) {
  MutexLock lock(&mu_);
  auto [it, inserted] = flights_.try_emplace(std::string(key));
  if (inserted) it->second = std::make_shared<Flight>();
  return {it->second, inserted};
}

void SingleFlight::Finish(std::string_view key, const std::shared_ptr<Flight>& flight, const Value& result) {
  {
    MutexLock lock(&mu_);
    auto it = flights_.find(std::string(key));
    // The key may have been detached, and a newer flight started, meanwhile.
    if (it != flights_.end() && it->second == flight) flights_.erase(it);
  }
  MutexLock lock(&flight->mu_);
  flight->result_ = result;
  flight->cv_.SignalAll();
}

void SingleFlight::Detach(std::string_view key) {
  MutexLock lock(&mu_);
  flights_.erase(std::string(key));
}

SingleFlight::Value SingleFlight::Wait(Flight& flight, const Deadline& deadline) {
  MutexLock lock(&flight.mu_);
  while (!flight.result_.has_value()) {
    if (!flight.cv_.WaitUntil(&flight.mu_, deadline) && !flight.result_.has_value()) {
      return Status::DeadlineExceeded("waiting for another caller's cache load");
    }
  }
  return *flight.result_;
}

}  // namespace lockstep::cache::internal
