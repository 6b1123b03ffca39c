#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>

#include "http/response.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/thread_annotations.h"

namespace shopd::http {

class OutstandingAnswers;

// The answer of one call, delivered by its Responder from any thread and awaited by the
// connection that read the request. An answer given while the handler still runs on the
// I/O thread (a cache hit, a validation error) is taken at once (Take), without a wake-up.
// Counts itself in `owed` from construction until delivery. Thread-safe.
class PendingAnswer {
 public:
  // REQUIRES: `owed` outlives the delivery.
  explicit PendingAnswer(OutstandingAnswers& owed);

  // The awaiting side's wake-up (the server posts the answer to the connection's strand).
  // Must not block.
  using Waiter = std::function<void(Response)>;

  // Hands `response` to the waiter if one is registered (on this thread), else keeps it
  // for Take/OnReady; then leaves `owed`. Called once.
  void Deliver(Response response) LOCKSTEP_EXCLUDES(mu_);

  // The answer if it was delivered already; nullopt otherwise.
  std::optional<Response> Take() LOCKSTEP_EXCLUDES(mu_);

  // Registers `waiter`, or calls it at once (on this thread) if the answer is here
  // already. Called at most once.
  void OnReady(Waiter waiter) LOCKSTEP_EXCLUDES(mu_);

 private:
  OutstandingAnswers& owed_;
  lockstep::Mutex mu_;
  std::optional<Response> ready_ LOCKSTEP_GUARDED_BY(mu_);
  Waiter waiter_ LOCKSTEP_GUARDED_BY(mu_);
};

// Answers still owed by calls (a handler may answer after it returned). The server's
// Drain waits for them: their wake-ups post into the io_context, which must still exist.
// Thread-safe.
class OutstandingAnswers {
 public:
  void Add() { count_.fetch_add(1, std::memory_order_relaxed); }
  void Done() LOCKSTEP_EXCLUDES(mu_);
  // Blocks until none is owed. Handlers answer by their request's deadline, so this ends
  // by the latest deadline handed out (ServerOptions::max_request_timeout).
  void WaitZero() LOCKSTEP_EXCLUDES(mu_);

 private:
  lockstep::Mutex mu_;
  lockstep::CondVar zero_;
  // Atomic: Add/Done stay lock-free; the mutex only orders the last Done with WaitZero.
  std::atomic<int64_t> count_{0};
};

}  // namespace shopd::http
