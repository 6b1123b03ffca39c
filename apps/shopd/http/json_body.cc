#include "http/json_body.h"

#include <limits>

namespace shopd::http {
namespace {
using lockstep::Status;
using nlohmann::json;

const json* Find(const json& object, std::string_view field) {
  const auto it = object.find(field);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

lockstep::Result<int64_t> ToInt64(const json& v, std::string_view field) {
  // nlohmann stores 0..UINT64_MAX as unsigned, negatives as signed, and anything beyond
  // (or with a fraction/exponent) as a float: only the first two can be int64.
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Status::InvalidArgument("field '", field, "' is out of the 64-bit integer range");
    }
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  return Status::InvalidArgument("field '", field, "' must be a 64-bit integer");
}
}  // namespace

lockstep::Result<json> ParseJsonObject(std::string_view body) {
  json parsed;
  try {
    parsed = json::parse(body);
  } catch (const json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ...".
    const std::string_view what = e.what();
    const size_t pos = what.find("] ");
    return Status::InvalidArgument("malformed JSON body: ", pos == std::string_view::npos ? what : what.substr(pos + 2));
  } catch (const std::exception& e) {
    return Status::InvalidArgument("malformed JSON body: ", e.what());
  }
  if (!parsed.is_object()) return Status::InvalidArgument("JSON body must be an object");
  return parsed;
}

lockstep::Result<int64_t> GetInt64(const json& object, std::string_view field) {
  const json* v = Find(object, field);
  if (v == nullptr) return Status::InvalidArgument("missing field '", field, "'");
  return ToInt64(*v, field);
}

lockstep::Result<std::optional<int64_t>> GetOptionalInt64(const json& object, std::string_view field) {
  const json* v = Find(object, field);
  if (v == nullptr) return std::optional<int64_t>();
  LOCKSTEP_ASSIGN_OR_RETURN(int64_t value, ToInt64(*v, field));
  return std::optional<int64_t>(value);
}

lockstep::Result<std::string> GetString(const json& object, std::string_view field) {
  const json* v = Find(object, field);
  if (v == nullptr) return Status::InvalidArgument("missing field '", field, "'");
  if (!v->is_string()) return Status::InvalidArgument("field '", field, "' must be a string");
  return v->get<std::string>();
}

lockstep::Result<std::optional<std::string>> GetOptionalString(const json& object, std::string_view field) {
  const json* v = Find(object, field);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return Status::InvalidArgument("field '", field, "' must be a string");
  return std::optional<std::string>(v->get<std::string>());
}

lockstep::Result<bool> GetBool(const json& object, std::string_view field) {
  const json* v = Find(object, field);
  if (v == nullptr) return Status::InvalidArgument("missing field '", field, "'");
  if (!v->is_boolean()) return Status::InvalidArgument("field '", field, "' must be a boolean");
  return v->get<bool>();
}

Status CheckRange(std::string_view field, int64_t value, int64_t min, int64_t max) {
  if (value < min || value > max) {
    return Status::InvalidArgument("field '", field, "' must be in [", min, ", ", max, "]");
  }
  return Status::Ok();
}

Status CheckLength(std::string_view field, const std::string& value, size_t min, size_t max) {
  if (value.size() < min || value.size() > max) {
    return Status::InvalidArgument("field '", field, "' must be ", min, "..", max, " characters");
  }
  return Status::Ok();
}

}  // namespace shopd::http
