#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"

namespace lockstep::bench {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // Lower-cased names.
  std::string body;

  // Header value or "" (name lower-case).
  std::string Header(const std::string& name) const;
};

// A blocking HTTP/1.1 client over one keep-alive TCP connection to host:port. Reconnects
// transparently when the server closed an idle connection before the request was sent.
// Not thread-safe: one per load-generating thread.
class HttpClient {
 public:
  HttpClient(std::string host, int port);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and reads the whole response. `extra_headers` are raw
  // "Name: value\r\n" lines. kUnavailable on connect/I/O errors, kDeadlineExceeded when
  // `deadline` passes (the connection is then closed).
  Result<HttpResponse> Send(std::string_view method, std::string_view target, std::string_view body,
                            const Deadline& deadline, std::string_view extra_headers = {});

 private:
  Status Connect(const Deadline& deadline);
  void Close();
  Status WriteAll(std::string_view data, const Deadline& deadline);
  Status ReadMore(const Deadline& deadline);

  std::string host_;
  int port_;
  int fd_ = -1;
  std::string buffer_;  // Bytes read but not consumed yet.
};

// Parses "http://host:port" (path ignored). kInvalidArgument on anything else.
Result<std::pair<std::string, int>> ParseHttpUrl(std::string_view url);

}  // namespace lockstep::bench
