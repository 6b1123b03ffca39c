#include "config/url.h"

#include <charconv>

namespace shopd::config {

lockstep::Result<ServiceUrl> ParseServiceUrl(std::string_view url, std::string_view scheme) {
  using lockstep::Status;
  ServiceUrl out;
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return Status::InvalidArgument("URL must look like ", scheme, "://[user[:password]@]host[:port][/path]");
  }
  out.scheme = std::string(url.substr(0, sep));
  if (out.scheme != scheme) {
    return Status::InvalidArgument("URL scheme must be '", scheme, "', got '", out.scheme, "'");
  }
  std::string_view rest = url.substr(sep + 3);
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) out.path = std::string(rest.substr(slash + 1));
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const size_t colon = userinfo.find(':');
    out.user = std::string(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) {
      out.password = std::string(userinfo.substr(colon + 1));
      out.has_password = true;
    }
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("URL has an unterminated IPv6 host");
    host = authority.substr(0, close + 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::InvalidArgument("URL has garbage after the IPv6 host");
      port = after.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return Status::InvalidArgument("URL has no host");
  out.host = std::string(host);
  if (authority.find(':') != std::string_view::npos || !port.empty()) {
    int p = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535) {
      return Status::InvalidArgument("URL port must be 1..65535");
    }
    out.port = p;
  }
  return out;
}

std::string FormatServiceUrl(const ServiceUrl& url, bool redact) {
  std::string out = url.scheme + "://";
  if (!url.user.empty() || url.has_password) {
    out += url.user;
    if (url.has_password) out += ":" + (redact ? std::string("***") : url.password);
    out += "@";
  }
  out += url.host;
  if (url.port != 0) out += ":" + std::to_string(url.port);
  if (!url.path.empty()) out += "/" + url.path;
  return out;
}

std::string RedactUrl(std::string_view url) {
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return "<invalid url>";
  auto parsed = ParseServiceUrl(url, url.substr(0, sep));
  if (!parsed.ok()) return "<invalid url>";
  return FormatServiceUrl(*parsed, /*redact=*/true);
}

}  // namespace shopd::config
