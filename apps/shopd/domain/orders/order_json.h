#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "domain/orders/orders.h"

namespace shopd::domain {

// The API body of an order (API.md): exactly what Response::Json prints for
// {"id","product_id","quantity","request_id","status","user_id"} (nlohmann's sorted key
// order), written without building a DOM: every batched and reserved order answers with
// one, and reserved mode stores it in Redis for replay. Thread-safe (pure).
std::string OrderBody(int64_t id, std::string_view request_id, int64_t user_id, int64_t product_id, int64_t quantity,
                      std::string_view status);
std::string OrderBody(const Order& o);

}  // namespace shopd::domain
