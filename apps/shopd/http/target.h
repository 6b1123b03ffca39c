#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/request.h"
#include "lockstep/base/result.h"

namespace shopd::http {

// Percent-decodes `in` ("%2F" -> "/"); with `plus_is_space` also '+' -> ' ' (query
// strings). nullopt for a malformed escape. Thread-safe (pure).
std::optional<std::string> PercentDecode(std::string_view in, bool plus_is_space);

// Splits "/a/b" into {"a", "b"}; "/" -> {""}. REQUIRES: path starts with '/'.
std::vector<std::string_view> SplitPath(std::string_view path);

struct ParsedTarget {
  std::string path;
  Params query;
};

// Splits an origin-form request target into path and decoded query parameters.
// kInvalidArgument for a target that is not origin-form or has a bad escape.
lockstep::Result<ParsedTarget> ParseTarget(std::string_view target);

}  // namespace shopd::http
