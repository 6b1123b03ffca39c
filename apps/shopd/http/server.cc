// The only translation unit that includes Boost.Asio/Beast (compile time on small
// machines; handlers and the router stay free of them).
#include <utility>  // Before any Asio header: Boost 1.74's awaitable.hpp uses std::exchange.

#include "http/server.h"

#include <array>
#include <atomic>
#include <exception>
#include <future>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "http/pending_answer.h"
#include "http/target.h"
#include "http/worker_pool.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/thread_name.h"

namespace shopd::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using boost::system::error_code;
using lockstep::Status;
using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 8192;
// After a 413 the client may still be sending: read and discard for a while before
// closing, or the kernel answers the unread bytes with RST and the client never sees the
// 413 (lingering close, as in Apache/nginx).
constexpr std::chrono::seconds kLingerTimeout{5};
constexpr size_t kLingerMaxBytes = 64 << 20;
constexpr std::string_view kUnmatchedRoute = "unmatched";

struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  // True while the session waits for the first byte of a request. Read and written only
  // on the connection's strand (the session and Drain's posted closer both run there).
  bool idle = false;
};

// Boost 1.74's beast::string_view is boost::string_view: no implicit std conversion.
std::string_view Std(beast::string_view sv) { return std::string_view(sv.data(), sv.size()); }

bool ClientGone(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
         ec == beast::error::timeout || ec == asio::error::broken_pipe || ec == asio::error::bad_descriptor ||
         ec == asio::error::not_connected;
}

bool ValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

// Completes with the call's answer on the awaiting coroutine's executor (its strand),
// never blocking the I/O thread.
template <typename CompletionToken>
auto AsyncAnswer(std::shared_ptr<PendingAnswer> pending, CompletionToken&& token) {
  return asio::async_initiate<CompletionToken, void(Response)>(
      [](auto handler, std::shared_ptr<PendingAnswer> answer) {
        using HandlerType = decltype(handler);
        auto executor = asio::get_associated_executor(handler);
        // std::function needs a copyable callable; the completion handler is move-only.
        auto shared = std::make_shared<HandlerType>(std::move(handler));
        answer->OnReady([shared = std::move(shared), executor = std::move(executor)](Response response) mutable {
          // The post (a mutex inside Asio) orders everything the handler wrote before the
          // coroutine resumes on its strand. The handler and the strand move into the
          // post, so an answer that outlives the server holds nothing of Asio's.
          auto strand = std::move(executor);
          asio::post(strand, [shared = std::move(shared), response = std::move(response)]() mutable {
            (*shared)(std::move(response));
          });
        });
      },
      token, std::move(pending));
}

}  // namespace

class Server::Impl {
 public:
  explicit Impl(ServerOptions options)
      : options_(std::move(options)), ioc_(options_.io_threads), acceptor_(asio::make_strand(ioc_)) {
    std::random_device rd;
    id_prefix_ = fmt::format("{:08x}", static_cast<uint32_t>(rd()));
  }

  ~Impl() { Drain(); }

  Router& router() { return router_; }

