#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace shopd::http::testing {

// A parsed HTTP/1.x response. Header names are lower-cased.
struct RawResponse {
  int status = 0;
  std::string version;  // "HTTP/1.1"
  std::map<std::string, std::string> headers;
  std::string body;
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// A blocking client connection on raw POSIX sockets, for tests. Every read has a safety
// timeout (default 30 s) so a broken server fails the test instead of hanging it; it is
// never used to synchronise. Not thread-safe.
class TestConnection {
 public:
  // Connects to 127.0.0.1:port; connected() reports failure (e.g. refused).
  explicit TestConnection(uint16_t port, std::chrono::seconds safety_timeout = std::chrono::seconds(30));
  ~TestConnection();
  TestConnection(const TestConnection&) = delete;
  TestConnection& operator=(const TestConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  int connect_errno() const { return connect_errno_; }
  // Sends all of `data`; false on error.
  bool Send(std::string_view data);
  // Reads one response (Content-Length framed); nullopt on EOF/error/timeout.
  std::optional<RawResponse> ReadResponse();
  // Reads until the peer closes: true on EOF/reset, false on safety timeout.
  bool WaitForClose();
  void Close();

 private:
  bool Fill();  // Reads more into buf_; false on EOF/error.
  int fd_ = -1;
  int connect_errno_ = 0;
  std::string buf_;
  bool timed_out_ = false;
};

// One request on a fresh connection: "GET /healthz" etc. `extra_headers` are raw lines
// ("X-Request-Timeout-Ms: 5\r\n").
std::optional<RawResponse> Fetch(uint16_t port, std::string_view method, std::string_view path,
                                 std::string_view body = {}, std::string_view extra_headers = {});

// Builds "METHOD path HTTP/1.1\r\nHost: test\r\n<extra>Content-Length: n\r\n\r\n<body>".
std::string BuildRequest(std::string_view method, std::string_view path, std::string_view body = {},
                         std::string_view extra_headers = {});

// Polls `condition` until true or `limit` passes (awaiting a condition, not sleeping for
// synchronisation). Returns the final value.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::seconds limit = std::chrono::seconds(30));

}  // namespace shopd::http::testing
