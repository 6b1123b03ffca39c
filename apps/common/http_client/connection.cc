#include "http_client/connection.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace lockstep::http_client {
namespace {

// Waits until `fd` is ready for `events`. kDeadlineExceeded once `deadline` has passed;
// poll's own timeout is capped, so a long deadline is re-checked rather than trusted.
Status AwaitReady(int fd, short events, const Deadline& deadline, const char* what) {
  for (;;) {
    const int millis =
        deadline.infinite() ? -1 : static_cast<int>(RemainingMillis(deadline, std::chrono::seconds(60)).count());
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, millis);
    if (rc > 0) return Status::Ok();
    if (rc < 0 && errno != EINTR) return Status::Unavailable("poll: ", std::strerror(errno));
    if (rc == 0 && deadline.expired()) return Status::DeadlineExceeded(what, " timed out");
  }
}

}  // namespace

std::string Response::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

Connection::~Connection() { Close(); }

void Connection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

Status Connection::Connect(const std::string& host, int port, const Deadline& deadline) {
  Close();
  connect_errno_ = 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    addrinfo* res = nullptr;
    if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
      return Status::Unavailable("cannot resolve ", host);
    }
    addr.sin_addr = reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr;
    ::freeaddrinfo(res);
  }
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    connect_errno_ = errno;
    return Status::Unavailable("socket: ", std::strerror(connect_errno_));
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int err = 0;
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS) {
      err = errno;
    } else if (Status ready = AwaitReady(fd_, POLLOUT, deadline, "connect"); !ready.ok()) {
      Close();
      if (ready.code() != StatusCode::kDeadlineExceeded) return ready;
      return Status::DeadlineExceeded("connect ", host, ":", port, " timed out");
    } else {
      socklen_t len = sizeof(err);
      if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    }
  }
  if (err != 0) {
    connect_errno_ = err;
    Close();
    return Status::Unavailable("connect ", host, ":", port, ": ", std::strerror(err));
  }
  return Status::Ok();
}

Status Connection::Write(std::string_view bytes, const Deadline& deadline) {
  if (fd_ < 0) return Status::Unavailable("not connected");
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return Status::Unavailable("send: ", std::strerror(errno));
    LOCKSTEP_RETURN_IF_ERROR(AwaitReady(fd_, POLLOUT, deadline, "send"));
  }
  return Status::Ok();
}

Status Connection::ReadMore(const Deadline& deadline) {
  if (fd_ < 0) return Status::Unavailable("not connected");
  char chunk[16384];
  for (;;) {
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      return Status::Ok();
    }
    if (n == 0) return Status::Unavailable("connection closed by server");
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return Status::Unavailable("recv: ", std::strerror(errno));
    LOCKSTEP_RETURN_IF_ERROR(AwaitReady(fd_, POLLIN, deadline, "response"));
  }
}

Result<Response> Connection::ReadResponse(const Deadline& deadline) {
  size_t header_end;
  while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    LOCKSTEP_RETURN_IF_ERROR(ReadMore(deadline));
  }
  Response resp;
  const std::string_view head(buffer_.data(), header_end);
  const size_t line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" || status_line[8] != ' ') {
    return Status::Internal("bad status line: ", status_line);
  }
  resp.version = std::string(status_line.substr(0, 8));
  resp.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = head.size();
    const std::string_view line = head.substr(pos, eol - pos);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name(line.substr(0, colon));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      resp.headers.insert_or_assign(std::move(name), std::string(value));
    }
    pos = eol + 2;
  }
  size_t length = 0;
  if (auto it = resp.headers.find("content-length"); it != resp.headers.end()) {
    length = static_cast<size_t>(std::strtoull(it->second.c_str(), nullptr, 10));
  }
  const size_t body_start = header_end + 4;
  while (buffer_.size() < body_start + length) LOCKSTEP_RETURN_IF_ERROR(ReadMore(deadline));
  resp.body.assign(buffer_, body_start, length);
  buffer_.erase(0, body_start + length);
  return resp;
}

Status Connection::AwaitClose(const Deadline& deadline) {
  if (fd_ < 0) return Status::Ok();
  for (;;) {
    const Status s = ReadMore(deadline);
    if (s.code() == StatusCode::kDeadlineExceeded) return s;
    if (!s.ok()) return Status::Ok();  // EOF or reset: closed.
    buffer_.clear();
  }
}

}  // namespace lockstep::http_client
