#include "lockstep/lock/lock_guard.h"

#include "lock/lease.h"

namespace lockstep::lock {

LockGuard::LockGuard(LockGuard&& other) noexcept : lease_(std::move(other.lease_)) {}

LockGuard& LockGuard::operator=(LockGuard&& other) noexcept {
  if (this != &other) {
    (void)Release();
    lease_ = std::move(other.lease_);
  }
  return *this;
}

LockGuard::~LockGuard() { (void)Release(); }

Status LockGuard::Check() const {
  if (lease_ == nullptr) return Status::FailedPrecondition("lock guard holds nothing").WithReason("not_held");
  return lease_->Check();
}

bool LockGuard::lost() const { return lease_ != nullptr && lease_->lost(); }

int64_t LockGuard::fence() const { return lease_ != nullptr ? lease_->fence() : 0; }

const std::string& LockGuard::name() const {
  static const std::string* const kEmpty = new std::string();
  return lease_ != nullptr ? lease_->name() : *kEmpty;
}

Deadline LockGuard::deadline() const {
  if (lease_ == nullptr) return Deadline::At(Clock::time_point::min());
  return Deadline::At(lease_->valid_until());
}

int LockGuard::hold_count() const { return lease_ != nullptr ? lease_->holds() : 0; }

Status LockGuard::Release() {
  if (lease_ == nullptr) return Status::Ok();
  std::shared_ptr<internal::Lease> lease = std::move(lease_);
  lease_.reset();
  return lease->DropHold();
}

}  // namespace lockstep::lock
