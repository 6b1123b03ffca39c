#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "lockstep/base/mutex.h"
#include "lockstep/redis/subscriber.h"
#include "redis/hiredis_conn.h"
#include "lockstep/base/thread_name.h"

namespace lockstep::redis {

using internal::ContextPtr;

// The thread owns the connection; other threads only edit the desired subscriptions
// (under mu_) and poke wake_fd_. Thread-safe.
class Subscriber::Impl {
 public:
  Impl(SubscriberOptions options, int wake_fd) : options_(std::move(options)), wake_fd_(wake_fd) {}

  ~Impl() {
    stopping_.store(true, std::memory_order_release);
    Wake();
    if (thread_.joinable()) thread_.join();
    ::close(wake_fd_);
  }

  void Start() {
    thread_ = std::thread([this] {
      SetCurrentThreadName("redis-sub");
      Run();
    });
  }

  // Adds or removes a channel (or a pattern) in the desired state and wakes the thread.
  Status Change(bool pattern, std::string_view name, bool add) LOCKSTEP_EXCLUDES(mu_) {
    if (name.empty()) return Status::InvalidArgument("redis subscriber: empty channel/pattern");
    {
      MutexLock lock(&mu_);
      std::set<std::string>& set = pattern ? patterns_ : channels_;
      if (add) {
        set.emplace(name);
      } else {
        set.erase(std::string(name));
      }
    }
    Wake();
    return Status::Ok();
  }

  Status WaitSubscribed(const Deadline& deadline) LOCKSTEP_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    while (!AllConfirmedLocked()) {
      if (!changed_.WaitUntil(&mu_, deadline) && !AllConfirmedLocked()) {
        return Status::DeadlineExceeded("redis subscriber: subscriptions not active before the deadline",
                                        connected_ ? "" : " (not connected)");
      }
    }
    return Status::Ok();
  }

