#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lockstep/base/result.h"

namespace lockstep::redis {

// A RESP2 reply copied out of the driver: nil, status ("OK"), error, integer, bulk string
// (binary-safe) or array of replies. Top-level error replies of Client calls become a
// Status instead; kError values only appear nested (e.g. inside a Lua table or EXEC).
// Value type, thread-compatible.
class Reply {
 public:
  enum class Type { kNil, kStatus, kError, kInteger, kString, kArray };

  Reply() = default;  // Nil.
  static Reply Nil() { return Reply(); }
  static Reply Status(std::string text) { return Reply(Type::kStatus, std::move(text)); }
  static Reply Error(std::string text) { return Reply(Type::kError, std::move(text)); }
  static Reply Integer(int64_t value);
  static Reply String(std::string bytes) { return Reply(Type::kString, std::move(bytes)); }
  static Reply Array(std::vector<Reply> elements);

  Type type() const { return type_; }
  bool is_nil() const { return type_ == Type::kNil; }
  bool is_status() const { return type_ == Type::kStatus; }
  bool is_error() const { return type_ == Type::kError; }
  bool is_integer() const { return type_ == Type::kInteger; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }

  // The integer of an integer reply, or a string/status reply that parses as a base-10
  // int64 (Redis returns counters as bulk strings from GET). kFailedPrecondition otherwise.
  Result<int64_t> AsInteger() const;
  // The bytes of a string or status reply. kFailedPrecondition otherwise (nil included).
  Result<std::string> AsString() const;
  // Raw text of a string, status or error reply; empty for other types.
  const std::string& str() const { return str_; }
  // Elements of an array reply; empty for other types.
  const std::vector<Reply>& array() const { return array_; }
  // REQUIRES: is_integer().
  int64_t integer() const;

  // Debug form: nil, "OK", (error) ..., (integer) 5, "bytes" (escaped), [a, b].
  std::string DebugString() const;

  friend bool operator==(const Reply& a, const Reply& b) {
    return a.type_ == b.type_ && a.integer_ == b.integer_ && a.str_ == b.str_ && a.array_ == b.array_;
  }

 private:
  Reply(Type type, std::string text) : type_(type), str_(std::move(text)) {}

  Type type_ = Type::kNil;
  int64_t integer_ = 0;
  std::string str_;
  std::vector<Reply> array_;
};

std::string_view ReplyTypeName(Reply::Type type);

}  // namespace lockstep::redis
