#include "redis/hiredis_client.h"

#include <utility>

#include "redis/redis_errors.h"

namespace lockstep::redis {

Result<std::unique_ptr<Client>> Client::Open(const RedisOptions& options) {
  LOCKSTEP_RETURN_IF_ERROR(internal::ValidateOptions(options));
  std::unique_ptr<CircuitBreaker> breaker;
  if (options.breaker.has_value()) {
    auto created = CircuitBreaker::Create(AlsoNotify(*options.breaker, options.observer.on_breaker_state));
    if (!created.ok()) return std::move(created).status().Annotate("redis options: breaker");
    breaker = std::move(created).value();
  }
  return std::unique_ptr<Client>(std::make_unique<internal::HiredisClient>(options, std::move(breaker)));
}

namespace internal {
namespace {

// Whether a step that reached the server says it is sick (RedisOptions::breaker).
bool IsServerFailure(const Status& status) {
  return status.code() == StatusCode::kUnavailable || status.code() == StatusCode::kDeadlineExceeded;
}

}  // namespace

HiredisClient::HiredisClient(RedisOptions options, std::unique_ptr<CircuitBreaker> breaker)
    : options_(std::move(options)), breaker_(std::move(breaker)) {}

Status HiredisClient::CheckBreaker() {
  if (breaker_ == nullptr) return Status::Ok();
  Status s = breaker_->Check();
  return s.ok() ? s : std::move(s).Annotate("redis");
}

Status HiredisClient::Admit() {
  if (breaker_ == nullptr) return Status::Ok();
  Status s = breaker_->Allow();
  return s.ok() ? s : std::move(s).Annotate("redis");
}

void HiredisClient::Report(const Status& outcome) {
  if (breaker_ == nullptr) return;
  if (IsServerFailure(outcome)) {
    breaker_->RecordFailure();
  } else {
    breaker_->RecordSuccess();
  }
}

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
    // Connect refuses a passed deadline without I/O: that is no outcome for the breaker.
    const bool reaches_network = !deadline.expired();
    Result<ContextPtr> connected = Connect(options_, deadline);
    // A failed connect counts against the server; a successful one proves little (the
    // kernel accepts connections for a stopped server) and counts neither way: the command
    // that follows is the call the breaker judges.
    if (reaches_network && !connected.ok() && breaker_ != nullptr && IsServerFailure(connected.status())) {
      breaker_->RecordFailure();
    }
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
    LOCKSTEP_RETURN_IF_ERROR(CheckBreaker());
    LOCKSTEP_ASSIGN_OR_RETURN(ContextPtr context, Acquire(effective));
    if (Status admitted = Admit(); !admitted.ok()) {
      Release(std::move(context), Status::Ok());  // Nothing was sent: still clean.
      return admitted;
    }
    Result<Reply> reply = RoundTrip(context.get(), argv, effective);
    if (!reply.ok()) {
      Report(reply.status());
      Release(std::move(context), reply.status());
      return std::move(reply).status().Annotate(argv.front());
    }
    Release(std::move(context), Status::Ok());
    if (reply->is_error()) {
      Status error = StatusFromErrorReply(reply->str());
      Report(error);  // LOADING, BUSY, ... are kUnavailable: the server is not serving.
      return error;
    }
    Report(Status::Ok());
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
    LOCKSTEP_RETURN_IF_ERROR(CheckBreaker());
    LOCKSTEP_ASSIGN_OR_RETURN(ContextPtr context, Acquire(effective));
    if (Status admitted = Admit(); !admitted.ok()) {
      Release(std::move(context), Status::Ok());  // Nothing was sent: still clean.
      return admitted;
    }
    Result<std::vector<Reply>> replies = RoundTripPipeline(context.get(), commands, effective);
    if (!replies.ok()) {
      Report(replies.status());
      Release(std::move(context), replies.status());
      return std::move(replies).status();
    }
    Release(std::move(context), Status::Ok());
    std::vector<Result<Reply>> out;
    out.reserve(replies->size());
    Status outcome;  // The first slot that says the server is not serving (LOADING, ...).
    for (Reply& reply : *replies) {
      if (reply.is_error()) {
        Status error = StatusFromErrorReply(reply.str());
        if (outcome.ok() && IsServerFailure(error)) outcome = error;
        out.emplace_back(std::move(error));
      } else {
        out.emplace_back(std::move(reply));
      }
    }
    Report(outcome);
    return out;
  }();
  ReportCall(result.ok() ? Status::Ok() : result.status(), start);
  return result;
}

ClientStats HiredisClient::stats() const {
  ClientStats s;
  {
    MutexLock lock(&mu_);
    s.open = open_;
    s.idle = static_cast<int>(idle_.size());
    s.in_use = open_ - s.idle;
    s.connects = connects_;
    s.discarded = discarded_;
  }
  if (breaker_ != nullptr) s.breaker = breaker_->stats();
  return s;
}

}  // namespace internal
}  // namespace lockstep::redis
