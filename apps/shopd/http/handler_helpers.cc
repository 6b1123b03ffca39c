#include "http/handler_helpers.h"

#include <charconv>

namespace shopd::http {

std::optional<int64_t> ParseInt64Strict(std::string_view text) {
  std::string_view digits = text;
  if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

lockstep::Result<int64_t> PathInt64(const Request& request, std::string_view name) {
  const auto raw = request.path_params.Get(name);
  if (!raw) return lockstep::Status::InvalidArgument("missing path parameter '", name, "'");
  const auto value = ParseInt64Strict(*raw);
  if (!value) return lockstep::Status::InvalidArgument("path parameter '", name, "' must be a 64-bit integer");
  return *value;
}

lockstep::Result<std::string> RequiredQuery(const Request& request, std::string_view name) {
  const auto raw = request.query.Get(name);
  if (!raw || raw->empty()) return lockstep::Status::InvalidArgument("missing query parameter '", name, "'");
  return std::string(*raw);
}

lockstep::Result<std::optional<int64_t>> OptionalQueryInt64(const Request& request, std::string_view name) {
  const auto raw = request.query.Get(name);
  if (!raw) return std::optional<int64_t>();
  const std::optional<int64_t> value = ParseInt64Strict(*raw);
  if (!value) return lockstep::Status::InvalidArgument("query parameter '", name, "' must be an integer");
  return value;
}

Handler ResultHandler(std::function<lockstep::Result<Response>(Request&)> fn) {
  return [fn = std::move(fn)](Call& call) {
    lockstep::Result<Response> result = fn(call.request());
    call.Respond(result.ok() ? std::move(result).value() : Response::Error(result.status()));
  };
}

}  // namespace shopd::http
