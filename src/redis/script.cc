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

Result<std::vector<Result<Reply>>> Script::RunPipelined(Client& client, const std::vector<Call>& calls,
                                                        const Deadline& deadline) const {
  std::vector<std::string> numkeys;
  numkeys.reserve(calls.size());
  for (const Call& c : calls) numkeys.push_back(std::to_string(c.keys.size()));
  auto argv_of = [&](size_t i, bool by_source) {
    const Call& c = calls[i];
    std::vector<std::string_view> argv;
    argv.reserve(3 + c.keys.size() + c.args.size());
    argv.push_back(by_source ? "EVAL" : "EVALSHA");
    argv.push_back(by_source ? std::string_view(source_) : std::string_view(sha1_));
    argv.push_back(numkeys[i]);
    argv.insert(argv.end(), c.keys.begin(), c.keys.end());
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    return argv;
  };
  std::vector<std::vector<std::string_view>> commands;
  commands.reserve(calls.size());
  for (size_t i = 0; i < calls.size(); ++i) commands.push_back(argv_of(i, false));
  LOCKSTEP_ASSIGN_OR_RETURN(std::vector<Result<Reply>> replies, client.ExecutePipeline(commands, deadline));
  // NOSCRIPT is answered before anything runs: sending those calls' source cannot run one
  // twice.
  std::vector<size_t> again;
  for (size_t i = 0; i < replies.size(); ++i) {
    if (!replies[i].ok() && internal::IsNoScript(replies[i].status())) again.push_back(i);
  }
  if (again.empty()) return replies;
  commands.clear();
  for (size_t i : again) commands.push_back(argv_of(i, true));
  LOCKSTEP_ASSIGN_OR_RETURN(std::vector<Result<Reply>> retried, client.ExecutePipeline(commands, deadline));
  for (size_t j = 0; j < again.size(); ++j) replies[again[j]] = std::move(retried[j]);
  return replies;
}

}  // namespace lockstep::redis
