#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "http/request_gate.h"
#include "http/request_timeout.h"
#include "http/router.h"
#include "http/stats.h"
#include "lockstep/base/status.h"
#include "lockstep/resilience/admission_controller.h"

namespace shopd::http {

struct ServerOptions {
  // IP literal to bind ("127.0.0.1", "::1", "0.0.0.0"). Default 127.0.0.1.
  std::string host = "127.0.0.1";
  // TCP port; 0 = an ephemeral port (read it back with Server::port()). Default 8080.
  uint16_t port = 8080;
  // Threads running the io_context (accept, parse, write, inline handlers). > 0. Default 2.
  int io_threads = 2;
  // Worker threads running (blocking) handlers. > 0. Default 64.
  int worker_threads = 64;
  // Requests that may wait for a worker; beyond it requests get 503 + Retry-After at
  // once. > 0. Default 1024.
  int queue_limit = 1024;
  // Largest accepted request body; larger -> 413 payload_too_large and close. Default 1 MiB.
  size_t body_limit_bytes = 1 << 20;
  // Largest request line + header fields; larger -> 400 and close. Default 16 KiB.
  size_t header_limit_bytes = 16 << 10;
  // Time a request's header may take once its first byte arrived (also the wait for the
  // first byte of a connection's first request): slowloris protection. Default 10 s.
  std::chrono::milliseconds header_timeout{10'000};
  // Time an idle keep-alive connection may wait for its next request. Default 60 s.
  std::chrono::milliseconds idle_timeout{60'000};
  // Time to receive a request body once the header arrived. Default 30 s.
  std::chrono::milliseconds body_timeout{30'000};
  // Time to write a response. Default 30 s.
  std::chrono::milliseconds write_timeout{30'000};
  // Deadline given to a request without X-Request-Timeout-Ms, and the cap for one with it.
  std::chrono::milliseconds default_request_timeout = kDefaultRequestTimeout;
  std::chrono::milliseconds max_request_timeout = kMaxRequestTimeout;
  // How long Drain() waits for in-flight requests before closing what is left. Default 10 s.
  std::chrono::milliseconds drain_timeout{10'000};
  // Load shedding in front of the worker pool (WorkerPoolOptions::admission): a request
  // that would only wait is answered 503 unavailable (reason "overloaded", Retry-After) at
  // once. Default unset (only queue_limit sheds).
  std::optional<lockstep::resilience::AdmissionOptions> admission = std::nullopt;
  // Asked, once a request's header is read and its route has a limit_group, whether the
  // request goes on (request_gate.h); a refusal is answered without reading the body
  // first. Default none: nothing is gated.
  std::shared_ptr<RequestGate> gate = nullptr;
};

// The HTTP/1.1 server (Boost.Beast hidden behind a pimpl; handlers never see it).
//
// Each connection is a coroutine on a strand of one io_context run by `io_threads`
// threads; keep-alive and HTTP/1.0 are supported. A matched route's handler (call.h) runs
// on the bounded WorkerPool, or starts on the I/O thread if the route says so and
// continues on the pool for what would block; the connection awaits the answer without
// blocking its I/O thread, and the reply is written once the handler answered (the server
// never times out a running handler). A request whose deadline passed while it was queued
// gets 504 without running; with `admission`, one that would only wait gets 503 at once.
// With a `gate`, a request of a route with a limit_group is routed as soon as its header
// is read and may be refused (429) before its body is read: the answer is written at once,
// then the body is read and discarded to keep the connection (closed instead when the
// client waits for 100-continue).
// Every response carries Content-Type (application/json unless the handler set one) and
// X-Request-Id (the client's, if 1..128 visible ASCII characters, else generated).
//
// Thread-safety: router() is for setup before Start(), from one thread. After Start(),
// every method is thread-safe.
class Server {
 public:
  explicit Server(ServerOptions options);
  // Drain() if started and not yet drained.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The routes. REQUIRES: Start() not called yet.
  Router& router();

  // Binds, listens and starts the I/O and worker threads. kInvalidArgument for a host
  // that is not an IP literal or bad options, kUnavailable if binding fails (port in
  // use). REQUIRES: called once.
  lockstep::Status Start();

  // The bound port (the real one when ServerOptions::port was 0). REQUIRES: Start() OK.
  uint16_t port() const;

  // True from the moment Drain() begins. /readyz answers 503 then.
  bool draining() const;

  // Stops accepting (new connections are refused), closes idle keep-alive connections,
  // lets in-flight requests finish (their replies carry Connection: close) for up to
  // drain_timeout, then closes whatever is left and stops all threads. Blocks until done,
  // which includes every answer a handler still owes (each is due by its
  // request's deadline; after the timeout it is discarded, not sent). Idempotent;
  // concurrent callers all wait.
  void Drain();

  // Pool, connection and per-route counters now.
  StatsSnapshot stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shopd::http
