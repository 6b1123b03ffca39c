#pragma once

#include "domain/accounts/accounts.h"
#include "domain/orders/orders.h"
#include "domain/products/products.h"
#include "domain/transfers/transfers.h"

namespace shopd::http {
class Router;
}

namespace shopd::api {

// The services the HTTP routes call. Owned by main; must outlive the server.
struct Services {
  domain::AccountService* accounts = nullptr;
  domain::TransferService* transfers = nullptr;
  domain::ProductService* products = nullptr;
  domain::OrderService* orders = nullptr;
};

// Registers POST /v1/accounts, GET /v1/accounts/{id} and POST /v1/transfers (API.md).
// REQUIRES: called before the server starts; `services` outlives the router.
void RegisterAccountRoutes(http::Router& router, const Services& services);

// Registers POST /v1/products, GET and PUT /v1/products/{id}, POST /v1/orders,
// GET /v1/orders/{id} and GET /v1/orders?request_id=... (API.md). Same requirements.
void RegisterCommerceRoutes(http::Router& router, const Services& services);

}  // namespace shopd::api
