// A program outside the lockstep tree, built against the installed package only.
#include <cstdio>

#include "lockstep/base/deadline.h"
#include "lockstep/base/result.h"
#include "lockstep/base/retry_policy.h"
#include "lockstep/redis/url.h"
#include "lockstep/sql/url.h"

int main() {
  lockstep::Result<int> r = lockstep::Status::FailedPrecondition("short").WithReason("out_of_stock");
  const lockstep::RetryPolicy retry = lockstep::RetryPolicyFor(r.status().code());
  const bool ok = !r.ok() && retry == lockstep::RetryPolicy::kNone && r.status().reason() == "out_of_stock" &&
                  !lockstep::Deadline::After(std::chrono::seconds(5)).expired();
  // Links the sql and redis modules (and so libmariadb and hiredis, found again by
  // lockstep-config.cmake).
  const auto mysql = lockstep::sql::ParseMysqlUrl("mysql://u:secret@127.0.0.1:3307/shop");
  const auto redis = lockstep::redis::ParseRedisUrl("redis://127.0.0.1:6380/2");
  const bool urls_ok = mysql.ok() && mysql->port == 3307 && redis.ok() && redis->port == 6380;
  if (!urls_ok) std::printf("consumer: url parsing WRONG\n");
  std::printf("consumer: %s -> %s\n", r.status().ToString().c_str(), ok ? "ok" : "WRONG");
  return ok && urls_ok ? 0 : 1;
}
