// Fuzz target: the hand-written JSON writer (reply/json_text.h) against nlohmann's
// serializer, which it must match byte for byte (replayed bodies are compared byte for
// byte), and the request-body helpers (http/json_body.h) on arbitrary bytes: never a crash,
// every error kInvalidArgument (a 400), every accepted integer in int64 range.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "http/json_body.h"
#include "reply/json_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // 1. The writer equals nlohmann's dump (invalid UTF-8 replaced) and parses back.
  std::string ours;
  shopd::reply::AppendJsonString(ours, text);
  const std::string theirs = nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (ours != theirs) std::abort();
  if (!nlohmann::json::accept(ours)) std::abort();
  const std::string error = shopd::reply::ErrorJson(text, text);
  if (!nlohmann::json::accept(error)) std::abort();

  // 2. The body helpers: any error is kInvalidArgument, never an exception.
  lockstep::Result<nlohmann::json> body = shopd::http::ParseJsonObject(text);
  if (!body.ok()) {
    if (body.status().code() != lockstep::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  for (const char* field : {"amount", "balance", "quantity", "id", "owner", "request_id", "stock_mode", "flag"}) {
    lockstep::Result<int64_t> i = shopd::http::GetInt64(*body, field);
    if (!i.ok() && i.status().code() != lockstep::StatusCode::kInvalidArgument) std::abort();
    lockstep::Result<std::optional<int64_t>> oi = shopd::http::GetOptionalInt64(*body, field);
    if (!oi.ok() && oi.status().code() != lockstep::StatusCode::kInvalidArgument) std::abort();
    lockstep::Result<std::string> s = shopd::http::GetString(*body, field);
    if (!s.ok() && s.status().code() != lockstep::StatusCode::kInvalidArgument) std::abort();
    lockstep::Result<std::optional<std::string>> os = shopd::http::GetOptionalString(*body, field);
    if (!os.ok() && os.status().code() != lockstep::StatusCode::kInvalidArgument) std::abort();
    lockstep::Result<bool> b = shopd::http::GetBool(*body, field);
    if (!b.ok() && b.status().code() != lockstep::StatusCode::kInvalidArgument) std::abort();
  }
  return 0;
}