  bool connected() const LOCKSTEP_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return connected_;
  }


 private:
  bool AllConfirmedLocked() const LOCKSTEP_REQUIRES(mu_) {
    return connected_ && std::includes(confirmed_channels_.begin(), confirmed_channels_.end(), channels_.begin(),
                                       channels_.end()) &&
           std::includes(confirmed_patterns_.begin(), confirmed_patterns_.end(), patterns_.begin(), patterns_.end());
  }

  void Wake() {
    const uint64_t one = 1;
    // A full eventfd counter (never in practice) already means "wake up".
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  }

  void DrainWake() {
    uint64_t value = 0;
    [[maybe_unused]] ssize_t n = ::read(wake_fd_, &value, sizeof(value));
  }

  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  // Sleeps up to `delay`, returning early when woken (stop or a subscription change).
  void SleepInterruptibly(Clock::duration delay) {
    pollfd pfd{wake_fd_, POLLIN, 0};
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(delay).count();
    if (::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(ms, 0))) > 0) DrainWake();
  }

  void SetState(ConnectionState state) {
    if (options_.on_state) options_.on_state(state);
  }

  void Run() {
    Backoff backoff(options_.reconnect_backoff);
    while (!stopping()) {
      Result<ContextPtr> context = internal::Connect(options_.redis, Deadline::After(options_.redis.connect_timeout));
      if (!context.ok()) {
        SleepInterruptibly(backoff.NextDelay());
        continue;
      }
      backoff.Reset();
      {
        MutexLock lock(&mu_);
        connected_ = true;
        confirmed_channels_.clear();
        confirmed_patterns_.clear();
      }
      SetState(ConnectionState::kConnected);
      Serve(context->get());
      context->reset();
      {
        MutexLock lock(&mu_);
        connected_ = false;
        confirmed_channels_.clear();
        confirmed_patterns_.clear();
      }
      changed_.SignalAll();
      if (stopping()) break;
      SetState(ConnectionState::kDisconnected);
      SleepInterruptibly(backoff.NextDelay());
    }
  }

  // Sends (UN)SUBSCRIBE for the difference between desired and sent state.
  Status Sync(redisContext* context, std::set<std::string>& sent_channels, std::set<std::string>& sent_patterns) {
    std::set<std::string> channels, patterns;
    {
      MutexLock lock(&mu_);
      channels = channels_;
      patterns = patterns_;
    }
    bool wrote = false;
    auto diff = [&](const std::set<std::string>& desired, std::set<std::string>& sent, std::string_view sub,
                    std::string_view unsub) -> Status {
      std::vector<std::string_view> add = {sub}, remove = {unsub};
      for (const auto& n : desired) {
        if (!sent.count(n)) add.push_back(n);
      }
      for (const auto& n : sent) {
        if (!desired.count(n)) remove.push_back(n);
      }
      if (add.size() > 1) LOCKSTEP_RETURN_IF_ERROR(internal::Append(context, add));
      if (remove.size() > 1) LOCKSTEP_RETURN_IF_ERROR(internal::Append(context, remove));
      wrote = wrote || add.size() > 1 || remove.size() > 1;
      sent = desired;
      return Status::Ok();
    };
    LOCKSTEP_RETURN_IF_ERROR(diff(channels, sent_channels, "SUBSCRIBE", "UNSUBSCRIBE"));
    LOCKSTEP_RETURN_IF_ERROR(diff(patterns, sent_patterns, "PSUBSCRIBE", "PUNSUBSCRIBE"));
    return wrote ? Flush(context) : Status::Ok();
  }

  Status Flush(redisContext* context) {
    const Deadline deadline = Deadline::After(options_.redis.connect_timeout);
    LOCKSTEP_RETURN_IF_ERROR(internal::SetTimeout(context, deadline));
    int done = 0;
    while (!done) {
      errno = 0;
      if (redisBufferWrite(context, &done) != REDIS_OK) return internal::ContextError(context, errno, deadline);
    }
    return Status::Ok();
  }

  void Handle(const Reply& reply) {
    if (!reply.is_array() || reply.array().empty()) return;  // "+PONG" outside subscribed mode.
    const auto& a = reply.array();
    const std::string& kind = a[0].str();
    if (kind == "message" && a.size() == 3) {
      options_.on_message(Message{a[1].str(), a[2].str(), ""});
      return;
    }
    if (kind == "pmessage" && a.size() == 4) {
      options_.on_message(Message{a[2].str(), a[3].str(), a[1].str()});
      return;
    }
    if (a.size() < 2) return;
    {
      MutexLock lock(&mu_);
      if (kind == "subscribe") confirmed_channels_.insert(a[1].str());
      if (kind == "unsubscribe") confirmed_channels_.erase(a[1].str());
      if (kind == "psubscribe") confirmed_patterns_.insert(a[1].str());
      if (kind == "punsubscribe") confirmed_patterns_.erase(a[1].str());
    }
    changed_.SignalAll();
  }

  // Runs until the connection fails or stop is requested.
  void Serve(redisContext* context) {
    std::set<std::string> sent_channels, sent_patterns;
    const auto interval = options_.health_check_interval;
    auto last_receive = Clock::Real().Now();
    bool ping_outstanding = false;
    while (!stopping()) {
      if (!Sync(context, sent_channels, sent_patterns).ok()) return;
      int timeout_ms = -1;
      if (interval > std::chrono::milliseconds::zero()) {
        const auto since = Clock::Real().Now() - last_receive;
        const auto wait_for = std::chrono::ceil<std::chrono::milliseconds>(interval - since);
        if (wait_for <= std::chrono::milliseconds::zero()) {
          if (ping_outstanding) return;  // No answer for a whole interval: treat as lost.
          if (!internal::Append(context, {"PING"}).ok() || !Flush(context).ok()) return;
          ping_outstanding = true;
          last_receive = Clock::Real().Now();
          continue;
        }
        timeout_ms = static_cast<int>(wait_for.count());
      }
      pollfd fds[2] = {{internal::ContextFd(context), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      const int ready = ::poll(fds, 2, timeout_ms);
      if (ready < 0 && errno != EINTR) return;
      if (fds[1].revents & POLLIN) DrainWake();
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        if (redisBufferRead(context) != REDIS_OK) return;  // EOF or I/O error.
        last_receive = Clock::Real().Now();
        ping_outstanding = false;
        while (true) {
          void* raw = nullptr;
          if (redisGetReplyFromReader(context, &raw) != REDIS_OK) return;  // Protocol error.
          if (raw == nullptr) break;
          auto* r = static_cast<redisReply*>(raw);
          const Reply reply = internal::ConvertReply(r);
          freeReplyObject(r);
          Handle(reply);
        }
      }
    }
  }

  const SubscriberOptions options_;
  const int wake_fd_;
  // Atomic: read in the thread's loop without the lock; set once by the destructor.
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  mutable Mutex mu_;
  CondVar changed_;  // Signalled on connect/disconnect and on each (un)subscribe confirmation.
  // Desired state, edited by any thread.
  std::set<std::string> channels_ LOCKSTEP_GUARDED_BY(mu_);
  std::set<std::string> patterns_ LOCKSTEP_GUARDED_BY(mu_);
  bool connected_ LOCKSTEP_GUARDED_BY(mu_) = false;
  std::set<std::string> confirmed_channels_ LOCKSTEP_GUARDED_BY(mu_);
  std::set<std::string> confirmed_patterns_ LOCKSTEP_GUARDED_BY(mu_);
};

Result<std::unique_ptr<Subscriber>> Subscriber::Open(SubscriberOptions options) {
  RedisOptions checked = options.redis;
  checked.pool_size = 1;
  LOCKSTEP_RETURN_IF_ERROR(internal::ValidateOptions(checked));
  if (!options.on_message) return Status::InvalidArgument("redis subscriber: on_message is required");
  if (options.health_check_interval < std::chrono::milliseconds::zero()) {
    return Status::InvalidArgument("redis subscriber: negative health_check_interval");
  }
  const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) return Status::Internal("redis subscriber: eventfd failed, errno ", errno);
  auto impl = std::make_unique<Impl>(std::move(options), wake_fd);
  impl->Start();
  return std::unique_ptr<Subscriber>(new Subscriber(std::move(impl)));
}

Subscriber::Subscriber(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Subscriber::~Subscriber() = default;

Status Subscriber::Subscribe(std::string_view channel) { return impl_->Change(false, channel, true); }
Status Subscriber::PSubscribe(std::string_view pattern) { return impl_->Change(true, pattern, true); }
Status Subscriber::Unsubscribe(std::string_view channel) { return impl_->Change(false, channel, false); }
Status Subscriber::PUnsubscribe(std::string_view pattern) { return impl_->Change(true, pattern, false); }
Status Subscriber::WaitSubscribed(const Deadline& deadline) { return impl_->WaitSubscribed(deadline); }
bool Subscriber::connected() const { return impl_->connected(); }

}  // namespace lockstep::redis
