#pragma once

#include <map>
#include <string>
#include <string_view>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"

namespace lockstep::http_client {

// One parsed HTTP/1.x response. Thread-compatible: const methods may run concurrently.
struct Response {
  int status = 0;
  std::string version;                         // "HTTP/1.1".
  std::map<std::string, std::string> headers;  // Lower-cased names; the last of duplicates.
  std::string body;

  // The value of header `lower_name` (lower-case), or "" if absent.
  std::string Header(const std::string& lower_name) const;
};

// One blocking TCP connection on raw POSIX sockets (non-blocking socket + poll, so every
// call honours its Deadline). It writes bytes as given, well-formed or not, and reads
// Content-Length framed responses; it sets no policy: it never reconnects or closes on its
// own (see Client for that).
//
// Not thread-safe, with one exception: while connected, one thread may Write() while
// another reads (ReadResponse/AwaitClose); they touch disjoint state. Connect() and
// Close() need exclusive access.
class Connection {
 public:
  Connection() = default;
  ~Connection();  // Closes.
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects to host:port (IPv4; a name is resolved), closing any previous connection
  // first. kUnavailable if refused/unresolvable (connect_errno() then tells why),
  // kDeadlineExceeded if `deadline` passes first.
  Status Connect(const std::string& host, int port, const Deadline& deadline);
  bool connected() const { return fd_ >= 0; }
  // errno of the last failed Connect() (0 if it failed without one, e.g. unresolved).
  int connect_errno() const { return connect_errno_; }
  // Bytes received but not consumed by ReadResponse() yet.
  size_t buffered() const { return buffer_.size(); }

  // Sends all of `bytes` (a request, part of one, or garbage). kUnavailable on I/O error
  // or when not connected, kDeadlineExceeded when `deadline` passes first.
  Status Write(std::string_view bytes, const Deadline& deadline);
  // Reads one response (Content-Length framed; no length = empty body); bytes after it stay
  // buffered for the next call. kUnavailable on EOF/I/O error or when not connected,
  // kDeadlineExceeded when `deadline` passes, kInternal on a malformed status line.
  Result<Response> ReadResponse(const Deadline& deadline);
  // Reads and discards until the peer closes. Ok on EOF/reset (or if not connected),
  // kDeadlineExceeded if `deadline` passes first.
  Status AwaitClose(const Deadline& deadline);
  // Closes the socket and drops buffered bytes; idempotent.
  void Close();

 private:
  // Appends what the socket has (waiting up to `deadline`) to buffer_.
  Status ReadMore(const Deadline& deadline);

  int fd_ = -1;
  int connect_errno_ = 0;
  std::string buffer_;  // Read side only.
};

}  // namespace lockstep::http_client
