#pragma once

#include <chrono>

#include "domain/accounts/accounts.h"
#include "domain/orders/orders.h"
#include "domain/products/products.h"
#include "domain/transfers/transfers.h"
#include "domain/write_tokens.h"

namespace lockstep::routing {
class ReplicaSet;
}

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
  // Routes the GETs a replica may answer (API.md "Replicas and consistency tokens").
  lockstep::routing::ReplicaSet* replicas = nullptr;
  // Tokens of writes that have none from their own commit.
  domain::WriteTokens* tokens = nullptr;
  // X-Max-Staleness-Ms of a GET that names neither bound nor token (read_max_staleness_ms).
  std::chrono::milliseconds read_max_staleness{50};
};

// Registers POST /v1/accounts, GET /v1/accounts/{id}, GET /v1/accounts/{id}/transfers and
// POST /v1/transfers (API.md). Every mutating answer that changed or recorded something
// carries X-Consistency-Token; the GETs read through services.replicas.
// REQUIRES: called before the server starts; `services` outlives the router.
void RegisterAccountRoutes(http::Router& router, const Services& services);

// Registers POST /v1/products, GET and PUT /v1/products/{id}, POST /v1/orders,
// GET /v1/orders/{id} and GET /v1/orders?request_id=... (API.md). Same requirements.
void RegisterCommerceRoutes(http::Router& router, const Services& services);

}  // namespace shopd::api
