#include "http/testing/http_test_client.h"

#include <thread>

namespace shopd::http::testing {

TestConnection::TestConnection(uint16_t port, std::chrono::seconds safety_timeout) : safety_timeout_(safety_timeout) {
  // A failure shows in connected()/connect_errno(); tests assert on those.
  (void)connection_.Connect("127.0.0.1", port, SafetyDeadline());
}

bool TestConnection::Send(std::string_view data) { return connection_.Write(data, SafetyDeadline()).ok(); }

std::optional<RawResponse> TestConnection::ReadResponse() {
  auto r = connection_.ReadResponse(SafetyDeadline());
  if (!r.ok()) return std::nullopt;
  return std::move(*r);
}

bool TestConnection::WaitForClose() { return connection_.AwaitClose(SafetyDeadline()).ok(); }

std::string BuildRequest(std::string_view method, std::string_view path, std::string_view body,
                         std::string_view extra_headers) {
  std::string out;
  out.append(method).append(" ").append(path).append(" HTTP/1.1\r\nHost: test\r\n");
  out.append(extra_headers);
  if (!body.empty() || method == "POST" || method == "PUT") {
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  out.append("\r\n").append(body);
  return out;
}

std::optional<RawResponse> Fetch(uint16_t port, std::string_view method, std::string_view path, std::string_view body,
                                 std::string_view extra_headers) {
  TestConnection c(port);
  if (!c.connected() || !c.Send(BuildRequest(method, path, body, extra_headers))) return std::nullopt;
  return c.ReadResponse();
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::seconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > end) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace shopd::http::testing
