#pragma once

#include <string>

#include "domain/products/products.h"

namespace shopd::api {

// The API body of a product (API.md): exactly what Response::Json prints for
// {"id","name","price","stock","stock_mode","version"} (keys in nlohmann's sorted order),
// written without building a DOM: the GET of an L1 hit runs on an I/O thread at tens of
// thousands per second. Names needing escapes take nlohmann's serializer. Thread-safe (pure).
std::string ProductBody(const domain::Product& p);

}  // namespace shopd::api
