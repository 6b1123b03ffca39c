#pragma once

#include <cstdint>
#include <string>

#include "domain/routed_read.h"
#include "reply/outcome.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"

namespace lockstep::sql {
class Pool;
}

namespace shopd::domain {

struct Account {
  int64_t id = 0;
  std::string owner;
  int64_t balance = 0;
  int64_t version = 0;
};

// Account creation and lookup (API.md /v1/accounts). Thread-safe (the pool is).
class AccountService {
 public:
  explicit AccountService(lockstep::sql::Pool& pool) : pool_(pool) {}

  // Creates an account. kInvalidArgument for an owner outside 1..64 UTF-8 characters or a
  // negative balance; the driver's status otherwise. `consistency_token` (optional) gets
  // the GTID of the INSERT's commit ("" if the server reported none).
  lockstep::Result<Account> Create(const std::string& owner, int64_t balance, const lockstep::Deadline& deadline,
                                   std::string* consistency_token = nullptr);
  // Reads where `read` routes it. kNotFound for an unknown id.
  lockstep::Result<Account> Get(int64_t id, const RoutedRead& read, const lockstep::Deadline& deadline);

 private:
  lockstep::sql::Pool& pool_;
};

}  // namespace shopd::domain
