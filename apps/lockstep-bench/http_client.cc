#include "http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace lockstep::bench {
namespace {

int PollMillis(const Deadline& deadline) {
  if (deadline.infinite()) return -1;
  return static_cast<int>(std::min<int64_t>(RemainingMillis(deadline).count(), 60'000));
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string HttpResponse::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

HttpClient::HttpClient(std::string host, int port) : host_(std::move(host)), port_(port) {}
HttpClient::~HttpClient() { Close(); }

void HttpClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

Status HttpClient::Connect(const Deadline& deadline) {
  Close();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  if (::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr) != 1) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    addrinfo* res = nullptr;
    if (::getaddrinfo(host_.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
      return Status::Unavailable("cannot resolve ", host_);
    }
    addr.sin_addr = reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr;
    ::freeaddrinfo(res);
  }
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Status::Unavailable("socket: ", std::strerror(errno));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 && errno != EINPROGRESS) {
    Status s = Status::Unavailable("connect ", host_, ":", port_, ": ", std::strerror(errno));
    Close();
    return s;
  }
  pollfd p{fd_, POLLOUT, 0};
  const int rc = ::poll(&p, 1, PollMillis(deadline));
  if (rc == 0) {
    Close();
    return Status::DeadlineExceeded("connect ", host_, ":", port_, " timed out");
  }
  int err = 0;
  socklen_t len = sizeof(err);
  ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (rc < 0 || err != 0) {
    Status s = Status::Unavailable("connect ", host_, ":", port_, ": ", std::strerror(err != 0 ? err : errno));
    Close();
    return s;
  }
  return Status::Ok();
}

Status HttpClient::WriteAll(std::string_view data, const Deadline& deadline) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return Status::Unavailable("send: ", std::strerror(errno));
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, PollMillis(deadline)) == 0) return Status::DeadlineExceeded("send timed out");
  }
  return Status::Ok();
}

Status HttpClient::ReadMore(const Deadline& deadline) {
  char chunk[16384];
  for (;;) {
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      return Status::Ok();
    }
    if (n == 0) return Status::Unavailable("connection closed by server");
    if (errno != EAGAIN && errno != EINTR) return Status::Unavailable("recv: ", std::strerror(errno));
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, PollMillis(deadline)) == 0) return Status::DeadlineExceeded("response timed out");
  }
}

Result<HttpResponse> HttpClient::Send(std::string_view method, std::string_view target, std::string_view body,
                                      const Deadline& deadline, std::string_view extra_headers) {
  std::string req;
  req.reserve(256 + body.size());
  req.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ").append(host_);
  req.append("\r\nContent-Type: application/json\r\nContent-Length: ").append(std::to_string(body.size()));
  req.append("\r\n").append(extra_headers).append("\r\n").append(body);

  // A keep-alive connection the server closed while idle fails on first read with no bytes:
  // then (and only then) the request was not processed and is resent once on a new one.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = fd_ >= 0;
    if (!reused) LOCKSTEP_RETURN_IF_ERROR(Connect(deadline));
    Status s = WriteAll(req, deadline);
    size_t header_end = std::string::npos;
    while (s.ok() && (header_end = buffer_.find("\r\n\r\n")) == std::string::npos) s = ReadMore(deadline);
    if (!s.ok()) {
      const bool nothing_read = buffer_.empty();
      Close();
      if (reused && nothing_read && s.code() == StatusCode::kUnavailable) continue;
      return s;
    }
    HttpResponse resp;
    const std::string_view head(buffer_.data(), header_end);
    const size_t line_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, line_end);
    if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") {
      Close();
      return Status::Internal("bad status line: ", status_line);
    }
    resp.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
    size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t eol = head.find("\r\n", pos);
      if (eol == std::string_view::npos) eol = head.size();
      const std::string_view line = head.substr(pos, eol - pos);
      const size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        resp.headers[Lower(std::string(line.substr(0, colon)))] = std::string(value);
      }
      pos = eol + 2;
    }
    const size_t length = static_cast<size_t>(std::atoll(resp.Header("content-length").c_str()));
    const size_t body_start = header_end + 4;
    while (s.ok() && buffer_.size() < body_start + length) s = ReadMore(deadline);
    if (!s.ok()) {
      Close();
      return s;
    }
    resp.body = buffer_.substr(body_start, length);
    buffer_.erase(0, body_start + length);
    if (Lower(resp.Header("connection")) == "close") Close();
    return resp;
  }
  return Status::Unavailable("server closed the connection twice");
}

Result<std::pair<std::string, int>> ParseHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) return Status::InvalidArgument("expected http://host:port, got '", url, "'");
  url.remove_prefix(kScheme.size());
  url = url.substr(0, url.find('/'));
  const size_t colon = url.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return Status::InvalidArgument("expected http://host:port");
  const std::string port_text(url.substr(colon + 1));
  if (port_text.empty() || port_text.find_first_not_of("0123456789") != std::string::npos || port_text.size() > 5) {
    return Status::InvalidArgument("bad port '", port_text, "'");
  }
  const int port = std::stoi(port_text);
  if (port <= 0 || port > 65535) return Status::InvalidArgument("port out of range: ", port);
  return std::make_pair(std::string(url.substr(0, colon)), port);
}

}  // namespace lockstep::bench
