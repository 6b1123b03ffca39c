#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shopd::http {

// ASCII case-insensitive equality, for header names.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// An ordered list of HTTP header fields with case-insensitive name lookup. Small (a
// linear scan beats a map for the dozen fields a request carries).
// Thread-compatible: const methods may run concurrently.
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  // The value of the first field named `name` (any case); nullopt if absent.
  std::optional<std::string_view> Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  // Replaces every field named `name` by one field with `value`.
  void Set(std::string_view name, std::string value);
  // Appends a field (keeps existing ones of the same name).
  void Add(std::string name, std::string value);
  void Remove(std::string_view name);

  const std::vector<Field>& fields() const { return fields_; }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<Field> fields_;
};

}  // namespace shopd::http
