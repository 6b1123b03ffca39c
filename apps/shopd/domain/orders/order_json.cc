#include "domain/orders/order_json.h"

#include "reply/json_text.h"

namespace shopd::domain {

using reply::AppendJsonInt;
using reply::AppendJsonString;

std::string OrderBody(int64_t id, std::string_view request_id, int64_t user_id, int64_t product_id, int64_t quantity,
                      std::string_view status) {
  std::string out;
  out.reserve(112 + request_id.size());
  out += R"({"id":)";
  AppendJsonInt(out, id);
  out += R"(,"product_id":)";
  AppendJsonInt(out, product_id);
  out += R"(,"quantity":)";
  AppendJsonInt(out, quantity);
  out += R"(,"request_id":)";
  AppendJsonString(out, request_id);
  out += R"(,"status":)";
  AppendJsonString(out, status);
  out += R"(,"user_id":)";
  AppendJsonInt(out, user_id);
  out += '}';
  return out;
}

std::string OrderBody(const Order& o) {
  return OrderBody(o.id, o.request_id, o.user_id, o.product_id, o.quantity, o.status);
}

}  // namespace shopd::domain
