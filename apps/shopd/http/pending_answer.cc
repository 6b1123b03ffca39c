#include "http/pending_answer.h"

#include <utility>

namespace shopd::http {

PendingAnswer::PendingAnswer(OutstandingAnswers& owed) : owed_(owed) { owed_.Add(); }

void PendingAnswer::Deliver(Response response) {
  Waiter waiter;
  {
    lockstep::MutexLock lock(&mu_);
    if (waiter_ == nullptr) {
      ready_ = std::move(response);
    } else {
      waiter = std::move(waiter_);
    }
  }
  if (waiter) waiter(std::move(response));
  owed_.Done();  // Last: the server's Drain may destroy the io_context once it reads zero.
}

std::optional<Response> PendingAnswer::Take() {
  lockstep::MutexLock lock(&mu_);
  return std::exchange(ready_, std::nullopt);
}

void PendingAnswer::OnReady(Waiter waiter) {
  std::optional<Response> ready;
  {
    lockstep::MutexLock lock(&mu_);
    ready = std::exchange(ready_, std::nullopt);
    if (!ready) {
      waiter_ = std::move(waiter);
      return;
    }
  }
  waiter(std::move(*ready));
}

void OutstandingAnswers::Done() {
  // acq_rel: everything the last answer wrote happens before WaitZero returns.
  if (count_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  lockstep::MutexLock lock(&mu_);  // WaitZero either has not read count_ yet or waits.
  zero_.SignalAll();
}

void OutstandingAnswers::WaitZero() {
  lockstep::MutexLock lock(&mu_);
  while (count_.load(std::memory_order_acquire) > 0) zero_.Wait(&mu_);
}

}  // namespace shopd::http