  Status Start() {
    if (options_.io_threads <= 0 || options_.worker_threads <= 0 || options_.queue_limit <= 0) {
      return Status::InvalidArgument("io_threads, worker_threads and queue_limit must be > 0");
    }
    error_code ec;
    const asio::ip::address address = asio::ip::make_address(options_.host, ec);
    if (ec) return Status::InvalidArgument("listen host '", options_.host, "' is not an IP address");
    const tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::Unavailable("cannot listen on ", options_.host, ":", options_.port, ": ", ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    if (options_.admission) {
      if (Status s = options_.admission->Validate(); !s.ok()) return s;
    }
    pool_ = std::make_unique<WorkerPool>(
        WorkerPoolOptions{options_.worker_threads, options_.queue_limit, options_.admission});
    work_guard_.emplace(ioc_.get_executor());
    asio::co_spawn(acceptor_.get_executor(), AcceptLoop(), asio::detached);
    for (int i = 0; i < options_.io_threads; ++i) {
      io_threads_.emplace_back([this] {
        lockstep::SetCurrentThreadName("shopd-io");
        RunIo();
      });
    }
    started_.store(true);
    return Status::Ok();
  }

  uint16_t port() const { return port_; }
  bool draining() const { return draining_.load(); }

  StatsSnapshot stats() const {
    StatsSnapshot s;
    if (pool_ != nullptr) s.pool = pool_->stats();
    {
      lockstep::MutexLock lock(&mu_);
      s.open_connections = static_cast<int64_t>(connections_.size());
    }
    s.draining = draining();
    s.routes = request_stats_.Snapshot();
    return s;
  }

  void Drain() {
    lockstep::MutexLock drain_lock(&drain_mu_);
    if (!started_.load() || drained_) return;
    // Sessions check draining_ on their strand before waiting for a next request.
    draining_.store(true);

    // Stop accepting. The acceptor is not thread-safe: close it on its strand.
    std::promise<void> closed;
    asio::post(acceptor_.get_executor(), [this, &closed] {
      error_code ignored;
      acceptor_.close(ignored);
      closed.set_value();
    });
    closed.get_future().wait();

    // Close idle keep-alive connections; busy ones close after their reply.
    std::vector<std::shared_ptr<Connection>> snapshot;
    {
      lockstep::MutexLock lock(&mu_);
      snapshot.assign(connections_.begin(), connections_.end());
    }
    for (const auto& conn : snapshot) {
      asio::post(conn->stream.get_executor(), [conn] {
        if (conn->idle) conn->stream.cancel();
      });
    }
    snapshot.clear();

    const auto deadline = lockstep::Deadline::After(options_.drain_timeout);
    {
      lockstep::MutexLock lock(&mu_);
      while (!connections_.empty()) {
        if (!connections_cv_.WaitUntil(&mu_, deadline) && deadline.expired()) break;
      }
      if (!connections_.empty()) {
        spdlog::warn("drain timeout: closing {} connection(s) with requests still in flight", connections_.size());
      }
    }

    work_guard_.reset();
    ioc_.stop();
    for (std::thread& t : io_threads_) t.join();
    // Handlers still running finish here; their completions post into the stopped
    // io_context and are discarded with it. So do the answers handlers still owe (each
    // by its request's deadline).
    pool_->Shutdown();
    outstanding_.WaitZero();
    {
      lockstep::MutexLock lock(&mu_);
      connections_.clear();
    }
    drained_ = true;
  }

 private:
  void RunIo() {
    Call::MarkIoThread();
    while (true) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("uncaught exception on an I/O thread: {}", e.what());
      }
    }
  }

  awaitable<void> AcceptLoop() {
    while (!draining_.load()) {
      tcp::socket socket(asio::make_strand(ioc_));
      error_code ec;
      co_await acceptor_.async_accept(socket, asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
        // E.g. EMFILE: back off briefly instead of spinning.
        spdlog::warn("accept failed: {}", ec.message());
        asio::steady_timer timer(acceptor_.get_executor(), std::chrono::milliseconds(50));
        co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      auto conn = std::make_shared<Connection>(std::move(socket));
      {
        lockstep::MutexLock lock(&mu_);
        connections_.insert(conn);
      }
      asio::co_spawn(conn->stream.get_executor(), Session(conn), asio::detached);
    }
  }

  awaitable<void> Session(std::shared_ptr<Connection> conn) {
    try {
      co_await Serve(*conn);
    } catch (const std::exception& e) {
      spdlog::warn("connection closed after an exception: {}", e.what());
    }
    error_code ignored;
    conn->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    conn->stream.close();
    {
      lockstep::MutexLock lock(&mu_);
      connections_.erase(conn);
    }
    connections_cv_.SignalAll();
  }

  std::string NextRequestId() {
    // Relaxed: only uniqueness matters, not ordering with other memory.
    return fmt::format("{}-{:x}", id_prefix_, next_request_id_.fetch_add(1, std::memory_order_relaxed));
  }

  awaitable<void> Serve(Connection& c) {
    beast::flat_buffer buffer;
    bool first = true;
    while (true) {
      // Wait for the first byte of the next request under the idle (or, for the first
      // request, the header) timeout. Drain cancels this wait for idle connections.
      if (draining_.load()) co_return;
      error_code ec;
      if (buffer.size() == 0) {
        c.idle = true;
        c.stream.expires_after(first ? options_.header_timeout : options_.idle_timeout);
        const size_t n = co_await c.stream.async_read_some(buffer.prepare(kReadChunk),
                                                           asio::redirect_error(use_awaitable, ec));
        c.idle = false;
        if (ec) co_return;
        buffer.commit(n);
      }
      first = false;

      const Clock::time_point started = Clock::now();
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(std::min<size_t>(options_.header_limit_bytes, UINT32_MAX)));
      parser.body_limit(options_.body_limit_bytes);
      c.stream.expires_after(options_.header_timeout);
      co_await bhttp::async_read_header(c.stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == bhttp::error::body_limit) {
          co_await RejectTooLarge(c, started);
        } else if (!ClientGone(ec)) {
          co_await ReplyAndClose(c, started, ProtocolErrorFor(ec), 11);
        }
        co_return;
      }
      const Clock::time_point header_done = Clock::now();
      const unsigned version = parser.get().version();
      bool keep_alive = false;

      // Request-Id first, so every later reply (even a 400) carries it.
      std::string request_id;
      if (auto it = parser.get().find("X-Request-Id"); it != parser.get().end() && ValidRequestId(Std(it->value()))) {
        request_id = std::string(Std(it->value()));
      } else {
        request_id = NextRequestId();
      }

      // Route as soon as the header is here, so a gate (rate limits) can refuse the request
      // before its body is read.
      Request request;
      const Method method = ParseMethod(Std(parser.get().method_string()));
      request.method = method;
      request.target = std::string(Std(parser.get().target()));
      request.request_log_id = request_id;
      for (const auto& field : parser.get()) {
        request.headers.Add(std::string(Std(field.name_string())), std::string(Std(field.value())));
      }
      const std::string target_text = request.target;
      std::optional<Response> response;  // Set once the answer is known without a handler.
      const Route* matched = nullptr;
      std::string route(kUnmatchedRoute);
      auto target = ParseTarget(request.target);
      auto timeout = RequestTimeoutFromHeader(request.headers.Get(kRequestTimeoutHeader),
                                              options_.default_request_timeout, options_.max_request_timeout);
      if (!target.ok()) {
        response = Response::Error(target.status());
      } else if (!timeout.ok()) {
        response = Response::Error(timeout.status());
      } else {
        request.path = std::move(target->path);
        request.query = std::move(target->query);
        request.deadline = lockstep::Deadline::At(header_done + *timeout);
        RouteMatch match = router_.Match(request.method, request.path);
        if (match.kind != RouteMatch::Kind::kFound) {
          response = Router::MismatchResponse(match, request.method, request.path);
        } else {
          matched = match.route;
          route = matched->pattern;
          request.route = route;
          request.path_params = std::move(match.path_params);
        }
      }
      const bool expects_continue = [&] {
        auto expect = parser.get().find(bhttp::field::expect);
        return expect != parser.get().end() && beast::iequals(expect->value(), "100-continue");
      }();

      if (matched != nullptr && options_.gate != nullptr && !matched->options.limit_group.empty()) {
        Response verdict = co_await Gate(matched->options.limit_group, request);
        if (!IsGatePass(verdict)) {
          // Refused from the header alone: answer now, then read and discard the body to
          // keep the connection (a client waiting for 100-continue sends none: close).
          const bool body_pending = !parser.is_done();
          keep_alive = parser.keep_alive() && !draining_.load() && !(body_pending && expects_continue);
          Finish(method, target_text, route, verdict.status, started, request_id);
          const bool written = co_await Write(c, std::move(verdict), version, keep_alive, request_id);
          if (!written || !keep_alive) co_return;
          if (body_pending) {
            c.stream.expires_after(options_.body_timeout);
            co_await bhttp::async_read(c.stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
            if (ec) co_return;
          }
          continue;
        }
      }

      if (expects_continue && !parser.is_done()) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, version};
        c.stream.expires_after(options_.write_timeout);
        co_await bhttp::async_write(c.stream, cont, asio::redirect_error(use_awaitable, ec));
        if (ec) co_return;
      }
      c.stream.expires_after(options_.body_timeout);
      co_await bhttp::async_read(c.stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == bhttp::error::body_limit) {
          co_await RejectTooLarge(c, started, request_id);
        } else if (!ClientGone(ec)) {
          co_await ReplyAndClose(c, started, ProtocolErrorFor(ec), version, request_id);
        }
        co_return;
      }
      keep_alive = parser.keep_alive();
      request.body = std::move(parser.get().body());
      if (!response) response = co_await Dispatch(*matched, std::move(request));

      keep_alive = keep_alive && !draining_.load();
      // Recorded before the write, so a client that saw the reply also sees it in /metrics.
      Finish(method, target_text, route, response->status, started, request_id);
      const bool written = co_await Write(c, std::move(*response), version, keep_alive, request_id);
      if (!written || !keep_alive) co_return;
    }
  }

  // Runs the route's handler — on this I/O thread or on a worker, as the route declares —
  // and awaits its answer.
  awaitable<Response> Dispatch(const Route& route, Request request) {
    auto pending = std::make_shared<PendingAnswer>(outstanding_);
    Responder responder([pending](Response response) { pending->Deliver(std::move(response)); });
    Call::SubmitToWorker submit = [this](std::function<void()> job, lockstep::resilience::Priority priority,
                                         const lockstep::Deadline& deadline) {
      return pool_->TrySubmit(std::move(job), priority, deadline);
    };
    const lockstep::Deadline deadline = request.deadline;
    auto call = std::make_shared<Call>(std::move(request), std::move(responder), std::move(submit),
                                       route.options.priority);
    if (route.options.starts_on_io_thread) {
      call->Run(route.handler);
    } else {
      const Handler* handler = &route.handler;  // Routes are frozen once the server runs.
      const Status queued = pool_->TrySubmit([call, handler] { call->Run(*handler); }, route.options.priority, deadline);
      if (!queued.ok()) call->Respond(Response::Error(queued));
    }
    call.reset();  // A worker job or a continuation holds its own reference.
    if (std::optional<Response> ready = pending->Take()) co_return std::move(*ready);
    Response answer = co_await AsyncAnswer(std::move(pending), use_awaitable);
    co_return answer;
  }

  // Asks the gate about a request whose header was read, and awaits its verdict.
  awaitable<Response> Gate(std::string_view group, const Request& request) {
    auto pending = std::make_shared<PendingAnswer>(outstanding_);
    Responder verdict([pending](Response response) { pending->Deliver(std::move(response)); });
    options_.gate->Check(GateRequest{group, request.headers, request.deadline}, std::move(verdict));
    if (std::optional<Response> ready = pending->Take()) co_return std::move(*ready);
    Response answer = co_await AsyncAnswer(std::move(pending), use_awaitable);
    co_return answer;
  }

  static Response ProtocolErrorFor(const error_code& ec) {
    if (ec == bhttp::error::header_limit) {
      return Response::Error(Status::InvalidArgument("request header too large"));
    }
    return Response::Error(Status::InvalidArgument("malformed HTTP request: ", ec.message()));
  }

  awaitable<void> RejectTooLarge(Connection& c, Clock::time_point started, std::string request_id = {}) {
    if (request_id.empty()) request_id = NextRequestId();
    Response r = Response::ProtocolError(
        413, "payload_too_large", fmt::format("request body exceeds the limit of {} bytes", options_.body_limit_bytes));
    co_await ReplyAndClose(c, started, std::move(r), 11, request_id);
    // Lingering close: discard what the client is still sending, until it stops or a bound.
    error_code ec;
    c.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    c.stream.expires_after(kLingerTimeout);
    std::array<char, 16384> sink;
    size_t total = 0;
    while (!ec && total < kLingerMaxBytes) {
      total += co_await c.stream.async_read_some(asio::buffer(sink), asio::redirect_error(use_awaitable, ec));
    }
  }

  awaitable<void> ReplyAndClose(Connection& c, Clock::time_point started, Response response, unsigned version,
                                std::string request_id = {}) {
    if (request_id.empty()) request_id = NextRequestId();
    Finish(Method::kOther, "-", std::string(kUnmatchedRoute), response.status, started, request_id);
    co_await Write(c, std::move(response), version, /*keep_alive=*/false, request_id);
  }

  awaitable<bool> Write(Connection& c, Response response, unsigned version, bool keep_alive,
                        const std::string& request_id) {
    bhttp::response<bhttp::string_body> res;
    res.version(version);
    res.result(static_cast<unsigned>(response.status));
    for (const auto& [name, value] : response.headers.fields()) res.insert(beast::string_view(name.data(), name.size()), value);
    if (!response.headers.Has("Content-Type")) res.set(bhttp::field::content_type, std::string(kJsonContentType));
    res.set("X-Request-Id", request_id);
    res.keep_alive(keep_alive);
    res.body() = std::move(response.body);
    res.prepare_payload();
    error_code ec;
    c.stream.expires_after(options_.write_timeout);
    co_await bhttp::async_write(c.stream, res, asio::redirect_error(use_awaitable, ec));
    co_return !ec;
  }

  void Finish(Method method, const std::string& target, const std::string& route, int status,
              Clock::time_point started, const std::string& request_id) {
    const auto latency = Clock::now() - started;
    request_stats_.Record(method, route, status, latency);
    const double ms = std::chrono::duration<double, std::milli>(latency).count();
    if (status >= 500) {
      spdlog::warn("{} {} -> {} in {:.3f} ms (request {})", MethodName(method), target, status, ms, request_id);
    } else {
      spdlog::debug("{} {} -> {} in {:.3f} ms (request {})", MethodName(method), target, status, ms, request_id);
    }
  }

  const ServerOptions options_;
  Router router_;  // Frozen once Start() ran.
  asio::io_context ioc_;
  tcp::acceptor acceptor_;  // Used only on its strand after Start().
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_guard_;
  std::vector<std::thread> io_threads_;
  std::unique_ptr<WorkerPool> pool_;  // Set in Start(); destroyed before ioc_.
  OutstandingAnswers outstanding_;
  RequestStats request_stats_;
  uint16_t port_ = 0;  // Written in Start() before the threads exist.
  std::string id_prefix_;
  // Atomic: only a unique counter.
  std::atomic<uint64_t> next_request_id_{1};
  // Atomic: read on every strand without a lock; a stale false is harmless because Drain
  // re-checks each connection on its strand after setting it.
  std::atomic<bool> draining_{false};
  // Atomic: stats()/Drain() may race with Start() in misuse; cheap to make it exact.
  std::atomic<bool> started_{false};

  mutable lockstep::Mutex mu_;
  lockstep::CondVar connections_cv_;  // Signalled when a connection closes.
  std::set<std::shared_ptr<Connection>> connections_ LOCKSTEP_GUARDED_BY(mu_);

  lockstep::Mutex drain_mu_;  // Serializes Drain(); held for its whole duration.
  bool drained_ LOCKSTEP_GUARDED_BY(drain_mu_) = false;
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Server::~Server() = default;
Router& Server::router() { return impl_->router(); }
lockstep::Status Server::Start() { return impl_->Start(); }
uint16_t Server::port() const { return impl_->port(); }
bool Server::draining() const { return impl_->draining(); }
void Server::Drain() { impl_->Drain(); }
StatsSnapshot Server::stats() const { return impl_->stats(); }

}  // namespace shopd::http
