#include "reply/json_text.h"

#include <charconv>

#include <nlohmann/json.hpp>

namespace shopd::reply {
namespace {

// Printable ASCII without '"' and '\': serialized as is by nlohmann::json.
bool NeedsNoEscape(std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7F || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace

void AppendJsonInt(std::string& out, int64_t v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}

void AppendJsonString(std::string& out, std::string_view s) {
  if (NeedsNoEscape(s)) {
    out += '"';
    out += s;
    out += '"';
    return;
  }
  out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ErrorJson(std::string_view code, std::string_view message) {
  std::string out;
  out.reserve(32 + code.size() + message.size());
  out += R"({"error":{"code":)";
  AppendJsonString(out, code);
  out += R"(,"message":)";
  AppendJsonString(out, message);
  out += "}}";
  return out;
}

}  // namespace shopd::reply
