#pragma once

#include "domain/accounts.h"
#include "domain/transfers.h"

namespace shopd::http {
class Router;
}

namespace shopd::domain {

// The services the HTTP routes call. Owned by main; must outlive the server.
struct Services {
  AccountService* accounts = nullptr;
  TransferService* transfers = nullptr;
};

// Registers POST /v1/accounts, GET /v1/accounts/{id} and POST /v1/transfers (API.md).
// REQUIRES: called before the server starts; `services` outlives the router.
void RegisterAccountRoutes(http::Router& router, const Services& services);

}  // namespace shopd::domain
