#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lockstep {

// Decodes %XX escapes (RFC 3986); with `plus_is_space`, '+' becomes ' ' (form/query
// encoding). nullopt on a truncated or non-hex escape. Thread-safe (pure).
std::optional<std::string> PercentDecode(std::string_view in, bool plus_is_space = false);

}  // namespace lockstep
