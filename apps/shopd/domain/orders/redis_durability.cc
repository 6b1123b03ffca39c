#include "domain/orders/redis_durability.h"

#include <vector>

#include "lockstep/redis/client.h"

namespace shopd::domain {

using lockstep::Status;

namespace {

// CONFIG GET name -> its value ("" when the server does not know it).
lockstep::Result<std::string> ConfigValue(lockstep::redis::Client& client, std::string_view name,
                                          const lockstep::Deadline& deadline) {
  auto reply = client.Command({"CONFIG", "GET", name}, deadline);
  if (!reply.ok()) {
    if (reply.status().code() == lockstep::StatusCode::kUnavailable ||
        reply.status().code() == lockstep::StatusCode::kDeadlineExceeded) {
      return reply.status();
    }
    return Status::FailedPrecondition("Redis refused CONFIG GET ", name, ": ", reply.status().message())
        .WithReason("redis_not_durable");
  }
  const auto& a = reply->array();
  if (a.size() < 2) return std::string();
  return a[1].str();
}

}  // namespace

Status CheckRedisDurability(lockstep::redis::Client& client, std::string_view min_fsync,
                            const lockstep::Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(std::string appendonly, ConfigValue(client, "appendonly", deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(std::string appendfsync, ConfigValue(client, "appendfsync", deadline));
  LOCKSTEP_ASSIGN_OR_RETURN(std::string policy, ConfigValue(client, "maxmemory-policy", deadline));
  std::vector<std::string> problems;
  if (appendonly != "yes") problems.push_back("appendonly is '" + appendonly + "' (needs yes)");
  const bool fsync_ok = appendfsync == kFsyncAlways || (min_fsync == kFsyncEverysec && appendfsync == kFsyncEverysec);
  if (!fsync_ok) {
    problems.push_back("appendfsync is '" + appendfsync + "' (needs always" +
                       (min_fsync == kFsyncEverysec ? std::string(" or everysec") : std::string(
                                                                                       "; or set reserved_min_fsync = "
                                                                                       "everysec to accept everysec")) +
                       ")");
  }
  if (policy != "noeviction") problems.push_back("maxmemory-policy is '" + policy + "' (needs noeviction)");
  if (problems.empty()) return Status::Ok();
  std::string text;
  for (const std::string& p : problems) text += (text.empty() ? "" : ", ") + p;
  return Status::FailedPrecondition("Redis is not durable enough for stock_mode 'reserved': ", text)
      .WithReason("redis_not_durable");
}

}  // namespace shopd::domain
