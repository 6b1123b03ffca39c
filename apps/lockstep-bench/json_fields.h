#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace lockstep::bench {

// Fields of the JSON bodies shopd answers with, read by nlohmann::json's SAX parser: no
// DOM is built, and parsing stops at the field (the checkers read ~30k bodies/s and a DOM
// costs a visible share of the load generator's CPU). Thread-safe (no shared state).

// The scalar (number, string, bool or null) reached from the top-level object through the
// object keys `path`, e.g. {"error", "code"}; nullopt if `text` is not JSON up to there,
// or has no scalar at `path`. REQUIRES: `path` is not empty.
std::optional<nlohmann::json> ScalarAt(std::string_view text, std::initializer_list<std::string_view> path);

// The integer field `key` of a top-level object (a float is truncated); 0 if `body` is not
// JSON or the field is missing or not a number.
int64_t IntField(std::string_view body, std::string_view key);

// The "error.code" of a shopd error body ({"error":{"code":...,"message":...}}); "" if none.
std::string ErrorCode(std::string_view body);

}  // namespace lockstep::bench
