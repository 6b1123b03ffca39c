#include "http_client/client.h"

#include <cctype>
#include <charconv>
#include <string>

namespace lockstep::http_client {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

}  // namespace

Client::Client(std::string host, int port) : host_(std::move(host)), port_(port) {}

Result<Response> Client::Send(std::string_view method, std::string_view target, std::string_view body,
                              const Deadline& deadline, std::string_view extra_headers) {
  char length[24];
  const auto [length_end, ec] = std::to_chars(length, length + sizeof(length), body.size());
  (void)ec;  // 24 digits hold any size_t.
  request_.clear();
  request_.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ").append(host_);
  request_.append("\r\nContent-Type: application/json\r\nContent-Length: ").append(length, length_end);
  request_.append("\r\n").append(extra_headers).append("\r\n").append(body);

  // A keep-alive connection the server closed while idle fails on first read with no bytes:
  // then (and only then) the request was not processed and is resent once on a new one.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = connection_.connected();
    if (!reused) LOCKSTEP_RETURN_IF_ERROR(connection_.Connect(host_, port_, deadline));
    Status s = connection_.Write(request_, deadline);
    Result<Response> resp = s.ok() ? connection_.ReadResponse(deadline) : Result<Response>(s);
    if (!resp.ok()) {
      const bool nothing_read = connection_.buffered() == 0;
      connection_.Close();
      if (reused && nothing_read && resp.status().code() == StatusCode::kUnavailable) continue;
      return resp;
    }
    const auto connection = resp->headers.find("connection");
    if (connection != resp->headers.end() && EqualsIgnoreCase(connection->second, "close")) connection_.Close();
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

}  // namespace lockstep::http_client
