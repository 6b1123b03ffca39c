#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "lockstep/base/result.h"

namespace shopd::http {

// Helpers that turn a JSON request body into typed values with 400-ready errors. Every
// error is kInvalidArgument with a message naming the field. All thread-safe (pure).

// Parses `body` as a JSON object. Errors: "malformed JSON body: ...", "JSON body must be
// an object".
lockstep::Result<nlohmann::json> ParseJsonObject(std::string_view body);

// A required integer field in int64 range. Rejects strings ("5"), fractions (1.5),
// booleans, null and out-of-range numbers: "field 'amount' must be a 64-bit integer".
// Missing: "missing field 'amount'". REQUIRES: object.is_object().
lockstep::Result<int64_t> GetInt64(const nlohmann::json& object, std::string_view field);
// Same, but absent (or null) yields nullopt.
lockstep::Result<std::optional<int64_t>> GetOptionalInt64(const nlohmann::json& object, std::string_view field);

// A required string field; rejects any other type.
lockstep::Result<std::string> GetString(const nlohmann::json& object, std::string_view field);
lockstep::Result<std::optional<std::string>> GetOptionalString(const nlohmann::json& object, std::string_view field);

// A required boolean field; rejects 0/1 and "true".
lockstep::Result<bool> GetBool(const nlohmann::json& object, std::string_view field);

// Range check helper: kInvalidArgument "field 'quantity' must be in [1, 1000000]".
lockstep::Status CheckRange(std::string_view field, int64_t value, int64_t min, int64_t max);
// Length check helper for strings (bytes): "field 'owner' must be 1..64 characters".
lockstep::Status CheckLength(std::string_view field, const std::string& value, size_t min, size_t max);

}  // namespace shopd::http
