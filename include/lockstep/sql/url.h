#pragma once

#include <string_view>

#include "lockstep/base/result.h"
#include "lockstep/sql/options.h"

namespace lockstep::sql {

// Parses "mysql://user:password@host:port/database" (also "mariadb://"). User, password
// and database are percent-decoded; the port defaults to 3306; "[::1]" IPv6 hosts are
// accepted. Query parameters are not supported. Returns kInvalidArgument with a message
// naming the bad part (never echoing the password). Thread-safe (pure).
Result<ConnectionOptions> ParseMysqlUrl(std::string_view url);

}  // namespace lockstep::sql
