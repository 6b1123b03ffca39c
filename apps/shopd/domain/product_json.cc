#include "domain/product_json.h"

#include <charconv>

#include <nlohmann/json.hpp>

namespace shopd::domain {
namespace {

// Printable ASCII without '"' and '\': serialized as is by nlohmann::json.
bool NeedsNoEscape(const std::string& s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7F || c == '"' || c == '\\') return false;
  }
  return true;
}

void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}

}  // namespace

std::string ProductBody(const Product& p) {
  std::string out;
  out.reserve(96 + p.name.size());
  out += R"({"id":)";
  AppendInt(out, p.id);
  out += R"(,"name":)";
  if (NeedsNoEscape(p.name)) {
    out += '"';
    out += p.name;
    out += '"';
  } else {
    out += nlohmann::json(p.name).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  out += R"(,"price":)";
  AppendInt(out, p.price);
  out += R"(,"stock":)";
  AppendInt(out, p.stock);
  out += R"(,"stock_mode":")";
  out += StockModeName(p.stock_mode);
  out += R"(","version":)";
  AppendInt(out, p.version);
  out += '}';
  return out;
}

}  // namespace shopd::domain
