#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "lockstep/base/deadline.h"

namespace lockstep::sql {

// A point in time with microsecond precision, stored as DATETIME(6) (UTC by convention:
// DATETIME has no time zone and the driver does no conversion).
using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;

// Binary data: bound as a BLOB parameter (no charset conversion). Value type.
struct Bytes {
  std::string data;
  friend bool operator==(const Bytes&, const Bytes&) = default;
};

// One bound statement parameter. Non-owning: text and bytes point into the caller's
// arguments, which outlive the (synchronous) call. Value type, thread-compatible.
struct Param {
  enum class Kind { kNull, kInt64, kUint64, kDouble, kText, kBytes, kTimestamp };
  Kind kind = Kind::kNull;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  std::string_view s;
  Timestamp t{};
};

namespace internal {

template <typename T> struct IsOptional : std::false_type {};
template <typename T> struct IsOptional<std::optional<T>> : std::true_type {};

// Not thread-safe (a temporary). Collects the arguments of Execute/Query: every value becomes a Param; a Deadline
// argument (at most one, conventionally last) overrides the call's default deadline.
class ParamPack {
 public:
  template <typename... Args>
  explicit ParamPack(const Args&... args) {
    params_.reserve(sizeof...(Args));
    (Add(args), ...);
  }
  const std::vector<Param>& params() const { return params_; }
  std::vector<Param>& mutable_params() { return params_; }
  const std::optional<Deadline>& deadline() const { return deadline_; }
  // Appends more arguments (same kinds as the constructor).
  template <typename... Args>
  void Append(const Args&... args) {
    (Add(args), ...);
  }

 private:
  void Add(const Deadline& d) { deadline_ = d; }
  void Add(std::nullopt_t) { params_.push_back(Param{}); }
  void Add(std::nullptr_t) { params_.push_back(Param{}); }
  void Add(bool v) { Push(Param::Kind::kInt64).i = v ? 1 : 0; }
  void Add(double v) { Push(Param::Kind::kDouble).d = v; }
  void Add(float v) { Push(Param::Kind::kDouble).d = v; }
  void Add(const char* v) {
    if (v == nullptr) { Add(std::nullopt); return; }
    Push(Param::Kind::kText).s = v;
  }
  void Add(std::string_view v) { Push(Param::Kind::kText).s = v; }
  void Add(const std::string& v) { Push(Param::Kind::kText).s = v; }
  void Add(const Bytes& v) { Push(Param::Kind::kBytes).s = v.data; }
  void Add(const Timestamp& v) { Push(Param::Kind::kTimestamp).t = v; }
  template <typename T>
  void Add(const std::optional<T>& v) {
    if (v.has_value()) Add(*v); else Add(std::nullopt);
  }
  template <typename T, typename = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>>
  void Add(T v) {
    if constexpr (std::is_signed_v<T>) Push(Param::Kind::kInt64).i = static_cast<int64_t>(v);
    else Push(Param::Kind::kUint64).u = static_cast<uint64_t>(v);
  }
  Param& Push(Param::Kind kind) {
    params_.push_back(Param{});
    params_.back().kind = kind;
    return params_.back();
  }

  std::vector<Param> params_;
  std::optional<Deadline> deadline_;
};

}  // namespace internal

// Statement parameters collected at run time, for statements whose number of `?`s is only
// known then (a multi-row INSERT, an IN list). Accepts the same argument kinds as
// Execute/Query, including one Deadline. Unlike Execute's arguments, text and bytes are
// copied in, so temporaries may be added. Move-only; not thread-safe.
//   ParamList params;
//   for (const Order& o : orders) params.Add(o.id, o.request_id);
//   tx.ExecuteList("INSERT INTO orders (id, request_id) VALUES (?, ?), (?, ?)", params);
class ParamList {
 public:
  ParamList() = default;
  ParamList(ParamList&&) = default;  // std::deque's move keeps the copies' addresses.
  ParamList& operator=(ParamList&&) = default;
  ParamList(const ParamList&) = delete;
  ParamList& operator=(const ParamList&) = delete;

  template <typename... Args>
  ParamList& Add(const Args&... args) {
    std::vector<Param>& params = pack_.mutable_params();
    const size_t first = params.size();
    pack_.Append(args...);
    for (size_t i = first; i < params.size(); ++i) {
      if (params[i].kind == Param::Kind::kText || params[i].kind == Param::Kind::kBytes) {
        params[i].s = owned_.emplace_back(params[i].s);
      }
    }
    return *this;
  }
  size_t size() const { return pack_.params().size(); }
  const internal::ParamPack& pack() const { return pack_; }

 private:
  internal::ParamPack pack_;
  std::deque<std::string> owned_;  // Stable addresses for the text/bytes params point into.
};

// What a data-changing statement did.
struct ExecResult {
  uint64_t affected_rows = 0;   // Rows changed (not merely matched).
  uint64_t last_insert_id = 0;  // AUTO_INCREMENT id of the first inserted row, or 0.
};

}  // namespace lockstep::sql
