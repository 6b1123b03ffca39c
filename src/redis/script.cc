#include "lockstep/redis/script.h"

#include <string_view>

#include "redis/redis_errors.h"
#include "redis/sha1.h"

namespace lockstep::redis {

Script::Script(std::string source) : source_(std::move(source)), sha1_(internal::Sha1Hex(source_)) {}

Result<Reply> Script::Run(Client& client, const std::vector<std::string>& keys,
                          const std::vector<std::string>& args, const Deadline& deadline) const {
  const std::string numkeys = std::to_string(keys.size());
  std::vector<std::string_view> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVALSHA");
  argv.push_back(sha1_);
  argv.push_back(numkeys);
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  Result<Reply> reply = client.Execute(argv, deadline);
  if (reply.ok() || !internal::IsNoScript(reply.status())) return reply;
  // NOSCRIPT is answered before anything runs, so sending the source now cannot run the
  // script twice. EVAL also puts it back into the server's script cache.
  argv[0] = "EVAL";
  argv[1] = source_;
  return client.Execute(argv, deadline);
}

}  // namespace lockstep::redis
