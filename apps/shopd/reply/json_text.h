#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shopd::reply {

// Hand-written JSON output for bodies on hot paths, byte-identical to what Response::Json
// prints for the same value (nlohmann::json::dump, compact, invalid UTF-8 replaced by
// U+FFFD): clients compare replayed bodies byte for byte, so every writer of a body must
// agree. All functions are thread-safe (pure).

// Appends `v` in decimal.
void AppendJsonInt(std::string& out, int64_t v);

// Appends `s` as a quoted JSON string. Printable ASCII without '"' and '\' is copied as
// is; anything else takes nlohmann's serializer.
void AppendJsonString(std::string& out, std::string_view s);

// {"error":{"code":"<code>","message":"<message>"}}: the API error body (API.md).
std::string ErrorJson(std::string_view code, std::string_view message);

}  // namespace shopd::reply
