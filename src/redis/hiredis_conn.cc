#include "redis/hiredis_conn.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/time.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "redis/redis_errors.h"

namespace lockstep::redis::internal {
namespace {

timeval ToTimeval(std::chrono::microseconds us) {
  if (us < std::chrono::microseconds(1)) us = std::chrono::microseconds(1);  // 0 = no timeout.
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(us.count() / 1'000'000);
  tv.tv_usec = static_cast<suseconds_t>(us.count() % 1'000'000);
  return tv;
}

}  // namespace

void ContextDeleter::operator()(redisContext* context) const { redisFree(context); }

Status ValidateOptions(const RedisOptions& options) {
  if (options.host.empty()) return Status::InvalidArgument("redis options: empty host");
  if (options.port < 1 || options.port > 65535) return Status::InvalidArgument("redis options: bad port ", options.port);
  if (options.db < 0) return Status::InvalidArgument("redis options: negative db");
  if (options.pool_size <= 0) return Status::InvalidArgument("redis options: pool_size must be > 0");
  if (options.connect_timeout <= std::chrono::milliseconds::zero()) {
    return Status::InvalidArgument("redis options: connect_timeout must be > 0");
  }
  if (options.command_timeout <= std::chrono::milliseconds::zero()) {
    return Status::InvalidArgument("redis options: command_timeout must be > 0");
  }
  if (!options.user.empty() && options.password.empty()) {
    return Status::InvalidArgument("redis options: user without password");
  }
  return Status::Ok();
}

Status ContextError(const redisContext* context, int saved_errno, const Deadline& deadline) {
  const std::string what = context->errstr[0] != '\0' ? std::string(context->errstr) : std::string("unknown error");
  if (context->err == REDIS_ERR_IO &&
      (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || saved_errno == ETIMEDOUT || deadline.expired())) {
    // hiredis reports SO_RCVTIMEO/SO_SNDTIMEO expiry as an I/O error (EAGAIN).
    return Status::DeadlineExceeded("redis: deadline passed waiting for the server (the command may have run): ",
                                    what);
  }
  if (context->err == REDIS_ERR_OOM) return Status::Internal("redis: out of memory in hiredis");
  if (context->err == REDIS_ERR_PROTOCOL) return Status::Unavailable("redis: protocol error: ", what);
  return Status::Unavailable("redis: connection failed: ", what);
}

Status SetTimeout(redisContext* context, const Deadline& deadline) {
  const auto left = std::chrono::ceil<std::chrono::microseconds>(deadline.remaining());
  if (left <= std::chrono::microseconds::zero()) return Status::DeadlineExceeded("redis: deadline already passed");
  // Cap huge/infinite values (the caller normally bounds the deadline already).
  const auto capped = std::min<std::chrono::microseconds>(left, std::chrono::hours(24));
  if (redisSetTimeout(context, ToTimeval(capped)) != REDIS_OK) {
    return ContextError(context, errno, deadline);
  }
  return Status::Ok();
}

Result<ContextPtr> Connect(const RedisOptions& options, const Deadline& deadline) {
  const auto left = deadline.remaining();
  if (left <= Deadline::duration::zero()) return Status::DeadlineExceeded("redis: deadline passed before connect");
  const bool capped_by_deadline = left < options.connect_timeout;
  const auto timeout = capped_by_deadline ? std::chrono::ceil<std::chrono::microseconds>(left)
                                          : std::chrono::microseconds(options.connect_timeout);
  ContextPtr context(redisConnectWithTimeout(options.host.c_str(), options.port, ToTimeval(timeout)));
  if (context == nullptr) return Status::Internal("redis: cannot allocate a context");
  if (context->err != 0) {
    const std::string where = options.host + ":" + std::to_string(options.port);
    if (deadline.expired()) {
      return Status::DeadlineExceeded("redis: connect to ", where, " did not finish before the deadline: ",
                                      context->errstr);
    }
    return Status::Unavailable("redis: cannot connect to ", where, ": ", context->errstr);
  }
  // AUTH/SELECT share the connect budget: a hung server must not cost more than that.
  const Deadline setup_deadline = deadline.CappedAt(options.connect_timeout);
  if (!options.password.empty()) {
    std::vector<std::string_view> argv = {"AUTH"};
    if (!options.user.empty()) argv.push_back(options.user);
    argv.push_back(options.password);
    LOCKSTEP_ASSIGN_OR_RETURN(Reply reply, RoundTrip(context.get(), argv, setup_deadline));
    if (reply.is_error()) return StatusFromErrorReply(reply.str()).Annotate("redis AUTH");
  }
  if (options.db != 0) {
    const std::string db = std::to_string(options.db);
    LOCKSTEP_ASSIGN_OR_RETURN(Reply reply, RoundTrip(context.get(), {"SELECT", db}, setup_deadline));
    if (reply.is_error()) return StatusFromErrorReply(reply.str()).Annotate("redis SELECT");
  }
  return context;
}

Status Append(redisContext* context, const std::vector<std::string_view>& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (std::string_view a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  if (redisAppendCommandArgv(context, static_cast<int>(argv.size()), ptrs.data(), lens.data()) != REDIS_OK) {
    return Status::Internal("redis: cannot format command: ", context->errstr);
  }
  return Status::Ok();
}

Result<Reply> RoundTrip(redisContext* context, const std::vector<std::string_view>& argv,
                        const Deadline& deadline) {
  if (argv.empty()) return Status::InvalidArgument("redis: empty command");
  LOCKSTEP_RETURN_IF_ERROR(SetTimeout(context, deadline));
  LOCKSTEP_RETURN_IF_ERROR(Append(context, argv));
  void* raw = nullptr;
  errno = 0;
  if (redisGetReply(context, &raw) != REDIS_OK || raw == nullptr) {
    return ContextError(context, errno, deadline);
  }
  auto* reply = static_cast<redisReply*>(raw);
  Reply out = ConvertReply(reply);
  freeReplyObject(reply);
  return out;
}

Result<std::vector<Reply>> RoundTripPipeline(redisContext* context,
                                             const std::vector<std::vector<std::string_view>>& commands,
                                             const Deadline& deadline) {
  LOCKSTEP_RETURN_IF_ERROR(SetTimeout(context, deadline));
  for (const auto& argv : commands) {
    if (argv.empty()) return Status::InvalidArgument("redis: empty command in pipeline");
  }
  for (const auto& argv : commands) LOCKSTEP_RETURN_IF_ERROR(Append(context, argv));
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    errno = 0;
    if (redisGetReply(context, &raw) != REDIS_OK || raw == nullptr) {
      return ContextError(context, errno, deadline)
          .Annotate("pipeline reply " + std::to_string(i) + " of " + std::to_string(commands.size()));
    }
    auto* reply = static_cast<redisReply*>(raw);
    replies.push_back(ConvertReply(reply));
    freeReplyObject(reply);
  }
  return replies;
}

Reply ConvertReply(const redisReply* reply) {
  switch (reply->type) {
    case REDIS_REPLY_STRING:
      return Reply::String(std::string(reply->str, reply->len));
    case REDIS_REPLY_STATUS:
      return Reply::Status(std::string(reply->str, reply->len));
    case REDIS_REPLY_ERROR:
      return Reply::Error(std::string(reply->str, reply->len));
    case REDIS_REPLY_INTEGER:
      return Reply::Integer(reply->integer);
    case REDIS_REPLY_ARRAY: {
      std::vector<Reply> elements;
      elements.reserve(reply->elements);
      for (size_t i = 0; i < reply->elements; ++i) elements.push_back(ConvertReply(reply->element[i]));
      return Reply::Array(std::move(elements));
    }
    case REDIS_REPLY_NIL:
    default:
      return Reply::Nil();
  }
}

int ContextFd(const redisContext* context) { return context->fd; }

bool IsStale(const redisContext* context) {
  if (context->err != 0) return true;
  pollfd pfd{};
  pfd.fd = context->fd;
  pfd.events = POLLIN;
  const int ready = ::poll(&pfd, 1, 0);
  // Readable while idle = EOF (server closed, e.g. restarted) or junk; both unusable.
  return ready != 0;
}

}  // namespace lockstep::redis::internal
