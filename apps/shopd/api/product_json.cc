#include "api/product_json.h"

#include "reply/json_text.h"

namespace shopd::api {

using reply::AppendJsonInt;
using reply::AppendJsonString;

std::string ProductBody(const domain::Product& p) {
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
  out += domain::StockModeName(p.stock_mode);
  out += R"(","version":)";
  AppendJsonInt(out, p.version);
  out += '}';
  return out;
}

}  // namespace shopd::api
