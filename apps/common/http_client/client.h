#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "http_client/connection.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"

namespace lockstep::http_client {

// A blocking HTTP/1.1 client over one keep-alive Connection to host:port, built for load
// generation: after warm-up a request allocates nothing but the Response it returns.
// Connects lazily, and reconnects transparently when the server closed an idle connection
// before the request was sent. Not thread-safe: one per load-generating thread.
class Client {
 public:
  Client(std::string host, int port);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request (with "Content-Type: application/json" and a Content-Length) and
  // reads the whole response. `extra_headers` are raw "Name: value\r\n" lines.
  // kUnavailable on connect/I/O errors, kDeadlineExceeded when `deadline` passes,
  // kInternal on a malformed response; after any error the connection is closed.
  // A "Connection: close" response closes it too.
  Result<Response> Send(std::string_view method, std::string_view target, std::string_view body,
                        const Deadline& deadline, std::string_view extra_headers = {});

 private:
  std::string host_;
  int port_;
  Connection connection_;
  std::string request_;  // Reused for every request: keeps its capacity.
};

// Parses "http://host:port" (path ignored). kInvalidArgument on anything else. Thread-safe.
Result<std::pair<std::string, int>> ParseHttpUrl(std::string_view url);

}  // namespace lockstep::http_client
