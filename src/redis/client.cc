#include "lockstep/redis/client.h"

#include <string>

#include "lockstep/redis/script.h"

namespace lockstep::redis {
namespace {

std::vector<std::string_view> Views(const std::vector<std::string>& args) {
  return std::vector<std::string_view>(args.begin(), args.end());
}

}  // namespace

Result<Reply> Client::Command(std::initializer_list<std::string_view> args, const Deadline& deadline) {
  return Execute(std::vector<std::string_view>(args), deadline);
}

Result<Reply> Client::Command(const std::vector<std::string>& args, const Deadline& deadline) {
  return Execute(Views(args), deadline);
}

Result<std::vector<Result<Reply>>> Client::Pipeline(const std::vector<std::vector<std::string>>& commands,
                                                    const Deadline& deadline) {
  std::vector<std::vector<std::string_view>> views;
  views.reserve(commands.size());
  for (const auto& command : commands) views.push_back(Views(command));
  return ExecutePipeline(views, deadline);
}

Result<std::optional<std::string>> Client::Get(std::string_view key, const Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(Reply reply, Execute({"GET", key}, deadline));
  if (reply.is_nil()) return std::optional<std::string>();
  LOCKSTEP_ASSIGN_OR_RETURN(std::string value, reply.AsString());
  return std::optional<std::string>(std::move(value));
}

Status Client::Set(std::string_view key, std::string_view value, const Deadline& deadline,
                   std::optional<std::chrono::milliseconds> ttl) {
  std::vector<std::string_view> argv = {"SET", key, value};
  std::string ttl_text;
  if (ttl.has_value()) {
    if (ttl->count() < 1) return Status::InvalidArgument("redis SET: ttl must be >= 1ms");
    ttl_text = std::to_string(ttl->count());
    argv.push_back("PX");
    argv.push_back(ttl_text);
  }
  LOCKSTEP_ASSIGN_OR_RETURN(Reply reply, Execute(argv, deadline));
  (void)reply;
  return Status::Ok();
}

Result<int64_t> Client::Del(const std::vector<std::string>& keys, const Deadline& deadline) {
  if (keys.empty()) return int64_t{0};
  std::vector<std::string_view> argv = {"DEL"};
  argv.insert(argv.end(), keys.begin(), keys.end());
  LOCKSTEP_ASSIGN_OR_RETURN(Reply reply, Execute(argv, deadline));
  return reply.AsInteger();
}

Result<int64_t> Client::IncrBy(std::string_view key, int64_t by, const Deadline& deadline) {
  const std::string by_text = std::to_string(by);
  LOCKSTEP_ASSIGN_OR_RETURN(Reply reply, Execute({"INCRBY", key, by_text}, deadline));
  return reply.AsInteger();
}

Status Client::Ping(const Deadline& deadline) {
  LOCKSTEP_ASSIGN_OR_RETURN(Reply reply, Execute({"PING"}, deadline));
  if (!reply.is_status() || reply.str() != "PONG") {
    return Status::Internal("redis PING: unexpected reply ", reply.DebugString());
  }
  return Status::Ok();
}

Result<Reply> Client::Eval(const Script& script, const std::vector<std::string>& keys,
                           const std::vector<std::string>& args, const Deadline& deadline) {
  return script.Run(*this, keys, args, deadline);
}

}  // namespace lockstep::redis
