#include "json_fields.h"

#include <vector>

namespace lockstep::bench {
namespace {

using Json = nlohmann::json;

// SAX handler that captures the scalar at `path` and then stops the parse (returns false).
// Tracks, per open container, whether it lies on `path`; a container is on the path when
// every key leading to it matches. Not thread-safe: one per parse.
class ScalarAtPath {
 public:
  explicit ScalarAtPath(std::initializer_list<std::string_view> path) : path_(path) {}

  std::optional<Json>& result() { return result_; }

  bool null() { return Scalar(Json(nullptr)); }
  bool boolean(bool v) { return Scalar(Json(v)); }
  bool number_integer(Json::number_integer_t v) { return Scalar(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return Scalar(Json(v)); }
  bool number_float(Json::number_float_t v, const Json::string_t&) { return Scalar(Json(v)); }
  bool string(Json::string_t& v) { return Scalar(Json(std::move(v))); }
  bool binary(Json::binary_t&) { return Scalar(Json()); }

  bool start_object(std::size_t) {
    // The top-level object, or an object under a matching key whose path continues below.
    const bool on_path = open_.empty() ? true : (key_hit_ && open_.size() < path_.size());
    open_.push_back(on_path);
    key_hit_ = false;
    return true;
  }
  bool key(Json::string_t& k) {
    key_hit_ = open_.back() && k == path_.begin()[open_.size() - 1];
    return true;
  }
  bool end_object() {
    open_.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    open_.push_back(false);  // The path names object keys only.
    key_hit_ = false;
    return true;
  }
  bool end_array() {
    open_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

 private:
  bool Scalar(Json value) {
    if (key_hit_ && open_.size() == path_.size()) {
      result_ = std::move(value);
      return false;  // Found: stop parsing here.
    }
    key_hit_ = false;
    return true;
  }

  std::initializer_list<std::string_view> path_;
  std::vector<bool> open_;  // Per open container: on the path?
  bool key_hit_ = false;    // The last key of the innermost object is the next one of the path.
  std::optional<Json> result_;
};

}  // namespace

std::optional<nlohmann::json> ScalarAt(std::string_view text, std::initializer_list<std::string_view> path) {
  ScalarAtPath handler(path);
  Json::sax_parse(text, &handler);  // False when stopped at the field, on an error, or at the end.
  return std::move(handler.result());
}

int64_t IntField(std::string_view body, std::string_view key) {
  const std::optional<Json> v = ScalarAt(body, {key});
  return v && v->is_number() ? v->get<int64_t>() : 0;
}

std::string ErrorCode(std::string_view body) {
  const std::optional<Json> v = ScalarAt(body, {"error", "code"});
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

}  // namespace lockstep::bench
