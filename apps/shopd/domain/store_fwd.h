#pragma once

// Forward declarations of the two stores the domain services are given (STYLE.md R8): the
// MariaDB pool and the Redis client. Include the full headers only in .cc files.
namespace lockstep::sql {
class Pool;
class Transaction;
}  // namespace lockstep::sql
namespace lockstep::redis {
class Client;
}  // namespace lockstep::redis
