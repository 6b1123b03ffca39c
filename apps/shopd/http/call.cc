#include "http/call.h"

#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

#include "lockstep/base/check.h"

namespace shopd::http {
namespace {

using lockstep::Status;

thread_local bool t_io_thread = false;

// Runs `fn`; an exception escaping it is logged and reported as false.
template <typename Fn>
bool RunLoggingExceptions(const Request& request, Fn&& fn) {
  try {
    fn();
    return true;
  } catch (const std::exception& e) {
    spdlog::warn("handler {} {} threw: {} (request {})", MethodName(request.method), request.route, e.what(),
                 request.request_log_id);
  } catch (...) {
    spdlog::warn("handler {} {} threw a non-std exception (request {})", MethodName(request.method), request.route,
                 request.request_log_id);
  }
  return false;
}

}  // namespace

Call::Call(Request request, Responder responder, SubmitToWorker submit, lockstep::resilience::Priority priority)
    : request_(std::move(request)), responder_(std::move(responder)), submit_(std::move(submit)), priority_(priority) {
  LOCKSTEP_CHECK(submit_ != nullptr);
}

bool Call::on_io_thread() { return t_io_thread; }

void Call::MarkIoThread() { t_io_thread = true; }

void Call::Run(const Handler& handler) {
  if (request_.deadline.expired()) {
    Respond(Response::Error(Status::DeadlineExceeded("deadline passed before the request could run")));
    return;
  }
  if (!RunLoggingExceptions(request_, [&] { handler(*this); })) {
    Respond(Response::Error(Status::Internal("internal error")));
  }
}

void Call::ContinueOnWorker(Handler rest) {
  if (!on_io_thread()) {
    Run(rest);
    return;
  }
  // The job holds the call: it outlives the handler that queued it.
  const Status queued =
      submit_([self = shared_from_this(), rest = std::move(rest)] { self->Run(rest); }, priority_, request_.deadline);
  if (!queued.ok()) Respond(Response::Error(queued));
}

}  // namespace shopd::http
