#pragma once

#include <functional>
#include <memory>

#include "http/request.h"
#include "http/responder.h"
#include "http/response.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/status.h"
#include "lockstep/resilience/admission_controller.h"

namespace shopd::http {

class Call;

// The one handler shape. A handler answers its call through Call::Respond — before it
// returns, or later from any thread (it may hand call.responder() to whatever completes
// the work, e.g. a batch executor), so no thread waits for a slow dependency unless the
// handler chooses to block. It must make sure an answer comes by request().deadline
// (504 Response::Error(Status::DeadlineExceeded(...)) included): the server never cuts a
// running handler short, so a 504 never races a commit. An exception escaping it answers
// 500 unless it answered already; a call nobody answers is answered 500 when the last
// reference to it goes.
//
// Where it runs: on a worker thread, where blocking calls (MariaDB, Redis) are allowed,
// unless its route declares `starts_on_io_thread` (router.h). Then it runs on the I/O
// thread that read the request, must never block there, and calls ContinueOnWorker for
// the part that would.
using Handler = std::function<void(Call&)>;

// One request being handled, from the route's match until its answer. The server creates
// it and hands it to the route's Handler; continuations (ContinueOnWorker) keep it alive.
// Thread-compatible: one thread at a time runs the handler or a continuation of it (a
// handler that called ContinueOnWorker must not touch the call again); Respond and copies
// of responder() are thread-safe.
class Call : public std::enable_shared_from_this<Call> {
 public:
  // Queues a job on the server's worker pool, or refuses it at once (kUnavailable: queue
  // full or load shed; the job is dropped). Called from I/O threads.
  using SubmitToWorker =
      std::function<lockstep::Status(std::function<void()>, lockstep::resilience::Priority, const lockstep::Deadline&)>;

  // For the server (and tests). `priority`: the route's, for load shedding. REQUIRES:
  // submit is set; the call is owned by a shared_ptr.
  Call(Request request, Responder responder, SubmitToWorker submit,
       lockstep::resilience::Priority priority = lockstep::resilience::Priority::kNormal);

  Request& request() { return request_; }
  const Request& request() const { return request_; }

  // Answers the request unless it was answered already; true if this call answered.
  bool Respond(Response response) const { return responder_(std::move(response)); }
  // The answering end, to copy into a completion that runs after the handler returned.
  const Responder& responder() const { return responder_; }

  // True on the server's I/O threads, where blocking is forbidden.
  static bool on_io_thread();

  // Runs `rest` where it may block: now if this thread is a worker, else queued on the
  // worker pool. Queue full or load shed: answers 503 unavailable (Retry-After) at once and
  // drops `rest`. The call's deadline passed before `rest` could start: answers 504
  // without running it.
  void ContinueOnWorker(Handler rest);

  // For the server: runs `handler` on this thread with the rules above (deadline already
  // passed: 504 without running it; exception: 500 unless answered; logs the exception).
  void Run(const Handler& handler);

  // For the server: marks the calling thread an I/O thread for on_io_thread().
  static void MarkIoThread();

 private:
  Request request_;
  const Responder responder_;
  const SubmitToWorker submit_;
  const lockstep::resilience::Priority priority_;
};

}  // namespace shopd::http
