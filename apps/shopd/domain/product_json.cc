#include "domain/product_json.h"

#include "http/json_text.h"

namespace shopd::domain {

using http::AppendJsonInt;
using http::AppendJsonString;

std::string ProductBody(const Product& p) {
  std::string out;
  out.reserve(96 + p.name.size());
  out += R"({"id":)";
  AppendJsonInt(out, p.id);
  out += R"(,"name":)";
  AppendJsonString(out, p.name);
  out += R"(,"price":)";
  AppendJsonInt(out, p.price);
  out += R"(,"stock":)";
  AppendJsonInt(out, p.stock);
  out += R"(,"stock_mode":")";
  out += StockModeName(p.stock_mode);
  out += R"(","version":)";
  AppendJsonInt(out, p.version);
  out += '}';
  return out;
}

}  // namespace shopd::domain
