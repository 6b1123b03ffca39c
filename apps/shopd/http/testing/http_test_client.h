#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "http_client/connection.h"
#include "lockstep/base/deadline.h"

namespace shopd::http::testing {

// A parsed HTTP/1.x response (the shared client's). Header names are lower-cased.
using RawResponse = lockstep::http_client::Response;

// A test's client connection to 127.0.0.1: a thin layer over the shared
// lockstep::http_client::Connection that turns its Status results into the bool/optional
// results gtest assertions want. Every call gets a safety deadline (default 30 s from the
// call) so a broken server fails the test instead of hanging it; it is never used to
// synchronise. Not thread-safe, except that one thread may Send() while another reads
// (ReadResponse/WaitForClose), as Connection allows.
class TestConnection {
 public:
  // Connects to 127.0.0.1:port; connected() reports failure (e.g. refused).
  explicit TestConnection(uint16_t port, std::chrono::seconds safety_timeout = std::chrono::seconds(30));
  TestConnection(const TestConnection&) = delete;
  TestConnection& operator=(const TestConnection&) = delete;

  bool connected() const { return connection_.connected(); }
  // errno of the failed connect (ECONNREFUSED, ...), 0 if connected.
  int connect_errno() const { return connection_.connect_errno(); }
  // Sends all of `data`, raw (malformed or partial requests too); false on error.
  bool Send(std::string_view data);
  // Reads one response (Content-Length framed); nullopt on EOF/error/timeout.
  std::optional<RawResponse> ReadResponse();
  // Reads until the peer closes: true on EOF/reset, false on safety timeout.
  bool WaitForClose();
  void Close() { connection_.Close(); }
  // The shared connection itself, for calls with a deadline of the test's choosing.
  lockstep::http_client::Connection& connection() { return connection_; }

 private:
  lockstep::Deadline SafetyDeadline() const { return lockstep::Deadline::After(safety_timeout_); }

  const std::chrono::seconds safety_timeout_;
  lockstep::http_client::Connection connection_;
};

// One request on a fresh connection: "GET /healthz" etc. `extra_headers` are raw lines
// ("X-Request-Timeout-Ms: 5\r\n"). Thread-safe.
std::optional<RawResponse> Fetch(uint16_t port, std::string_view method, std::string_view path,
                                 std::string_view body = {}, std::string_view extra_headers = {});

// Builds "METHOD path HTTP/1.1\r\nHost: test\r\n<extra>Content-Length: n\r\n\r\n<body>"
// (Content-Length only with a body or for POST/PUT). Thread-safe.
std::string BuildRequest(std::string_view method, std::string_view path, std::string_view body = {},
                         std::string_view extra_headers = {});

// Polls `condition` until true or `limit` passes (awaiting a condition, not sleeping for
// synchronisation). Returns the final value. Thread-safe if `condition` is.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::seconds limit = std::chrono::seconds(30));

}  // namespace shopd::http::testing
