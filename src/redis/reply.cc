#include "lockstep/redis/reply.h"

#include <charconv>
#include <sstream>

#include "lockstep/base/check.h"

namespace lockstep::redis {

Reply Reply::Integer(int64_t value) {
  Reply r;
  r.type_ = Type::kInteger;
  r.integer_ = value;
  return r;
}

Reply Reply::Array(std::vector<Reply> elements) {
  Reply r;
  r.type_ = Type::kArray;
  r.array_ = std::move(elements);
  return r;
}

int64_t Reply::integer() const {
  LOCKSTEP_CHECK_MSG(is_integer(), "Reply::integer() on ", ReplyTypeName(type_));
  return integer_;
}

Result<int64_t> Reply::AsInteger() const {
  if (is_integer()) return integer_;
  if (is_string() || is_status()) {
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(str_.data(), str_.data() + str_.size(), value);
    if (!str_.empty() && ec == std::errc() && end == str_.data() + str_.size()) return value;
  }
  return Status::FailedPrecondition("redis reply: expected an integer, got ", DebugString());
}

Result<std::string> Reply::AsString() const {
  if (is_string() || is_status()) return str_;
  return Status::FailedPrecondition("redis reply: expected a string, got ", DebugString());
}

std::string Reply::DebugString() const {
  std::ostringstream out;
  switch (type_) {
    case Type::kNil:
      out << "nil";
      break;
    case Type::kStatus:
      out << str_;
      break;
    case Type::kError:
      out << "(error) " << str_;
      break;
    case Type::kInteger:
      out << "(integer) " << integer_;
      break;
    case Type::kString: {
      out << '"';
      for (char c : str_.substr(0, 200)) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') {
          out << c;
        } else {
          static constexpr char kHex[] = "0123456789abcdef";
          out << "\\x" << kHex[u >> 4] << kHex[u & 0xF];
        }
      }
      if (str_.size() > 200) out << "...";
      out << '"';
      break;
    }
    case Type::kArray:
      out << "[";
      for (size_t i = 0; i < array_.size(); ++i) out << (i ? ", " : "") << array_[i].DebugString();
      out << "]";
      break;
  }
  return std::move(out).str();
}

std::string_view ReplyTypeName(Reply::Type type) {
  switch (type) {
    case Reply::Type::kNil: return "nil";
    case Reply::Type::kStatus: return "status";
    case Reply::Type::kError: return "error";
    case Reply::Type::kInteger: return "integer";
    case Reply::Type::kString: return "string";
    case Reply::Type::kArray: return "array";
  }
  return "unknown";
}

}  // namespace lockstep::redis
