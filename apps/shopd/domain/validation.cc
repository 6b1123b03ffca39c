#include "domain/validation.h"

namespace shopd::domain {

lockstep::Status ValidateRequestId(std::string_view request_id) {
  if (request_id.empty() || request_id.size() > kMaxRequestIdBytes) {
    return lockstep::Status::InvalidArgument("field 'request_id' must be 1..", kMaxRequestIdBytes, " characters");
  }
  for (char c : request_id) {
    if (c < 0x20 || c > 0x7E) {
      return lockstep::Status::InvalidArgument("field 'request_id' must be printable ASCII");
    }
  }
  return lockstep::Status::Ok();
}

lockstep::Status ValidateText(std::string_view field, std::string_view value, size_t min, size_t max) {
  size_t chars = 0;
  for (size_t i = 0; i < value.size(); ++chars) {
    const auto c = static_cast<unsigned char>(value[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) { len = 1; cp = c; }
    else if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return lockstep::Status::InvalidArgument("field '", field, "' is not valid UTF-8");
    if (i + len > value.size()) return lockstep::Status::InvalidArgument("field '", field, "' is not valid UTF-8");
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(value[i + k]);
      if ((cc & 0xC0) != 0x80) return lockstep::Status::InvalidArgument("field '", field, "' is not valid UTF-8");
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8; NUL is refused
    // too (no legitimate name carries one).
    const bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF || cp == 0) {
      return lockstep::Status::InvalidArgument("field '", field, "' is not valid UTF-8");
    }
    i += len;
  }
  if (chars < min || chars > max) {
    return lockstep::Status::InvalidArgument("field '", field, "' must be ", min, "..", max, " characters");
  }
  return lockstep::Status::Ok();
}

}  // namespace shopd::domain
