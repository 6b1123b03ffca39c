#include "redis/hiredis_client.h"

#include <utility>

#include "redis/redis_errors.h"

namespace lockstep::redis {

Result<std::unique_ptr<Client>> Client::Open(const RedisOptions& options) {
  LOCKSTEP_RETURN_IF_ERROR(internal::ValidateOptions(options));
  return std::unique_ptr<Client>(std::make_unique<internal::HiredisClient>(options));
}

namespace internal {

HiredisClient::HiredisClient(RedisOptions options) : options_(std::move(options)) {}

HiredisClient::~HiredisClient() {
  MutexLock lock(&mu_);
  idle_.clear();
}

Deadline HiredisClient::Effective(const Deadline& deadline) const {
  return deadline.infinite() ? Deadline::After(options_.command_timeout) : deadline;
}

Result<ContextPtr> HiredisClient::Acquire(const Deadline& deadline) {
  while (true) {
    ContextPtr context;
    {
      MutexLock lock(&mu_);
      while (idle_.empty() && open_ >= options_.pool_size) {
        if (!released_.WaitUntil(&mu_, deadline) && idle_.empty() && open_ >= options_.pool_size) {
          return Status::DeadlineExceeded("redis: no free connection in the pool (size ", options_.pool_size,
                                          ") before the deadline");
        }
      }
      if (idle_.empty()) {
        ++open_;  // Reserve the slot; connect without holding the lock.
      } else {
        context = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (context != nullptr) {
      if (!IsStale(context.get())) return context;
      // The server closed it while idle (e.g. restart): drop it and try the next one.
      Release(std::move(context), Status::Unavailable("redis: idle connection closed by the server"));
      continue;
    }
    Result<ContextPtr> connected = Connect(options_, deadline);
    MutexLock lock(&mu_);
    if (!connected.ok()) {
      --open_;
      released_.Signal();
      return std::move(connected).status();
    }
    ++connects_;
    return connected;
  }
}

void HiredisClient::Release(ContextPtr context, const Status& cause) {
  if (cause.ok()) {
    MutexLock lock(&mu_);
    idle_.push_back(std::move(context));
    released_.Signal();
    return;
  }
  context.reset();  // Close outside the lock.
  {
    MutexLock lock(&mu_);
    --open_;
    ++discarded_;
    released_.Signal();
  }
  if (options_.observer.on_discard) options_.observer.on_discard(cause);
}

void HiredisClient::ReportCall(const Status& status, Clock::time_point start) const {
  if (options_.observer.on_call) options_.observer.on_call(status, Clock::Real().Now() - start);
}

Result<Reply> HiredisClient::Execute(const std::vector<std::string_view>& argv, const Deadline& deadline) {
  const auto start = Clock::Real().Now();
  const Deadline effective = Effective(deadline);
  Result<Reply> result = [&]() -> Result<Reply> {
    if (argv.empty()) return Status::InvalidArgument("redis: empty command");
    LOCKSTEP_ASSIGN_OR_RETURN(ContextPtr context, Acquire(effective));
    Result<Reply> reply = RoundTrip(context.get(), argv, effective);
    if (!reply.ok()) {
      Release(std::move(context), reply.status());
      return std::move(reply).status().Annotate(argv.front());
    }
    Release(std::move(context), Status::Ok());
    if (reply->is_error()) return StatusFromErrorReply(reply->str());
    return reply;
  }();
  ReportCall(result.ok() ? Status::Ok() : result.status(), start);
  return result;
}

Result<std::vector<Result<Reply>>> HiredisClient::ExecutePipeline(
    const std::vector<std::vector<std::string_view>>& commands, const Deadline& deadline) {
  if (commands.empty()) return std::vector<Result<Reply>>{};
  const auto start = Clock::Real().Now();
  const Deadline effective = Effective(deadline);
  Result<std::vector<Result<Reply>>> result = [&]() -> Result<std::vector<Result<Reply>>> {
    LOCKSTEP_ASSIGN_OR_RETURN(ContextPtr context, Acquire(effective));
    Result<std::vector<Reply>> replies = RoundTripPipeline(context.get(), commands, effective);
    if (!replies.ok()) {
      Release(std::move(context), replies.status());
      return std::move(replies).status();
    }
    Release(std::move(context), Status::Ok());
    std::vector<Result<Reply>> out;
    out.reserve(replies->size());
    for (Reply& reply : *replies) {
      if (reply.is_error()) {
        out.emplace_back(StatusFromErrorReply(reply.str()));
      } else {
        out.emplace_back(std::move(reply));
      }
    }
    return out;
  }();
  ReportCall(result.ok() ? Status::Ok() : result.status(), start);
  return result;
}

ClientStats HiredisClient::stats() const {
  MutexLock lock(&mu_);
  ClientStats s;
  s.open = open_;
  s.idle = static_cast<int>(idle_.size());
  s.in_use = open_ - s.idle;
  s.connects = connects_;
  s.discarded = discarded_;
  return s;
}

}  // namespace internal
}  // namespace lockstep::redis
